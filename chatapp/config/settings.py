"""App preferences, stored as JSON in the data dir and written atomically."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatapp.atomic import write_text_atomic
from chatapp.config.model_settings import ModelSettings, model_key, spec_for
from chatapp.domain import from_known_fields
from chatapp.engine.backend import ModelSpec

log = logging.getLogger("chatapp.config")


@dataclass
class AppSettings:
    default_model: str | None = None  # None: the built-in SmolLM2
    gpu: str = "auto"  # auto | gpu | cpu
    gpu_layers: int | None = None  # explicit layer count, beats `gpu`
    n_ctx: int = 0  # 0: automatic per model (trained length, free memory, at most 8,192)
    threads: int | None = None  # None: chosen from the CPU count
    theme: str = "system"  # system | light | dark
    font_size: int = 0  # 0: the system's size
    # OpenAI-compatible servers: name, base_url, model, timeout, n_ctx (never the API key:
    # that goes to the system keyring, or is kept for the session only)
    endpoints: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # per model file (resolved path): a ModelSettings dict with only what differs from defaults
    models: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    model_folders: list[str] = dataclasses.field(default_factory=list)  # beside <data>/models
    last_used: dict[str, float] = dataclasses.field(default_factory=dict)  # model key -> time
    # model files that crashed the model process while loading (model key -> why): never
    # loaded automatically at start, marked in the library; loading one by hand clears it
    crashed_models: dict[str, str] = dataclasses.field(default_factory=dict)
    loading_model: str | None = None  # set while a load runs: still set at start = it crashed

    @classmethod
    def load(cls, path: Path) -> AppSettings:
        """A missing or unreadable file gives defaults (and is logged); it is never fatal."""
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            log.warning("settings file %s unreadable, using defaults: %s", path, exc)
            return cls()
        value = from_known_fields(cls, data)
        for name, kind in (
            ("endpoints", list), ("models", dict), ("model_folders", list), ("last_used", dict),
            ("crashed_models", dict),
        ):
            if not isinstance(getattr(value, name), kind):
                setattr(value, name, kind())
        if not isinstance(value.loading_model, str):
            value.loading_model = None
        return value

    def model(self, path: str | Path) -> ModelSettings:
        return ModelSettings.from_dict(self.models.get(model_key(path)))

    def set_model(self, path: str | Path, value: ModelSettings | None) -> None:
        """Save a model's settings; None (or all defaults) resets it to the defaults."""
        key = model_key(path)
        data = value.to_dict() if value is not None else {}
        if data:
            self.models[key] = data
        else:
            self.models.pop(key, None)

    def spec(self, path: str | Path, **overrides: Any) -> ModelSpec:
        """The load request for a model file: command-line `overrides` (non-None ones), then
        the model's own settings, then these app settings."""
        spec = spec_for(
            str(path), self.model(path), app_gpu=self.gpu, app_gpu_layers=self.gpu_layers,
            app_n_ctx=self.n_ctx, app_threads=self.threads,
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "gpu" in given and "gpu_layers" not in given:
            given["gpu_layers"] = None  # --gpu cpu beats a model's layer count
        return dataclasses.replace(spec, **given)

    def crash_reason(self, path: str | Path) -> str | None:
        """Why this file is not loaded automatically (it crashed the loader), or None."""
        return self.crashed_models.get(model_key(path))

    def mark_crashed(self, path: str | Path, reason: str) -> None:
        self.crashed_models[model_key(path)] = reason

    def clear_crash(self, path: str | Path) -> None:
        self.crashed_models.pop(model_key(path), None)

    def touch(self, path: str | Path, when: float) -> None:
        self.last_used[model_key(path)] = when

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(dataclasses.asdict(self), indent=2))
