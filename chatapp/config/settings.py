"""App preferences, stored as JSON in the data dir and written atomically.

Settings are typed: each key read from the file is checked against its field's
type (and range or choices), and one that does not fit falls back to its
default on its own, with a notice, instead of surfacing later as "'>' not
supported between 'str' and 'int'" when a model loads. A file that is not
JSON is kept aside as `settings.json.broken-<date>` (it was once overwritten
with defaults at exit) and the app starts with defaults, saying so.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatapp.atomic import write_text_atomic
from chatapp.config.model_settings import ModelSettings, model_key, spec_for
from chatapp.engine.backend import GPU_POLICIES, ModelSpec
from chatapp.timestamps import is_time

log = logging.getLogger("chatapp.config")

# readable font sizes in points; 0 (the system's size) is the only other value font_size takes.
# The settings file, the window and the settings dialog all use this one range.
FONT_SIZES = (9, 24)

# beyond the type: the values a key may take
_CHOICES: dict[str, tuple[str, ...]] = {"gpu": tuple(GPU_POLICIES)}
_RANGES: dict[str, tuple[int, int]] = {
    "n_ctx": (0, 10_000_000),
    "gpu_layers": (0, 100_000),
    "threads": (1, 4096),
    "font_size": (0, FONT_SIZES[1]),  # and not 1 to 8: see _key_fits
    "n_threads": (0, 4096),
    "n_batch": (1, 1_000_000),
}


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
        return cls.load_with_notices(path)[0]

    @classmethod
    def load_with_notices(cls, path: Path) -> tuple[AppSettings, list[str]]:
        """The settings and what the person should be told about the file (one line each)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(), []
        except OSError as exc:
            log.warning("settings file %s unreadable, using defaults: %s", path, exc)
            reason = exc.strerror or str(exc)
            return cls(), [
                f"The settings file {path} cannot be read ({reason}); chatapp starts with defaults."
            ]
        except ValueError:  # not UTF-8
            return cls(), [_broken(path, "is not UTF-8 text")]
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return cls(), [_broken(path, "is not valid JSON")]
        if not isinstance(data, dict):
            return cls(), [_broken(path, "does not hold settings (a JSON object)")]
        value, bad = _typed(cls, data)
        value.models, dropped = _clean_models(value.models)
        bad += dropped
        if not bad:
            return value, []
        log.warning("settings file %s: unusable values %s", path, bad)
        kept = _keep_aside(path, copy=True)
        if kept is not None:
            # the file as it was is safe: the cleaned settings replace it, so the next start
            # neither warns again nor makes another copy
            try:
                value.save(path)
            except OSError as exc:
                log.warning("settings file %s could not be cleaned: %s", path, exc)
        return value, [
            f"Some settings in {path.name} were not usable and are back to their defaults: "
            f"{'; '.join(bad)}." + (f" The file as it was is kept as {kept.name}." if kept else "")
        ]

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
            str(path),
            self.model(path),
            app_gpu=self.gpu,
            app_gpu_layers=self.gpu_layers,
            app_n_ctx=self.n_ctx,
            app_threads=self.threads,
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


def _keep_aside(path: Path, *, copy: bool = False) -> Path | None:
    """`settings.json.broken-<date>` beside it (moved, or copied when the file stays)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.broken-{stamp}-{n}")
    try:
        if copy:
            shutil.copyfile(path, aside)
        else:
            os.replace(path, aside)
    except OSError as exc:
        log.warning("settings file %s could not be kept aside: %s", path, exc)
        return None
    return aside


def _broken(path: Path, what: str) -> str:
    log.warning("settings file %s %s", path, what)
    aside = _keep_aside(path)
    where = f"it is kept as {aside.name}" if aside else "it could not be kept aside"
    return f"The settings file {path} {what}: {where}, and chatapp starts with default settings."


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the declared type (bool is not a number; an int is a float)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_fits(v, item) for v in value)
    if origin is dict:
        key, item = typing.get_args(hint) or (Any, Any)
        return isinstance(value, dict) and all(
            _fits(k, key) and _fits(v, item) for k, v in value.items()
        )
    return isinstance(value, hint) if isinstance(hint, type) else True


def _key_fits(name: str, value: Any, hint: Any) -> bool:
    if not _fits(value, hint):
        return False
    if isinstance(value, str) and name in _CHOICES:
        return value in _CHOICES[name]
    if isinstance(value, int) and not isinstance(value, bool) and name in _RANGES:
        low, high = _RANGES[name]
        if name == "font_size" and 0 < value < FONT_SIZES[0]:
            return False
        return low <= value <= high
    return True


def _shown(name: str, value: Any) -> str:
    return f"{name} ({json.dumps(value, ensure_ascii=False, default=str)[:40]})"


def _typed(cls: type, data: dict[str, Any]) -> tuple[Any, list[str]]:
    """`cls` from the keys of `data` that fit their field; the others keep their default and
    are listed as 'key ("value")'. In a list or a dict, only the entries that do not fit go."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    bad: list[str] = []
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, hint = data[f.name], hints[f.name]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is list and isinstance(value, list) and args:
            kept: Any = [v for v in value if _fits(v, args[0])]
        elif origin is dict and isinstance(value, dict) and args:
            kept = {k: v for k, v in value.items() if _fits(k, args[0]) and _fits(v, args[1])}
            if f.name == "last_used":  # times, shown as dates in the model library
                kept = {k: v for k, v in kept.items() if is_time(v)}
        elif _key_fits(f.name, value, hint):
            kwargs[f.name] = value
            continue
        else:
            bad.append(_shown(f.name, value))
            continue
        if len(kept) != len(value):
            bad.append(f"{f.name} ({len(value) - len(kept)} unusable entries)")
        kwargs[f.name] = kept
    return cls(**kwargs), bad


def _clean_models(value: dict[str, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each model's settings typed like the app's: a key that does not fit is dropped (its
    default applies); unknown keys are kept (a newer chatapp may have written them)."""
    hints = typing.get_type_hints(ModelSettings)
    bad: list[str] = []
    cleaned: dict[str, dict[str, Any]] = {}
    for model, entry in value.items():
        cleaned[model] = {}
        for key, item in entry.items():
            if key in hints and not _key_fits(key, item, hints[key]):
                bad.append(_shown(f"{Path(model).name}: {key}", item))
            else:
                cleaned[model][key] = item
    return cleaned, bad
