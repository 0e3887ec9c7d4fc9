"""Settings saved per model file: how to load it and the sampling its threads start from.

They live in settings.json under "models", keyed by the model's resolved path. A
value left at its default follows the app's settings (and those follow the
automatic choices), so "Reset to defaults" is simply removing the entry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatapp.domain import GenerationSettings, from_known_fields
from chatapp.engine.backend import ModelSpec

OFFLOAD_CHOICES = (
    "auto",
    "all",
    "layers",
    "cpu",
)  # "layers": gpu_layers on the GPU, rest on the CPU


@dataclass
class ModelSettings:
    n_ctx: int = 0  # 0: automatic (trained length, what fits in memory, at most 8,192)
    offload: str = ""  # "": the app's GPU setting; else one of OFFLOAD_CHOICES
    gpu_layers: int = 0  # with offload "layers"
    n_threads: int = 0  # 0: the app's setting (automatic unless set there)
    n_batch: int = 512
    flash_attn: bool = False
    chat_template: str = ""  # "": the GGUF's own; a name from engine.templates.NAMED; or Jinja text
    rpc_servers: str = ""  # "host:port,host:port": llama.cpp RPC helpers (a build with RPC)
    sampling: dict[str, Any] | None = None  # defaults for threads whose sampling was never changed

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ModelSettings:
        value = from_known_fields(cls, data)
        if value.offload and value.offload not in OFFLOAD_CHOICES:
            value.offload = ""
        return value

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from the defaults, so the file stays readable."""
        default = ModelSettings()
        return {k: v for k, v in dataclasses.asdict(self).items() if v != getattr(default, k)}

    def generation(self) -> GenerationSettings | None:
        return GenerationSettings.from_dict(self.sampling) if self.sampling else None


def model_key(path: str | Path) -> str:
    """How settings name a model file: its resolved path (a server keeps its server:<URL>)."""
    text = str(path)
    if text.startswith("server:"):
        return text
    try:
        return str(Path(text).expanduser().resolve())
    except OSError:
        return text


def spec_for(
    path: str,
    model: ModelSettings,
    *,
    app_gpu: str = "auto",
    app_gpu_layers: int | None = None,
    app_n_ctx: int = 0,
    app_threads: int | None = None,
) -> ModelSpec:
    """The load request for a model file: its own settings first, then the app's."""
    from chatapp.engine.templates import resolve_template

    gpu, layers = app_gpu, app_gpu_layers
    if model.offload == "cpu":
        gpu, layers = "cpu", None
    elif model.offload == "all":
        gpu, layers = "gpu", None
    elif model.offload == "layers":
        gpu, layers = "auto", max(0, model.gpu_layers)
    elif model.offload == "auto":
        gpu, layers = "auto", None
    return ModelSpec(
        path=path,
        n_ctx=model.n_ctx or app_n_ctx,
        gpu=gpu,
        gpu_layers=layers,
        n_threads=model.n_threads or app_threads,
        n_batch=model.n_batch or 512,
        chat_template=resolve_template(model.chat_template),
        flash_attn=model.flash_attn,
        rpc_servers=model.rpc_servers.strip() or None,
    )
