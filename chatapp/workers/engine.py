"""The engine thread: one long-lived QThread owns the model (created, used, closed there).

Requests go in as queued signals carrying plain dataclasses; text comes back
batched (every ~40 ms) so the GUI repaints at a steady rate, not once per token.
Cancelling is a threading.Event set from the GUI thread and checked between
tokens, because a queued slot would not run while the worker generates.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QThread, Signal, Slot

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.engine.backend import Backend, ModelInfo, ModelSpec, ReplyResult
from chatapp.errors import UserFacingError
from chatapp.memory.context import fit_recent, reply_room

log = logging.getLogger("chatapp.workers")

BATCH_SECONDS = 0.04
_ids = itertools.count(1)


@dataclass(frozen=True)
class ReplyRequest:
    """A reply to produce. `history` ends with the message being answered."""

    system: ChatMessage | None
    history: list[ChatMessage]
    settings: GenerationSettings
    id: int = field(default_factory=lambda: next(_ids))
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class ReplyStarted:
    request_id: int
    prompt_tokens: int
    n_ctx: int
    dropped_messages: int


class EngineWorker(QObject):
    """Lives on the engine thread.

    Signals:
        loaded(ModelInfo), load_failed(str), unloaded()
        started(ReplyStarted): the context was built and generation begins
        text(int, str): request id and a batch of new text
        finished(int, ReplyResult), failed(int, str)
    """

    loaded = Signal(object)
    load_failed = Signal(str)
    unloaded = Signal()
    started = Signal(object)
    text = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, backend_factory: Callable[[], Backend]) -> None:
        super().__init__()
        self._factory = backend_factory
        self._backend: Backend | None = None

    @Slot(object)
    def load(self, spec: ModelSpec) -> None:
        if self._backend is None:
            self._backend = self._factory()
        previous = self._backend.info
        try:
            info = self._backend.load(spec)
        except UserFacingError as exc:
            log.warning("load failed: %s", exc)
            self.load_failed.emit(str(exc))
            return
        except Exception as exc:  # llama.cpp raises many kinds; none may kill the thread
            log.exception("unexpected load failure")
            self.load_failed.emit(f"{spec.name} could not be loaded.\n{exc}")
            return
        if previous is not None:
            log.info("replaced %s with %s", previous.name, info.name)
        self.loaded.emit(info)

    @Slot(object)
    def generate(self, request: ReplyRequest) -> None:
        backend = self._backend
        if backend is None or backend.info is None:
            self.failed.emit(request.id, "No model is loaded. Choose one with Model > Load model…")
            return
        info: ModelInfo = backend.info
        batch: list[str] = []
        last_emit = time.monotonic()

        def on_text(piece: str) -> None:
            nonlocal last_emit
            batch.append(piece)
            now = time.monotonic()
            if now - last_emit >= BATCH_SECONDS:
                self.text.emit(request.id, "".join(batch))
                batch.clear()
                last_emit = now

        try:
            if request.cancel.is_set():
                raise _Cancelled
            budget = info.n_ctx - reply_room(info.n_ctx, request.settings.max_tokens)
            fitted = fit_recent(request.system, request.history, backend.count_tokens, budget)
            self.started.emit(
                ReplyStarted(request.id, fitted.prompt_tokens, info.n_ctx, fitted.dropped)
            )
            result = backend.generate(fitted.messages, request.settings, request.cancel, on_text)
        except _Cancelled:
            self.finished.emit(request.id, ReplyResult("", "cancelled", 0, 0, 0.0, 0.0, 0.0))
            return
        except UserFacingError as exc:
            self._flush(request.id, batch)
            self.failed.emit(request.id, str(exc))
            return
        except Exception as exc:
            log.exception("reply failed")
            self._flush(request.id, batch)
            self.failed.emit(request.id, f"The reply failed: {exc}")
            return
        self._flush(request.id, batch)
        self.finished.emit(request.id, result)

    def _flush(self, request_id: int, batch: list[str]) -> None:
        if batch:
            self.text.emit(request_id, "".join(batch))
            batch.clear()

    @Slot()
    def unload(self) -> None:
        if self._backend is not None:
            self._backend.unload()
        self.unloaded.emit()

    @Slot()
    def shutdown(self) -> None:
        """Close the model here, on its own thread, then end the thread's event loop."""
        try:
            if self._backend is not None:
                self._backend.unload()
                self._backend = None
        finally:
            QThread.currentThread().quit()


class _Cancelled(Exception):
    pass


class EngineController(QObject):
    """The GUI thread's handle on the engine thread.

    Signals (all delivered on the GUI thread): the worker's, re-emitted.
    """

    loaded = Signal(object)
    load_failed = Signal(str)
    unloaded = Signal()
    started = Signal(object)
    text = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, str)

    _load = Signal(object)
    _generate = Signal(object)
    _unload = Signal()
    _shutdown = Signal()

    def __init__(self, backend_factory: Callable[[], Backend], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("chatapp-engine")
        self._worker = EngineWorker(backend_factory)
        self._worker.moveToThread(self._thread)
        self._load.connect(self._worker.load)
        self._generate.connect(self._worker.generate)
        self._unload.connect(self._worker.unload)
        self._shutdown.connect(self._worker.shutdown)
        for name in ("loaded", "load_failed", "unloaded", "started", "text"):
            getattr(self._worker, name).connect(getattr(self, name))
        # the request is over before anyone hears of it, so a listener may start the next
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._current: ReplyRequest | None = None
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def current_request(self) -> ReplyRequest | None:
        return self._current

    def load(self, spec: ModelSpec) -> None:
        self._load.emit(spec)

    def unload(self) -> None:
        self._unload.emit()

    def reply(self, request: ReplyRequest) -> bool:
        """Queue a reply; False (and nothing queued) while another reply is being written."""
        if self._current is not None:
            return False
        self._current = request
        self._generate.emit(request)
        return True

    def cancel(self) -> None:
        """Stop the reply being written; harmless when there is none or it was already stopped."""
        if self._current is not None:
            self._current.cancel.set()

    @Slot(int, object)
    def _on_finished(self, request_id: int, result: ReplyResult) -> None:
        self._request_done(request_id)
        self.finished.emit(request_id, result)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self._request_done(request_id)
        self.failed.emit(request_id, message)

    def _request_done(self, request_id: int) -> None:
        if self._current is not None and self._current.id == request_id:
            self._current = None

    def shutdown(self, timeout_ms: int = 15000) -> bool:
        """Stop any reply, close the model on its thread and end the thread; True if it ended."""
        if not self._thread.isRunning():
            return True
        self.cancel()
        self._shutdown.emit()
        ended = self._thread.wait(timeout_ms)
        if not ended:
            log.error("engine thread did not end within %d ms", timeout_ms)
        return ended
