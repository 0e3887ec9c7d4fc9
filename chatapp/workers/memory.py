"""The memory thread: loads the sentence-embedding model (seconds of torch import, never
on the GUI thread) and keeps each thread's memory up to date after its exchanges."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from chatapp.store import Store
from chatapp.workers.jobs import Job, Jobs

log = logging.getLogger("chatapp.workers")

# assistant replies (then user messages for sentence vectors) embedded per step when a thread
# has many waiting (an imported history, an older database): the user's messages and facts
# come first, and an exchange's ingest runs between two steps
CATCH_UP = 32


class MemoryWorker(QObject):
    """Signals: ready(), unavailable(str), ingested(int thread id, object report),
    failed(str): something the user asked for could not be done (the message says what),
    written(int thread id): a change asked for with MemoryController.write is saved."""

    ready = Signal()
    unavailable = Signal(str)
    ingested = Signal(int, object)
    failed = Signal(str)
    written = Signal(int)
    _catch_up = Signal(int)

    def __init__(self, store: Store, holder: EmbedderHolder) -> None:
        super().__init__()
        self._catch_up.connect(self._embed_later, Qt.ConnectionType.QueuedConnection)
        self._catching_up: set[int] = set()
        self._store = store
        self._holder = holder
        self._service = None
        self._failed = False
        self._lock = threading.Lock()
        self._waiting: list[tuple[int, str, bool]] = []  # notes written while the model loads
        self._writes: list[tuple[int, str, Callable[[], object]]] = []  # in the order asked
        self._write_lock = threading.Lock()  # one writer at a time, also when quitting

    def warm_up(self) -> None:
        """Runs as a background job: importing torch takes seconds, and the memory thread
        must stay free for notes meanwhile."""
        try:
            from chatapp.memory.embedder import shared_embedder
            from chatapp.memory.service import MemoryService

            embedder = shared_embedder()
            service = MemoryService(self._store, embedder.encode, embedder.name)
            self._holder.set(embedder)
        except Exception as exc:  # memory is optional: chat goes on without it
            log.exception("embedding model unavailable")
            with self._lock:
                self._failed = True
            self._flush_notes()
            self.unavailable.emit(
                f"Long-term memory is off: the embedding model could not be loaded ({exc})."
            )
            return
        with self._lock:
            self._service = service
        self._flush_notes()
        self.ready.emit()

    @Slot(int)
    def ingest(self, thread_id: int) -> None:
        if self._service is None:
            return
        try:
            report = self._service.ingest(thread_id, reply_limit=CATCH_UP)
        except Exception:
            log.exception("memory update failed for thread %d", thread_id)
            return
        self.ingested.emit(thread_id, report)
        if report.replies_waiting and thread_id not in self._catching_up:
            self._catching_up.add(thread_id)
            self._catch_up.emit(thread_id)

    @Slot(int)
    def _embed_later(self, thread_id: int) -> None:
        """One step of a thread's catch-up, queued behind what the thread was asked meanwhile."""
        try:
            done = self._service.embed_later(thread_id, CATCH_UP) if self._service else 0
        except Exception:
            log.exception("memory update failed for thread %d", thread_id)
            done = 0
        if done == CATCH_UP:
            self._catch_up.emit(thread_id)
            return
        self._catching_up.discard(thread_id)
        self.ingested.emit(thread_id, None)

    @Slot(int, str, bool)
    def add_note(self, thread_id: int, text: str, pinned: bool) -> None:
        """The user's note: kept even while the embedding model loads (written once it is
        ready) or when it cannot be loaded (written without a key: a pinned note is shown
        whatever the message; it gets its key when a later session has the model)."""
        with self._lock:
            self._waiting.append((thread_id, text, pinned))
            waiting = self._service is None and not self._failed
        if not waiting:
            self._flush_notes()

    def queue_write(self, thread_id: int, what: str, job: Callable[[], object]) -> None:
        with self._lock:
            self._writes.append((thread_id, what, job))

    @Slot()
    def run_writes(self) -> None:
        """Save the queued changes in order. Runs on the memory thread, and once more on the
        quitting thread after it stopped: a change asked for just before quitting is kept."""
        with self._write_lock:
            while True:
                with self._lock:
                    if not self._writes:
                        return
                    thread_id, what, job = self._writes.pop(0)
                try:
                    job()
                except Exception as exc:  # a full disk, a locked database: said, and the rest go on
                    log.exception("%s failed", what)
                    self.failed.emit(f"{what} failed: {exc}")
                self.written.emit(thread_id)

    def _flush_notes(self) -> None:
        with self._lock:
            notes, self._waiting = self._waiting, []
            service = self._service
        for thread_id, text, pinned in notes:
            try:
                if service is not None:
                    service.add_slot_by_hand(thread_id, text, pinned)
                else:
                    from chatapp.memory.service import add_note_without_key

                    add_note_without_key(self._store, thread_id, text, pinned)
            except Exception as exc:  # a full disk, a locked database
                log.exception("the note could not be saved")
                self.failed.emit(f"The note \u201c{text}\u201d could not be saved: {exc}")
                continue
            self.ingested.emit(thread_id, None)


class EmbedderHolder:
    """Hands the embedder to other threads once it is loaded; until then, no vectors."""

    def __init__(self) -> None:
        self._embedder = None
        self._lock = threading.Lock()

    def set(self, embedder) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self._embedder = embedder

    def embed(self, text: str) -> np.ndarray | None:
        with self._lock:
            embedder = self._embedder
        return embedder.encode_one(text) if embedder is not None else None

    @property
    def loaded(self) -> bool:
        return self._embedder is not None


class MemoryController(QObject):
    """The GUI thread's handle on the memory thread. Signals: the worker's."""

    ready = Signal()
    unavailable = Signal(str)
    ingested = Signal(int, object)
    failed = Signal(str)
    written = Signal(int)
    _ingest = Signal(int)
    _note = Signal(int, str, bool)
    _write = Signal()

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.holder = EmbedderHolder()
        self._thread = QThread()
        self._thread.setObjectName("chatapp-memory")
        self._worker = MemoryWorker(store, self.holder)
        self._worker.moveToThread(self._thread)
        self._ingest.connect(self._worker.ingest)
        self._note.connect(self._worker.add_note)
        self._write.connect(self._worker.run_writes)
        self._worker.written.connect(self.written)
        self._worker.ready.connect(self.ready)
        self._worker.unavailable.connect(self.unavailable)
        self._worker.ingested.connect(self.ingested)
        self._worker.failed.connect(self.failed)
        self._thread.start()
        self._warm_up: Job | None = None

    def start(self, jobs: Jobs) -> None:
        """Load the embedding model as one of the app's background jobs."""
        self._warm_up = jobs.run(lambda _job: self._worker.warm_up(), name="The embedding model")

    def ingest(self, thread_id: int) -> None:
        self._ingest.emit(thread_id)

    def add_note(self, thread_id: int, text: str, pinned: bool = True) -> None:
        self._note.emit(thread_id, text, pinned)

    def write(self, thread_id: int, what: str, job: Callable[[], object]) -> None:
        """Run `job` (a change to the memory tables) on the memory thread, after what was asked
        before it; `written(thread_id)` follows, or `failed` with `what` ("Forgetting …")."""
        self._worker.queue_write(thread_id, what, job)
        self._write.emit()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Stop the memory thread. A quit right after start waits for the embedding model to
        finish loading: a thread still inside torch's start-up while the interpreter shuts
        down ends the process with std::terminate or a segfault (seen on a busy machine)."""
        if self._warm_up is not None:
            self._warm_up.finished.wait(timeout=120)
        self._thread.quit()
        stopped = self._thread.wait(timeout_ms)
        self._worker.run_writes()  # what the stopped thread left queued
        return stopped
