"""App preferences, stored as JSON in the data dir and written atomically."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatapp.atomic import write_text_atomic

log = logging.getLogger("chatapp.config")


@dataclass
class AppSettings:
    default_model: str | None = None  # None: the built-in SmolLM2
    gpu: str = "auto"  # auto | gpu | cpu
    gpu_layers: int | None = None  # explicit layer count, beats `gpu`
    n_ctx: int = 4096
    threads: int | None = None  # None: chosen from the CPU count
    theme: str = "system"  # system | light | dark
    font_size: int = 0  # 0: the system's size
    # OpenAI-compatible servers: name, base_url, model, timeout, n_ctx (never the API key:
    # that goes to the system keyring, or is kept for the session only)
    endpoints: list[dict[str, Any]] = dataclasses.field(default_factory=list)

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
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return cls()

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps(dataclasses.asdict(self), indent=2))
