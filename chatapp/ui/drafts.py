"""Unsent text per thread, kept across restarts and crashes.

A draft is saved after a pause in typing, on a thread switch and at quit. The text is kept
here at once; the write goes to the store as a background job (the GUI thread never waits
on the disk), one at a time, each with the newest text. A write the store refused (a full
disk) stays pending and is tried again with every later save, and at quit, until it is
written, not only when its text changes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from chatapp.errors import StorageError
from chatapp.store import Store
from chatapp.workers.jobs import Job, Jobs

log = logging.getLogger("chatapp.ui")

Written = tuple[list[int], list[tuple[int, str]]]  # written (or gone) threads; failed ones


class Drafts(QObject):
    """Signals: notice(str, int) a status message (a draft that could not be saved yet)."""

    notice = Signal(str, int)
    SAVE_MS = 1_500  # a draft is saved this long after the last keystroke

    def __init__(
        self,
        store: Store,
        current: Callable[[], tuple[int | None, str]],
        jobs: Jobs,
        parent: QObject | None,
    ) -> None:
        """`current` gives the open thread and the composer's text, read at save time."""
        super().__init__(parent)
        self._store = store
        self._current = current
        self._jobs = jobs
        try:
            self.texts: dict[int, str] = store.drafts()
        except StorageError as exc:
            log.warning("drafts could not be read: %s", exc)
            self.texts = {}
        self._pending: set[int] = set()  # threads whose newest text is not written yet
        self._writing: Job | None = None  # one write job at a time: the newest text wins
        self._again = False
        self.timer = QTimer(self, singleShot=True, interval=self.SAVE_MS)
        self.timer.timeout.connect(self.save)

    def text(self, thread_id: int | None) -> str:
        return self.texts.get(thread_id, "") if thread_id else ""

    def has_draft(self, thread_id: int) -> bool:
        """Whether the thread has unsent text, written or not (a thread with one is in use)."""
        return bool(self.texts.get(thread_id, "").strip())

    @Slot()
    def save(self) -> None:
        """The open thread's unsent text goes to the store."""
        self.timer.stop()
        thread_id, text = self._current()
        if thread_id is not None:
            self.store(thread_id, text)

    def store(self, thread_id: int, text: str) -> None:
        if self.texts.get(thread_id, "") != text or thread_id in self._pending:
            if text.strip():
                self.texts[thread_id] = text
            else:
                self.texts.pop(thread_id, None)
            self._pending.add(thread_id)
        if self._pending:  # with one a failed write left: tried again now
            self._write_soon()

    def flush(self) -> None:
        """At quit (no event loop runs the jobs' answers any more): wait for the write in
        flight, then write what is still pending here."""
        if self._writing is not None:
            self._writing.finished.wait(timeout=60)
        self._apply(self._write(self._snapshot()))

    def keep_orphan(self, text: str) -> int | None:
        """Text typed while no thread was open becomes a new chat's draft (that chat opens
        at the next start) instead of being dropped; the thread's id, None if it failed."""
        try:
            unused = self._store.unused_thread()
            if unused is not None and self.has_draft(unused):
                unused = None
            thread_id = unused if unused is not None else self._store.create_thread().id
        except StorageError as exc:
            log.warning("the unsent text could not be kept: %s", exc)
            return None
        self.store(thread_id, text)
        return thread_id

    def _snapshot(self) -> dict[int, str]:
        return {thread_id: self.texts.get(thread_id, "") for thread_id in sorted(self._pending)}

    def _write_soon(self) -> None:
        if self._writing is not None and not self._writing.done.is_set():
            self._again = True  # written when the one in flight has been answered
            return
        self._again = False
        snapshot = self._snapshot()
        self._writing = self._jobs.run(
            lambda _job: self._write(snapshot), self._written, name="Saving the draft"
        )

    def _write(self, snapshot: dict[int, str]) -> tuple[dict[int, str], Written]:
        """On the job's thread (or at quit): each pending draft, as it was when asked."""
        done: list[int] = []
        failed: list[tuple[int, str]] = []
        for thread_id, text in snapshot.items():
            try:
                self._store.save_draft(thread_id, text)
            except KeyError:  # the thread is gone: nothing to keep it with
                done.append(thread_id)
            except StorageError as exc:
                log.warning("draft not saved: %s", exc)
                failed.append((thread_id, str(exc)))
            else:
                done.append(thread_id)
        return snapshot, (done, failed)

    def _written(self, result: tuple[dict[int, str], Written]) -> None:
        self._writing = None  # answered (its `done` is set only after this returns)
        self._apply(result)
        if self._again:
            self._write_soon()

    def _apply(self, result: tuple[dict[int, str], Written]) -> None:
        snapshot, (done, failed) = result
        for thread_id in done:
            if self.texts.get(thread_id, "") == snapshot[thread_id]:  # not typed on since
                self._pending.discard(thread_id)
        for _thread_id, error in failed[:1]:
            self.notice.emit(f"The draft could not be saved yet: {error}", 8000)
