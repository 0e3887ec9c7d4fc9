"""The engine thread: one long-lived QThread owns the model (created, used, closed there).

Requests go in as queued signals carrying plain dataclasses; text comes back
batched (every ~40 ms) so the GUI repaints at a steady rate, not once per token.
Cancelling is a threading.Event set from the GUI thread and checked between
tokens, because a queued slot would not run while the worker generates.

With the app's backend (engine.model_process) the model itself lives in a child
process: when it dies, the reply keeps its text and is marked stopped with the
reason, and the model is loaded again in a fresh child.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from chatapp.domain import ChatMessage, GenerationSettings, Message
from chatapp.engine.backend import Backend, ModelInfo, ModelSpec, ReplyResult
from chatapp.engine.model_process import ModelLoadInterrupted, ModelProcessCrashed, ModelProcessDied
from chatapp.engine.remote import ReplyInterrupted
from chatapp.errors import GenerationError, ModelTooLarge, UserFacingError
from chatapp.memory.builder import BuiltContext, ContextBuilder, params_for
from chatapp.memory.context import MIN_REPLY_ROOM, fit_recent, reply_room
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables

log = logging.getLogger("chatapp.workers")

BATCH_SECONDS = 0.04
_ids = itertools.count(1)


def import_memory_code() -> None:
    """Import what the first context build and the first summary use, while the model loads.

    torch (the slot bank) is imported lazily so the window opens fast, but its C++ start-up
    holds the GIL for a few hundred milliseconds: done at the first reply, that froze the
    window just as the reply started. Here the user is already waiting for the model.
    """
    started = time.perf_counter()
    try:
        import torch  # noqa: F401

        from chatapp.memory import extraction, summaries  # noqa: F401
    except ImportError as exc:  # the builder says so itself when it needs it
        log.warning("memory code not imported ahead: %s", exc)
        return
    log.debug("memory code imported in %.0f ms", (time.perf_counter() - started) * 1000)


@dataclass(frozen=True)
class ReplyRequest:
    """A reply to produce.

    A conversation's reply names `thread_id` and `message` (the stored user message being
    answered): its context is always built by the memory's context builder from the store.
    A bare prompt (benchmarks of the model, engine tests) names no thread: `history`, ending
    with the message being answered, is fitted as it is.
    """

    system: ChatMessage | None
    history: list[ChatMessage]
    settings: GenerationSettings
    thread_id: int | None = None
    message: Message | None = None
    memory: bool = True
    id: int = field(default_factory=lambda: next(_ids))
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


@dataclass(frozen=True)
class ReplyStarted:
    request_id: int
    prompt_tokens: int
    n_ctx: int
    context: BuiltContext | None = None


@dataclass(frozen=True)
class SummaryRequest:
    thread_id: int
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


def _too_long(backend: Backend, info: ModelInfo, text: str, fixed: int) -> GenerationError:
    """The message (with the system prompt) alone outgrows the context: say which one, in
    tokens, and what to do, rather than blaming the conversation or the system prompt."""
    mine = backend.count_tokens([ChatMessage("user", text)])
    system = fixed - mine
    with_system = f" (the system prompt adds {system} more)" if system > 0 else ""
    return GenerationError(
        f"Your message is too long for this model: it is {mine} tokens{with_system}, and the "
        f"model's context holds {info.n_ctx} tokens, at least {MIN_REPLY_ROOM} of them kept "
        "for the reply.",
        detail="Your message is kept in the thread: shorten or split it with Edit and resend "
        "(right-click it), or raise the context size in Model settings.",
    )


DEATHS_IN_A_ROW = 3  # model process deaths within DEATHS_WINDOW_S before it is given up
DEATHS_WINDOW_S = 60.0


class EngineWorker(QObject):
    """Lives on the engine thread.

    Signals:
        loaded(ModelInfo), load_failed(str), unloaded(),
        too_large(ModelSpec, str): refused for lack of memory; the previous model stays
        started(ReplyStarted): the context was built and generation begins
        text(int, str): request id and a batch of new text
        finished(int, ReplyResult), failed(int, str)
        load_crashed(str, str, str): the model process died loading this file (the
            message, path, reason); EngineController re-emits it as load_failed(message)
            then load_crashed(path, reason), both within one event on the GUI thread
        restarting(str): the model process died (replying, or idle: see revive); the named
            model is being loaded again
        reading(int, int, int): request id, prompt tokens read so far and in all, after each
            batch while the model reads a prompt longer than one batch
    """

    loaded = Signal(object)
    load_failed = Signal(str)
    too_large = Signal(object, str)
    unloaded = Signal()
    started = Signal(object)
    text = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, str)
    summarized = Signal(int, int)  # thread id, summaries and facts made
    load_crashed = Signal(str, str, str)
    restarting = Signal(str)
    reading = Signal(int, int, int)
    watched = Signal()  # a look at the model process (revive) is done

    def __init__(
        self,
        backend_factory: Callable[[], Backend],
        store: Store | None = None,
        embed: Callable[[str], np.ndarray | None] | None = None,
    ) -> None:
        super().__init__()
        self._factory = backend_factory
        self._backend: Backend | None = None
        self._store = store
        self._embed = embed
        self._builder: ContextBuilder | None = None
        self._builder_model: tuple[str, bool] | None = None
        self._spec: ModelSpec | None = None  # what is loaded, to go back to after a failed load
        self._deaths: list[float] = []  # when the model process last died (monotonic)
        self._quitting = False

    def interrupt(self) -> None:
        """Called from the GUI thread when the app quits: a load in progress is abandoned at
        once (its child process is ended) instead of delaying the quit."""
        self._quitting = True
        stop = getattr(self._backend, "interrupt", None)
        if stop is not None:
            stop()

    @Slot(object)
    def load(self, spec: ModelSpec) -> None:
        from chatapp.engine.remote import RemoteBackend

        if self._quitting:
            return
        wanted_remote = spec.endpoint is not None
        if self._backend is not None and isinstance(self._backend, RemoteBackend) != wanted_remote:
            self._backend.unload()  # a local model and a server are not kept at once
            self._backend = None
            self._builder = None
        if self._backend is None:
            self._backend = RemoteBackend() if wanted_remote else self._factory()
        previous = self._backend.info
        try:
            info = self._backend.load(spec)
        except ModelTooLarge as exc:  # refused before anything was unloaded
            self.too_large.emit(spec, str(exc))
            return
        except ModelLoadInterrupted:
            log.info("loading %s abandoned: the app is quitting", spec.name)
            return
        except ModelProcessCrashed as exc:
            # one signal, not load_failed then load_crashed: two crossing to the GUI thread
            # could be handled with other events between them (a listener that acts on
            # "load failed and nothing else is loading" would act before the built-in
            # model's load was asked for)
            self.load_crashed.emit(str(exc), exc.path, exc.reason)
            self._restore_previous()
            return
        except Exception as exc:  # llama.cpp raises many kinds; none may kill the thread
            if not isinstance(exc, UserFacingError):
                log.exception("unexpected load failure")
            message = (
                str(exc)
                if isinstance(exc, UserFacingError)
                else f"{spec.name} could not be loaded.\n{exc}"
            )
            self.load_failed.emit(message)
            self._restore_previous()
            return
        self._spec = spec
        if previous is not None:
            log.info("replaced %s with %s", previous.name, info.name)
        if self._store is not None:
            import_memory_code()
        self.loaded.emit(info)

    @Slot()
    def revive(self) -> bool:
        """A model process that died while idle is replaced now (said with `restarting`), so
        that the next reply is answered instead of failing; False when none had died."""
        died = getattr(self._backend, "died", None)
        if died is None or self._quitting or not died():
            self.watched.emit()
            return False
        reason = self._backend.forget_dead()  # type: ignore[union-attr]
        log.warning("the model process ended while idle (%s); loading the model again", reason)
        self._load_again(reason)
        self.watched.emit()
        return True

    def _load_again(self, reason: str) -> None:
        """The same model in a fresh child after its process died; said as unloaded when that
        fails, or when it died DEATHS_IN_A_ROW times within DEATHS_WINDOW_S (a model the
        system kills after every load, e.g. for memory, is not loaded again forever)."""
        if self._spec is None:
            self.unloaded.emit()
            return
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < DEATHS_WINDOW_S] + [now]
        if len(self._deaths) >= DEATHS_IN_A_ROW:
            spec, self._spec = self._spec, None
            self._deaths.clear()
            self.load_failed.emit(
                f"The model process of {spec.name} ended {DEATHS_IN_A_ROW} times within "
                f"{DEATHS_WINDOW_S:.0f} s ({reason}); it is not loaded again. Load it (or another "
                "model) when the cause is gone: the log has llama.cpp's last lines."
            )
            self.unloaded.emit()
            return
        self.restarting.emit(self._spec.name)
        self.load(self._spec)
        if self._backend is None or self._backend.info is None:
            self.unloaded.emit()  # the window must not go on as if a model were there

    @Slot(object)
    def generate(self, request: ReplyRequest) -> None:
        self.revive()  # the watch may not have seen it yet: at the latest, on send
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
            if request.thread_id is not None:
                messages, started = self._build(backend, info, request, budget)
            else:
                fitted = fit_recent(request.system, request.history, backend.count_tokens, budget)
                messages = fitted.messages
                started = ReplyStarted(request.id, fitted.prompt_tokens, info.n_ctx)
            self.started.emit(started)
            if getattr(backend, "reports_reading", False):
                result = backend.generate(
                    messages,
                    request.settings,
                    request.cancel,
                    on_text,
                    on_progress=lambda done, total: self.reading.emit(request.id, done, total),
                )
            else:
                result = backend.generate(messages, request.settings, request.cancel, on_text)
        except _Cancelled:
            self.finished.emit(request.id, ReplyResult("", "cancelled", 0, 0, 0.0, 0.0, 0.0))
            return
        except ReplyInterrupted as exc:
            self._flush(request.id, batch)
            self.finished.emit(
                request.id, ReplyResult("", "interrupted", 0, 0, 0.0, 0.0, 0.0, str(exc))
            )
            return
        except ModelProcessDied as exc:
            self._flush(request.id, batch)
            stopped = request.cancel.is_set()  # the user's stop, not honoured in time
            self.finished.emit(
                request.id,
                ReplyResult(
                    exc.partial_text,
                    "cancelled" if stopped else "interrupted",
                    0,
                    0,
                    0.0,
                    0.0,
                    0.0,
                    None if stopped else str(exc),
                ),
            )
            self._reload_after_death(exc)
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

    def _reload_after_death(self, exc: ModelProcessDied) -> None:
        """The model process died or was ended: the same model again, in a fresh child (not
        when the app is quitting: it ended the child itself)."""
        if self._spec is None or self._quitting:
            return
        log.warning("model process ended (%s); loading the model again", exc.reason)
        self._load_again(exc.reason)

    def _restore_previous(self) -> None:
        """A failed load may have freed the model that ran before: load it again."""
        if self._spec is None or (self._backend is not None and self._backend.info is not None):
            return
        spec, self._spec = self._spec, None
        log.info("reloading %s after a failed load", spec.name)
        self.load(spec)

    def _build(
        self, backend: Backend, info: ModelInfo, request: ReplyRequest, budget: int
    ) -> tuple[list[ChatMessage], ReplyStarted]:
        """The memory's context, shrunk until the exact prompt fits the budget."""
        if self._store is None or request.message is None:
            # a caller's mistake, said rather than answered from a context made some other way
            raise UserFacingError(
                "The reply could not be prepared: the engine was given no conversation store."
                if self._store is None
                else "The reply could not be prepared: no message to answer was given."
            )
        if self._builder is None or self._builder_model != (info.path, info.on_gpu):
            count_text = getattr(backend, "count_text_tokens", None) or (
                lambda t: backend.count_tokens([ChatMessage("user", t)])
            )
            self._builder = ContextBuilder(
                self._store, count_text, self._embed_or_none, params=params_for(info.on_gpu)
            )
            self._builder_model = (info.path, info.on_gpu)  # token counts belong to one tokenizer
        system = request.system.content if request.system else ""
        fixed = backend.count_tokens(
            ([ChatMessage("system", system)] if system else [])
            + [ChatMessage("user", request.message.content)]
        )
        # a message that eats into the reply's room is still answered (the reply gets what is
        # left, as llama.cpp allows); one that leaves no room for any reply is refused
        if fixed > info.n_ctx - MIN_REPLY_ROOM:
            raise _too_long(backend, info, request.message.content, fixed)
        memory_budget = max(0, budget - fixed - 64)  # 64: the date line and section headings
        for _ in range(4):
            built = self._builder.build(
                request.thread_id, system, request.message, memory_budget, memory=request.memory
            )
            tokens = backend.count_tokens(built.messages)
            if tokens <= budget or memory_budget == 0:
                break
            memory_budget = max(0, memory_budget - (tokens - budget) - 16)
        used = [i for p in built.parts if p.kind == "slots" for i in p.slot_ids]
        if used:
            import time as _time

            from chatapp.memory.slots import reinforce_read

            reinforce_read(self._builder.tables, used, _time.time(), self._builder.gates)
        return built.messages, ReplyStarted(request.id, tokens, info.n_ctx, built)

    def _embed_or_none(self, text: str) -> np.ndarray | None:
        return self._embed(text) if self._embed is not None else None

    @Slot(object)
    def use_store(self, store: Store) -> None:
        """Contexts and summaries read `store` from now on (token counts cached for another
        store's messages would be wrong: the builder is made anew)."""
        if store is self._store:
            return
        first = self._store is None
        self._store = store
        self._builder = None
        self._builder_model = None
        if first and self._backend is not None and self._backend.info is not None:
            import_memory_code()

    @Slot(object)
    def summarize(self, request: SummaryRequest) -> None:
        """Memory work with the loaded model after a reply, stopped when cancelled: a model
        big enough reads the newest user messages for facts, then the thread's pending
        summaries are made."""
        self.revive()
        backend = self._backend
        if backend is None or backend.info is None or self._store is None:
            return

        def generate(
            messages: list[ChatMessage], settings: GenerationSettings, cancel: threading.Event
        ) -> str:
            return backend.generate(messages, settings, cancel, lambda _t: None).text

        from chatapp.memory import extraction, summaries

        store, info = self._store, backend.info
        made = 0
        try:
            service = (
                self._fact_writer()
                if extraction.worth_asking(info.n_params)
                and MemoryTables(store).unread_user_messages(request.thread_id, 1)
                else None
            )
            job = summaries.next_job(store, request.thread_id)
            if (service is not None or job is not None) and not request.cancel.is_set():
                # saving the KV cache costs a copy of it: only when there is work to do
                keep = getattr(backend, "keeping_cache", None)
                with keep() if keep is not None else contextlib.nullcontext():
                    if service is not None:
                        made += extraction.read_new_messages(
                            store,
                            request.thread_id,
                            generate,
                            service.write_facts,
                            request.cancel,
                            info.name,
                        )
                    job = summaries.next_job(store, request.thread_id)
                    while job is not None and not request.cancel.is_set():
                        if (
                            summaries.run_job(store, job, generate, request.cancel, info.name)
                            is None
                        ):
                            break
                        made += 1
                        job = summaries.next_job(store, request.thread_id)
        except ModelProcessDied as exc:
            self._reload_after_death(exc)
        except UserFacingError as exc:
            log.warning("memory work failed: %s", exc)
        except Exception:
            log.exception("memory work failed")
        self.summarized.emit(request.thread_id, made)

    def _fact_writer(self) -> MemoryService | None:
        """Writes facts into the slots with the app's sentence embedder; None until it is loaded."""
        embed = self._embed
        if embed is None or self._store is None or embed("probe") is None:
            return None

        def encode(texts: list[str]) -> np.ndarray:
            return np.stack([embed(t) for t in texts])  # type: ignore[misc]

        return MemoryService(self._store, encode, "")

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
    too_large = Signal(object, str)
    unloaded = Signal()
    started = Signal(object)
    text = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, str)
    summarized = Signal(int, int)
    load_crashed = Signal(str, str)
    restarting = Signal(str)
    reading = Signal(int, int, int)

    _load = Signal(object)
    _use_store = Signal(object)
    _generate = Signal(object)
    _summarize = Signal(object)
    _unload = Signal()
    _shutdown = Signal()
    _revive = Signal()

    WATCH_MS = 1000  # how often an idle model process is looked at (a sentinel poll: cheap)

    def __init__(
        self,
        backend_factory: Callable[[], Backend],
        parent: QObject | None = None,
        *,
        store: Store | None = None,
        embed: Callable[[str], np.ndarray | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("chatapp-engine")
        self._worker = EngineWorker(backend_factory, store, embed)
        self._store = store
        self._worker.moveToThread(self._thread)
        self._load.connect(self._worker.load)
        self._use_store.connect(self._worker.use_store)
        self._generate.connect(self._worker.generate)
        self._summarize.connect(self._worker.summarize)
        self._unload.connect(self._worker.unload)
        self._shutdown.connect(self._worker.shutdown)
        self._revive.connect(self._worker.revive)
        self._summary: SummaryRequest | None = None
        self._reviving = False  # a revive is queued or running: asked once
        self._watch = QTimer(self)
        self._watch.setInterval(self.WATCH_MS)
        self._watch.timeout.connect(self._look_at_model)
        self._watch.start()
        for name in (
            "loaded",
            "load_failed",
            "too_large",
            "unloaded",
            "started",
            "text",
            "summarized",
            "restarting",
            "reading",
        ):
            getattr(self._worker, name).connect(getattr(self, name))
        self._worker.watched.connect(self._revived)
        self._worker.load_crashed.connect(self._on_load_crashed)
        # the request is over before anyone hears of it, so a listener may start the next
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._current: ReplyRequest | None = None
        self._thread.start()

    @property
    def busy(self) -> bool:
        return self._current is not None

    def _look_at_model(self) -> None:
        """A model process that died while idle (killed, out of memory) is noticed within a
        second and loaded again: the status bar says so, and the next message is answered."""
        died = getattr(self._worker._backend, "died", None)
        if self._reviving or self._current is not None or died is None or not died():
            return
        self._reviving = True
        self._revive.emit()

    @Slot()
    def _revived(self) -> None:
        self._reviving = False

    @Slot(str, str, str)
    def _on_load_crashed(self, message: str, path: str, reason: str) -> None:
        """The load failed (message) and then, within the same event, that it crashed the
        model process (listeners load the built-in model): a listener of load_failed that
        looks a turn of the event loop later sees the next load asked for."""
        self.load_failed.emit(message)
        self.load_crashed.emit(path, reason)

    @property
    def model_pid(self) -> int | None:
        """The process id of the model process, when the backend runs one."""
        return getattr(self._worker._backend, "child_pid", None)

    @property
    def store(self) -> Store | None:
        """The store whose threads this engine answers (contexts and summaries read it)."""
        return self._store

    def use_store(self, store: Store) -> None:
        """Answer the threads of `store`: a chat session says which store its thread ids
        belong to, before it asks for a reply (queued ahead of any request it sends)."""
        self._store = store
        self._use_store.emit(store)

    def load(self, spec: ModelSpec) -> None:
        self._load.emit(spec)

    def unload(self) -> None:
        self._unload.emit()

    def reply(self, request: ReplyRequest) -> bool:
        """Queue a reply; False (and nothing queued) while another reply is being written."""
        if self._current is not None:
            return False
        self._cancel_summary()  # a summary must never delay a reply
        self._current = request
        self._generate.emit(request)
        return True

    def summarize(self, thread_id: int) -> SummaryRequest:
        """Summarise in the background; the next reply request cancels it."""
        self._cancel_summary()
        self._summary = SummaryRequest(thread_id)
        self._summarize.emit(self._summary)
        return self._summary

    def _cancel_summary(self) -> None:
        if self._summary is not None:
            self._summary.cancel.set()
            self._summary = None

    def cancel(self) -> None:
        """Stop the reply being written; harmless when there is none or it was already stopped."""
        if self._current is not None:
            self._current.cancel.set()
            now = getattr(self._worker._backend, "cancel_now", None)  # a model process: at once
            if now is not None:
                now()

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
        self._watch.stop()
        if not self._thread.isRunning():
            return True
        self.cancel()
        self._cancel_summary()
        self._worker.interrupt()  # a load in progress ends now, not after the model is read
        self._shutdown.emit()
        ended = self._thread.wait(timeout_ms)
        if not ended:
            log.error("engine thread did not end within %d ms", timeout_ms)
        return ended
