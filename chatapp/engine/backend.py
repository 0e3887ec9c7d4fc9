"""The protocol every model backend speaks, and the plain data it exchanges."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from chatapp.domain import ChatMessage, GenerationSettings

GPU_POLICIES = ("auto", "gpu", "cpu")


@dataclass(frozen=True)
class ModelSpec:
    """What to load and how."""

    path: str
    n_ctx: int = 4096  # 0: automatic (see engine.memory_estimate.auto_context)
    gpu: str = "auto"  # auto | gpu | cpu
    gpu_layers: int | None = None  # an explicit layer count beats `gpu`
    n_threads: int | None = None
    n_batch: int = 512
    chat_template: str | None = None  # overrides the GGUF's own template
    flash_attn: bool = False
    rpc_servers: str | None = None  # "host:port,...": llama.cpp RPC helpers that take layers too
    check_memory: bool = (
        True  # refuse a model that would not fit the free memory (the user may override)
    )
    endpoint: Any = None  # an engine.remote.Endpoint: the model runs on that server instead

    @property
    def name(self) -> str:
        return self.endpoint.name if self.endpoint is not None else Path(self.path).name


@dataclass(frozen=True)
class ModelInfo:
    """What was loaded and where it runs."""

    path: str
    name: str
    n_ctx: int
    n_ctx_train: int
    device: str  # e.g. "CUDA0 (NVIDIA H200), 31/31 layers" or "CPU, 2 threads"
    on_gpu: bool
    gpu_layers: int
    total_layers: int
    n_threads: int
    load_seconds: float
    fallback_reason: str | None = None  # why the GPU was not used although asked for
    template_notice: str | None = None  # set when the model has no usable chat template
    n_params: int = 0  # the model's parameter count; 0 when not known (a server)


@dataclass(frozen=True)
class ReplyResult:
    text: str
    finish_reason: str  # stop | length | cancelled
    prompt_tokens: int
    completion_tokens: int
    seconds: float  # from the request to the last token
    time_to_first_token: float
    tokens_per_second: float  # generation speed after the first token
    error: str | None = None  # set with finish_reason "interrupted": why the reply broke off

    @property
    def cancelled(self) -> bool:
        return self.finish_reason in ("cancelled", "interrupted")


TextCallback = Callable[[str], None]
# (tokens read, prompt tokens) while the model reads a prompt longer than one batch
ProgressCallback = Callable[[int, int], None]


class Backend(Protocol):
    """A loaded model that can stream replies. Used from one thread only."""

    info: ModelInfo | None

    def load(self, spec: ModelSpec) -> ModelInfo: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the prompt these messages render to (with the reply's opening)."""
        ...

    def generate(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event,
        on_text: TextCallback,
    ) -> ReplyResult: ...

    def unload(self) -> None: ...
