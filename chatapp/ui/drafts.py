"""Unsent text per thread, kept across restarts and crashes.

A draft is saved after a pause in typing, on a thread switch and at quit. The text is kept
here at once; the write is asked of the store's one writer (the GUI thread never waits on
the disk), one per thread in its line, a newer text replacing one still waiting. A write the
store refused (a full disk) stays pending and is asked again with every later save, and at
quit, until it is written, not only when its text changes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from chatapp.errors import StorageError
from chatapp.store import Store
from chatapp.workers.store_writer import StoreWriter

log = logging.getLogger("chatapp.ui")


class Drafts(QObject):
    """Signals: notice(str, int) a status message (a draft that could not be saved yet)."""

    notice = Signal(str, int)
    SAVE_MS = 1_500  # a draft is saved this long after the last keystroke

    def __init__(
        self,
        store: Store,
        current: Callable[[], tuple[int | None, str]],
        writer: StoreWriter,
        parent: QObject | None,
    ) -> None:
        """`current` gives the open thread and the composer's text, read at save time."""
        super().__init__(parent)
        self._store = store
        self._current = current
        self._writer = writer
        try:
            self.texts: dict[int, str] = store.drafts()
        except StorageError as exc:
            log.warning("drafts could not be read: %s", exc)
            self.texts = {}
        self._pending: set[int] = set()  # threads whose newest text is not written yet
        self.timer = QTimer(self, singleShot=True, interval=self.SAVE_MS)
        self.timer.timeout.connect(self.save)

    def text(self, thread_id: int | None) -> str:
        return self.texts.get(thread_id, "") if thread_id else ""

    def has_draft(self, thread_id: int) -> bool:
        """Whether the thread has unsent text, written or not (a thread with one is in use)."""
        return bool(self.texts.get(thread_id, "").strip())

    def drafted(self) -> set[int]:
        """The threads with unsent text."""
        return {thread_id for thread_id in self.texts if self.has_draft(thread_id)}

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
        for pending in sorted(self._pending):  # with one a failed write left: asked again now
            text = self.texts.get(pending, "")
            self._writer.ask(
                self._write,
                pending,
                text,
                on_done=lambda error, t=pending, x=text: self._written(t, x, error),
                coalesce=("draft", pending),
            )

    def flush(self) -> None:
        """At quit (no event loop runs the writer's answers any more): what is still pending
        is written after what was asked before, and waited for."""
        for thread_id in sorted(self._pending):
            text = self.texts.get(thread_id, "")
            self._written(thread_id, text, self._writer.call(self._write, thread_id, text))

    def keep_orphan(self, text: str) -> int | None:
        """Text typed while no thread was open becomes a new chat's draft (that chat opens
        at the next start) instead of being dropped; the thread's id, None if it failed.
        At quit: waits for the writer."""
        try:
            thread_id = self._writer.call(self._new_chat, self.drafted())
        except StorageError as exc:
            log.warning("the unsent text could not be kept: %s", exc)
            return None
        self.store(thread_id, text)
        return thread_id

    def _new_chat(self, drafted: set[int]) -> int:
        """On the writer's thread: an unused thread (one with a draft is in use), else a new one."""
        unused = self._store.unused_thread()
        if unused is not None and unused not in drafted:
            return unused
        return self._store.create_thread().id

    def _write(self, thread_id: int, text: str) -> str:
        """On the writer's thread (or at quit): one draft; why it failed, or ""."""
        try:
            self._store.save_draft(thread_id, text)
        except KeyError:  # the thread is gone: nothing to keep it with
            pass
        except StorageError as exc:
            log.warning("draft not saved: %s", exc)
            return str(exc)
        return ""

    def _written(self, thread_id: int, text: str, error: str) -> None:
        if error:
            self.notice.emit(f"The draft could not be saved yet: {error}", 8000)
        elif self.texts.get(thread_id, "") == text:  # not typed on since
            self._pending.discard(thread_id)
