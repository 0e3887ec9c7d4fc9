"""The conversation logic of the window: store the user's message, stream the reply, save it.

Every write goes to the store's one writer (`workers.store_writer`): the GUI thread asks and
goes on, so a long import's transaction never freezes a send. A reply's save is asked while
it streams, each piece of text before it is shown (a newer save waiting its turn replaces
the older), so closing the app keeps all that the user already saw: the quit waits for the
writer (`python -m chatapp.bench streamsave`: about 0.1 ms of CPU a save).
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal, Slot

from chatapp.domain import ChatMessage, GenerationSettings, Message, MessageStatus, Role, Thread
from chatapp.engine.backend import ModelInfo, ReplyResult
from chatapp.errors import StorageError
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.store.store import auto_title
from chatapp.workers.engine import EngineController, ReplyRequest, ReplyStarted
from chatapp.workers.memory import MemoryController
from chatapp.workers.store_writer import StoreWriter

log = logging.getLogger("chatapp.ui")

# the least time between two saves of a streaming reply; 0: every batch the engine sends
# (it batches text every BATCH_SECONDS), so the shown text is never ahead of the stored one
SAVE_SECONDS = 0.0
BUSY = "A reply is still being written: stop it first (Esc)."
# what the writer's thread hands back for a send: the user's message, the reply's placeholder,
# the message it answers, memory on, why the placeholder failed, the thread and its sampling
Written = tuple[
    Message | None, Message | None, Message | None, bool, str, Thread, GenerationSettings
]
NO_MODEL = "No model is loaded. Choose one with Model > Load model…"


class ChatSession(QObject):
    """Signals:
    message_added(Message): a new message is on the shown path (user or reply placeholder);
        the user's own is shown at once with a temporary negative id
    message_saved(int, Message): that temporary id's message is stored, under its own id
    message_dropped(int): that temporary id's message could not be stored
    unsent(int, str): a thread and the text whose save failed (given back, not lost)
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
    message_saved = Signal(int, object)
    message_dropped = Signal(int)
    unsent = Signal(int, str)
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
        writer: StoreWriter | None = None,
    ) -> None:
        """`writer`: the store's one writer (a session made alone gets its own)."""
        super().__init__(parent)
        self.store = store
        self.writer = writer if writer is not None else StoreWriter(self)
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
        self._asking: int | None = None  # the thread whose message is on its way to the store
        self._finishing = False  # the ended reply's last save has not landed yet
        self._closed = False
        self._temp_id = 0  # the shown-at-once user messages count down from -1
        engine.started.connect(self._on_started)
        engine.text.connect(self._on_text)
        engine.reading.connect(self._on_read_progress)
        engine.finished.connect(self._on_finished)
        engine.failed.connect(self._on_failed)
        engine.loaded.connect(self._on_loaded)
        engine.unloaded.connect(self._on_unloaded)

    @property
    def busy(self) -> bool:
        return self._reply_id is not None or self._asking is not None or self._finishing

    @property
    def reply_thread(self) -> int | None:
        """The thread whose reply is being written (or asked for), if any."""
        return self._reply_thread if self._reply_thread is not None else self._asking

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
        """Ask for `text` to be stored as the user's message, show it at once, and ask for a
        reply once it is stored; False if it was refused (then nothing is stored: with no
        model, the text stays with the caller, not saved unanswered to be sent again as a
        duplicate). A save that fails gives the text back (`unsent`)."""
        if self.model_info is None:
            self.error.emit(NO_MODEL)
            return False
        return self._ask_reply(thread_id, text=text)

    def edit_and_resend(self, user_message_id: int, text: str) -> bool:
        """A new version of a user message (the old one is kept), answered afresh."""
        if self.model_info is None:
            self.error.emit(NO_MODEL)
            return False
        try:
            old = self.store.message(user_message_id)
        except KeyError:
            return False
        return self._ask_reply(old.thread_id, text=text, edit_of=old)

    def regenerate(self, assistant_message_id: int) -> bool:
        """A new version of a reply; the old one stays reachable as a version."""
        if self.busy:
            self.error.emit(BUSY)
            return False
        old = self.store.message(assistant_message_id)
        return self._ask_reply(old.thread_id, parent_id=old.parent_id)

    def stop(self) -> None:
        self.engine.cancel()

    def _ask_reply(
        self,
        thread_id: int,
        *,
        text: str | None = None,
        edit_of: Message | None = None,
        parent_id: int | None = None,
    ) -> bool:
        """The user's message (new, or a new version of `edit_of`) and the reply's placeholder
        are written by the store's writer; the reply is asked for once they are stored. The
        user's message is shown at once under a temporary (negative) id, replaced by the
        stored one when its save lands (`message_saved`)."""
        if self.model_info is None:
            self.error.emit(NO_MODEL)
            return False
        if text is not None:
            text = text.strip()
            if not text:
                return False
        if self.busy:
            self.error.emit(BUSY)
            return False
        try:
            depth = self.store.thread(thread_id).message_count  # where it shows until stored
        except KeyError:
            return False
        model = self.model_info.name
        store = self.store
        shown: Message | None = None
        if text is not None:
            self._temp_id -= 1
            shown = Message(
                id=self._temp_id,
                thread_id=thread_id,
                parent_id=edit_of.parent_id if edit_of else None,
                depth=edit_of.depth if edit_of else depth,
                role=Role.USER,
                content=text,
                created_at=time.time(),
            )

        def write() -> Written:
            """On the writer's thread, after what was asked before (a prompt or sampling
            changed just before the send is used): a failed user message raises (its text is
            given back); a failed placeholder leaves the stored user message and says why."""
            thread = store.thread(thread_id)
            sampling = self.effective_sampling(thread.settings)
            user = None
            if edit_of is not None:
                user = store.edit_message(edit_of.id, text)
            elif text is not None:
                user = store.add_message(thread_id, Role.USER, text)
                if user.depth == 0:
                    store.set_auto_title(thread_id, auto_title(user.content))
            answered = user.id if user is not None else parent_id
            try:
                reply = store.add_message(
                    thread_id,
                    Role.ASSISTANT,
                    "",
                    parent_id=answered,
                    status=MessageStatus.STREAMING,
                    model=model,
                    settings=sampling.to_dict(),
                )
                asked = store.message(answered)
                memory = MemoryTables(store).memory_enabled(thread_id)
            except (StorageError, KeyError) as exc:
                if user is None:
                    raise
                return user, None, None, False, str(exc), thread, sampling
            return user, reply, asked, memory, "", thread, sampling

        def stored(result: Written) -> None:
            self._asking = None
            user, reply, asked, memory, problem, thread, sampling = result
            if user is not None and shown is not None:
                self.message_saved.emit(shown.id, user)
            if text is not None and edit_of is None:
                self.threads_changed.emit()  # new title, or the thread moved up by activity
            if reply is None or asked is None:
                self.busy_changed.emit(False)
                self.error.emit(problem)
                return
            if self._closed:  # the window closed before the save landed: no reply now
                self.writer.ask(store.update_message, reply.id, status=MessageStatus.STOPPED)
                return
            self._start(thread_id, thread, sampling, reply, asked, memory)

        def failed(message: str) -> None:
            self._asking = None
            self.busy_changed.emit(False)
            if shown is not None:
                self.message_dropped.emit(shown.id)
                self.unsent.emit(thread_id, text)
            self.error.emit(message)

        self._asking = thread_id
        if shown is not None:
            self.message_added.emit(shown)
        self.busy_changed.emit(True)
        self.writer.ask(write, on_done=stored, on_error=failed)
        return True

    def _start(
        self,
        thread_id: int,
        thread: Thread,
        sampling: GenerationSettings,
        reply: Message,
        answered: Message,
        memory: bool,
    ) -> None:
        system = ChatMessage("system", thread.system_prompt) if thread.system_prompt else None
        request = ReplyRequest(
            system=system,
            history=[],  # the engine builds the context from the store: one road for every reply
            settings=sampling,
            thread_id=thread_id,
            message=answered,
            memory=memory,
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
            self._save(show=True, content=self._text)  # shown once it is stored
            self._saved_at = now
        else:
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

    def _save(self, show: bool = False, **fields: object) -> None:
        """Ask for the reply to be saved (a newer save still waiting replaces an older one:
        each holds the whole text); with `show`, its text is shown when the save has landed,
        so the screen is never ahead of the disk. A failure is told once, not with every
        piece of text (the text is shown all the same), and the next save writes it all."""
        reply_id, text = self._reply_id, self._text

        def saved(_result: object) -> None:
            self._save_failed = False
            if show:
                self.reply_text.emit(reply_id, text)

        def refused(message: str) -> None:
            self._save_refused(message)
            if show:
                self.reply_text.emit(reply_id, text)

        self.writer.ask(
            self.store.update_message,
            reply_id,
            on_done=saved,
            on_error=refused,
            coalesce=("reply", reply_id),
            **fields,
        )

    def _save_refused(self, message: str) -> None:
        if not self._save_failed:
            self.error.emit(message)
        self._save_failed = True

    def _end(self, status: MessageStatus, **fields: object) -> None:
        """The reply ended: its last save, then (on the writer's thread) it is read back, and
        an empty failed one is removed; `reply_done` follows when that has landed."""
        reply_id, text, store = self._reply_id, self._text, self.store
        self._reply_id = None
        self._request_id = None
        self._finishing = True

        def finish() -> tuple[Message | None, bool, str]:
            problem = ""
            try:
                store.update_message(reply_id, content=text, status=status, **fields)
            except (StorageError, KeyError) as exc:
                problem = str(exc)
            try:
                message = store.message(reply_id)
            except KeyError:
                return None, False, problem
            # judged by what was shown too: a failed last save leaves the stored text behind it
            dropped = status == MessageStatus.ERROR and not message.content and not text
            if dropped:
                # an empty "failed" bubble says nothing the error does not: the message it
                # answered stays, and a regenerated reply's earlier version is shown again
                try:
                    store.delete_message(message.id)
                except (KeyError, StorageError) as exc:
                    log.warning("the failed empty reply %s stays: %s", message.id, exc)
                    dropped = False
            return message, dropped, problem

        self.writer.ask(finish, on_done=self._ended, coalesce=("reply", reply_id))

    def _ended(self, result: tuple[Message | None, bool, str]) -> None:
        message, dropped, problem = result
        self._finishing = False
        self._reply_thread = None
        if problem:
            self._save_refused(problem)
        self.busy_changed.emit(False)
        if message is None:
            return
        if dropped:
            self.reply_dropped.emit(message.id)
            self.reply_done.emit(message)
        else:
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
        """The window closes: stop the reply and keep what was shown of it, marked stopped
        (the window then waits for the writer)."""
        self._closed = True
        if self._reply_id is not None:
            self.engine.cancel()
            self._save(content=self._text, status=MessageStatus.STOPPED)
            self._reply_id = None
            self._reply_thread = None
            self._request_id = None
