"""A scripted backend for tests of everything around the model (GUI, worker, store)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import ModelInfo, ModelSpec, ReplyResult, TextCallback
from chatapp.engine.gguf_file import check_model_file
from chatapp.errors import GenerationError


class FakeBackend:
    """Replies with queued texts, word by word: `enqueue(["Hello there"])`.

    Tokens are whitespace-separated words; `delay` is the pause per word, so a
    test can stop a reply mid-way. A queued Exception is raised instead of replying.
    """

    def __init__(self, delay: float = 0.0, n_ctx: int = 4096, check_files: bool = False) -> None:
        self.info: ModelInfo | None = None
        self.delay = delay
        self.n_ctx = n_ctx
        self.check_files = check_files
        self.replies: deque[str | Exception] = deque()
        self.prompts: list[list[ChatMessage]] = []
        self.sampling: list[GenerationSettings] = []  # the settings of each reply
        self.load_error: Exception | None = None
        self.fallback_reason: str | None = None  # reported as if a GPU load had failed
        self.loads = 0
        self.unloads = 0

    def enqueue(self, replies: Sequence[str | Exception]) -> None:
        self.replies.extend(replies)

    def load(self, spec: ModelSpec) -> ModelInfo:
        if self.check_files:
            check_model_file(spec.path)
        if self.load_error is not None:
            error, self.load_error = self.load_error, None
            raise error
        self.loads += 1
        self.info = ModelInfo(
            path=spec.path,
            name=Path(spec.path).stem or "fake",
            n_ctx=self.n_ctx,
            n_ctx_train=self.n_ctx,
            device="CPU, 1 threads",
            on_gpu=False,
            gpu_layers=0,
            total_layers=1,
            n_threads=1,
            load_seconds=0.0,
            fallback_reason=self.fallback_reason,
        )
        return self.info

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages) + 3

    def generate(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event,
        on_text: TextCallback,
    ) -> ReplyResult:
        if self.info is None:
            raise GenerationError("No model is loaded.")
        self.prompts.append(list(messages))
        self.sampling.append(settings)
        started = time.perf_counter()
        reply = self.replies.popleft() if self.replies else "OK"
        if isinstance(reply, Exception):
            raise reply
        words = reply.split(" ")
        sent: list[str] = []
        first = None
        for i, word in enumerate(words[: settings.max_tokens or None]):
            if cancel.is_set():
                break
            if self.delay:
                time.sleep(self.delay)
            piece = word if i == 0 else " " + word
            sent.append(piece)
            on_text(piece)
            first = first or time.perf_counter()
        end = time.perf_counter()
        return ReplyResult(
            text="".join(sent),
            finish_reason="cancelled" if cancel.is_set() else "stop",
            prompt_tokens=self.count_tokens(messages),
            completion_tokens=len(sent),
            seconds=end - started,
            time_to_first_token=(first or end) - started,
            tokens_per_second=len(sent) / (end - started) if end > started else 0.0,
        )

    def unload(self) -> None:
        if self.info is not None:
            self.unloads += 1
        self.info = None
