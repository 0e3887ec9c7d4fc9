"""The conversation logic of the window: store the user's message, stream the reply, save it.

A reply is saved while it streams, each piece of text before it is shown, so closing the
app, a crash or a kill keeps all that the user already saw (`python -m chatapp.bench
streamsave`: about 0.1 ms of CPU a save, under half a percent of a reply's time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot

from chatapp.domain import ChatMessage, GenerationSettings, Message, MessageStatus, Role
from chatapp.engine.backend import ModelInfo, ReplyResult
from chatapp.errors import StorageError
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.store.store import auto_title
from chatapp.workers.engine import EngineController, ReplyRequest, ReplyStarted
from chatapp.workers.memory import MemoryController

log = logging.getLogger("chatapp.ui")

# the least time between two saves of a streaming reply; 0: every batch the engine sends
# (it batches text every BATCH_SECONDS), so the shown text is never ahead of the stored one
SAVE_SECONDS = 0.0
BUSY = "A reply is still being written: stop it first (Esc)."
NO_MODEL = "No model is loaded. Choose one with Model > Load model…"


class ChatSession(QObject):
    """Signals:
    message_added(Message): a new message is on the shown path (user or reply placeholder)
    reply_text(int, str): message id and its whole text so far
    reply_done(Message): the reply ended (complete, stopped or error)
    reply_dropped(int): that reply failed before any text and was removed (the thread reloads)
    busy_changed(bool)
    context_used(int, int): prompt tokens and context size of the reply being written
    threads_changed(): titles or order changed
    reply_stats(ReplyResult): speed and token counts of the reply that just ended
    reading(int, int): the reply's message id and its prompt's length, while the model reads it
    read_progress(int, int, int): the reply's message id, prompt tokens read and in all
    error(str): something the user should read
    """

    message_added = Signal(object)
    reply_text = Signal(int, str)
    reply_done = Signal(object)
    reply_dropped = Signal(int)
    busy_changed = Signal(bool)
    context_used = Signal(int, int)
    threads_changed = Signal()
    reply_stats = Signal(object)
    error = Signal(str)
    reading = Signal(int, int)  # reply message id, prompt tokens: the model reads the prompt
    read_progress = Signal(int, int, int)

    def __init__(
        self,
        store: Store,
        engine: EngineController,
        parent: QObject | None = None,
        memory: MemoryController | None = None,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.engine = engine
        self.memory = memory
        self.tables = MemoryTables(store)
        engine.use_store(store)  # every reply's context is built from this store's thread
        self.model_info: ModelInfo | None = None
        # the loaded model's own default sampling, for threads whose sampling was never changed
        self.sampling_defaults: GenerationSettings | None = None
        self._reply_id: int | None = None  # message id of the reply being written
        self._reply_thread: int | None = None
        self._request_id: int | None = None
        self._text = ""
        self._saved_at = 0.0
        self._save_failed = False
        engine.started.connect(self._on_started)
        engine.text.connect(self._on_text)
        engine.reading.connect(self._on_read_progress)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)
        engine.loaded.connect(self._on_loaded)
        engine.unloaded.connect(self._on_unloaded)

    @property
    def busy(self) -> bool:
        return self._reply_id is not None

    @property
    def reply_thread(self) -> int | None:
        """The thread whose reply is being written, if any."""
        return self._reply_thread

    @Slot(object)
    def effective_sampling(self, thread_settings: GenerationSettings) -> GenerationSettings:
        """A thread's own sampling once the user changed it; until then the model's defaults."""
        if self.sampling_defaults is not None and thread_settings == GenerationSettings():
            return self.sampling_defaults
        return thread_settings

    def _on_loaded(self, info: ModelInfo) -> None:
        self.model_info = info

    @Slot()
    def _on_unloaded(self) -> None:
        self.model_info = None

    # -- actions --------------------------------------------------------

    def send(self, thread_id: int, text: str) -> bool:
        """Store `text` as the user's message and ask for a reply; False if it was refused
        (then nothing is stored: with no model, the text stays with the caller, not saved
        unanswered to be sent again as a duplicate)."""
        if self.model_info is None:
            self.error.emit(NO_MODEL)
            return False
        user = self._user_message(text, lambda t: self.store.add_message(thread_id, Role.USER, t))
        if user is None:
            return False
        if user.depth == 0:
            self.store.set_auto_title(thread_id, auto_title(user.content))
        self.threads_changed.emit()  # new title, or the thread moved up by activity
        return self._reply(thread_id, parent_id=user.id)

    def edit_and_resend(self, user_message_id: int, text: str) -> bool:
        """A new version of a user message (the old one is kept), answered afresh."""
        if self.model_info is None:
            self.error.emit(NO_MODEL)
            return False
        edited = self._user_message(text, lambda t: self.store.edit_message(user_message_id, t))
        return edited is not None and self._reply(edited.thread_id, parent_id=edited.id)

    def regenerate(self, assistant_message_id: int) -> bool:
        """A new version of a reply; the old one stays reachable as a version."""
        if self.busy:
            self.error.emit(BUSY)
            return False
        old = self.store.message(assistant_message_id)
        return self._reply(old.thread_id, parent_id=old.parent_id)

    def _user_message(self, text: str, write: Callable[[str], Message]) -> Message | None:
        """Save what the user wrote (refused while a reply is being written), and show it."""
        text = text.strip()
        if not text:
            return None
        if self.busy:
            self.error.emit(BUSY)
            return None
        try:
            message = write(text)
        except StorageError as exc:
            self.error.emit(str(exc))
            return None
        self.message_added.emit(message)
        return message

    def stop(self) -> None:
        self.engine.cancel()

    def _reply(self, thread_id: int, parent_id: int) -> bool:
        if self.model_info is None:
            self.error.emit(NO_MODEL)
            return False
        thread = self.store.thread(thread_id)
        answered = self.store.message(parent_id)
        sampling = self.effective_sampling(thread.settings)
        try:
            reply = self.store.add_message(
                thread_id,
                Role.ASSISTANT,
                "",
                parent_id=parent_id,
                status=MessageStatus.STREAMING,
                model=self.model_info.name,
                settings=sampling.to_dict(),
            )
        except StorageError as exc:
            self.error.emit(str(exc))
            return False
        system = ChatMessage("system", thread.system_prompt) if thread.system_prompt else None
        request = ReplyRequest(
            system=system,
            history=[],  # the engine builds the context from the store: one road for every reply
            settings=sampling,
            thread_id=thread_id,
            message=answered,
            memory=self.tables.memory_enabled(thread_id),
        )
        self._reply_id = reply.id
        self._reply_thread = thread_id
        self._request_id = request.id
        self._text = ""
        self._saved_at = time.monotonic()
        self._save_failed = False
        self.message_added.emit(reply)
        if not self.engine.reply(request):
            self._end(MessageStatus.ERROR, error="The engine is still busy with another reply.")
            return False
        self.busy_changed.emit(True)
        return True

    # -- engine signals -------------------------------------------------

    @Slot(object)
    def _on_started(self, started: ReplyStarted) -> None:
        if started.request_id == self._request_id:
            self.context_used.emit(started.prompt_tokens, started.n_ctx)
            if self._reply_id is not None:
                self.reading.emit(self._reply_id, started.prompt_tokens)

    @Slot(int, int, int)
    def _on_read_progress(self, request_id: int, done: int, total: int) -> None:
        if request_id == self._request_id and self._reply_id is not None:
            self.read_progress.emit(self._reply_id, done, total)

    @Slot(int, str)
    def _on_text(self, request_id: int, text: str) -> None:
        if request_id != self._request_id or self._reply_id is None:
            return
        self._text += text
        now = time.monotonic()
        if now - self._saved_at >= SAVE_SECONDS:
            self._save(content=self._text)  # stored before it is shown
            self._saved_at = now
        self.reply_text.emit(self._reply_id, self._text)

    @Slot(int, object)
    def _on_finished(self, request_id: int, result: ReplyResult) -> None:
        if request_id != self._request_id or self._reply_id is None:
            return
        status = MessageStatus.STOPPED if result.cancelled else MessageStatus.COMPLETE
        self.reply_stats.emit(result)
        self._end(
            status,
            prompt_tokens=result.prompt_tokens or None,
            completion_tokens=result.completion_tokens,  # 0 (an empty reply) is a count, not NULL
            error=result.error,
        )
        if result.error:
            self.error.emit(result.error)

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id != self._request_id or self._reply_id is None:
            return
        self._end(MessageStatus.ERROR, error=message)
        self.error.emit(message)

    def _save(self, **fields: object) -> bool:
        """Save the reply; a failure is told once (not every half second while it streams),
        and the next save writes the whole text again."""
        try:
            self.store.update_message(self._reply_id, **fields)  # type: ignore[arg-type]
        except StorageError as exc:
            if not self._save_failed:
                self.error.emit(str(exc))
            self._save_failed = True
            return False
        self._save_failed = False
        return True

    def _end(self, status: MessageStatus, **fields: object) -> None:
        reply_id = self._reply_id
        self._save(content=self._text, status=status, **fields)
        self._reply_id = None
        self._reply_thread = None
        self._request_id = None
        try:
            message: Message = self.store.message(reply_id)
        except KeyError:
            message = None  # type: ignore[assignment]
        # judged by what was shown too: a failed last save leaves the stored text behind it
        dropped = (
            message is not None
            and status == MessageStatus.ERROR
            and not message.content
            and not self._text
        )
        if dropped:
            # an empty "failed" bubble says nothing the error does not: the message it answered
            # stays, and a regenerated reply's earlier version is shown again
            try:
                self.store.delete_message(message.id)
            except (KeyError, StorageError) as exc:
                log.warning("the failed empty reply %s stays: %s", message.id, exc)
                dropped = False
        self.busy_changed.emit(False)
        if dropped:
            self.reply_dropped.emit(message.id)
            self.reply_done.emit(message)
        elif message is not None:
            self.reply_done.emit(message)
            self._after_exchange(message.thread_id)

    def _after_exchange(self, thread_id: int) -> None:
        """Memory work runs after the reply, never before it: embeddings and slots on the
        memory thread, summaries on the engine thread (cancelled by the next send)."""
        if not self.tables.memory_enabled(thread_id):
            return
        if self.memory is not None:
            self.memory.ingest(thread_id)
        self.engine.summarize(thread_id)

    def close(self) -> None:
        """The window closes: stop the reply and keep what was shown of it, marked stopped."""
        if self._reply_id is not None:
            self.engine.cancel()
            self._save(content=self._text, status=MessageStatus.STOPPED)
            self._reply_id = None
            self._reply_thread = None
            self._request_id = None
