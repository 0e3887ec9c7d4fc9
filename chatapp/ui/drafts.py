"""Unsent text per thread, kept across restarts and crashes.

A draft is saved after a pause in typing, on a thread switch and at quit. A write the
store refused (a full disk) stays in memory and is tried again on every later save (and
at quit) until it is written, not only when its text changes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from chatapp.errors import StorageError
from chatapp.store import Store

log = logging.getLogger("chatapp.ui")


class Drafts(QObject):
    """Signals: notice(str, int) a status message (a draft that could not be saved yet)."""

    notice = Signal(str, int)
    SAVE_MS = 1_500  # a draft is saved this long after the last keystroke

    def __init__(
        self, store: Store, current: Callable[[], tuple[int | None, str]], parent: QObject | None
    ) -> None:
        """`current` gives the open thread and the composer's text, read at save time."""
        super().__init__(parent)
        self._store = store
        self._current = current
        try:
            self.texts: dict[int, str] = store.drafts()
        except StorageError as exc:
            log.warning("drafts could not be read: %s", exc)
            self.texts = {}
        self._unsaved: set[int] = set()
        self.timer = QTimer(self, singleShot=True, interval=self.SAVE_MS)
        self.timer.timeout.connect(self.save)

    def text(self, thread_id: int | None) -> str:
        return self.texts.get(thread_id, "") if thread_id else ""

    @Slot()
    def save(self) -> None:
        """The open thread's unsent text goes to the store."""
        self.timer.stop()
        thread_id, text = self._current()
        if thread_id is not None:
            self.store(thread_id, text)

    def store(self, thread_id: int, text: str) -> None:
        for unsaved in sorted(self._unsaved - {thread_id}):
            self._write(unsaved, self.texts.get(unsaved, ""))
        if self.texts.get(thread_id, "") == text and thread_id not in self._unsaved:
            return
        if text.strip():
            self.texts[thread_id] = text
        else:
            self.texts.pop(thread_id, None)
        self._write(thread_id, text)

    def _write(self, thread_id: int, text: str) -> None:
        try:
            self._store.save_draft(thread_id, text)
        except KeyError:  # the thread is gone: nothing to keep it with
            self._unsaved.discard(thread_id)
        except StorageError as exc:
            self._unsaved.add(thread_id)
            log.warning("draft not saved: %s", exc)
            self.notice.emit(f"The draft could not be saved yet: {exc}", 8000)
        else:
            self._unsaved.discard(thread_id)

    def keep_orphan(self, text: str) -> int | None:
        """Text typed while no thread was open becomes a new chat's draft (that chat opens
        at the next start) instead of being dropped; the thread's id, None if it failed."""
        try:
            unused = self._store.unused_thread()
            thread_id = unused if unused is not None else self._store.create_thread().id
        except StorageError as exc:
            log.warning("the unsent text could not be kept: %s", exc)
            return None
        self.store(thread_id, text)
        return thread_id
