"""Deleted threads: the Undo that follows a delete, and the Trash dialog (restore or
delete for good). Kept out of the window so it only shows them and asks; the changes are
asked of the store's one writer and shown when they have landed."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chatapp.store import Store
from chatapp.store.store import TRASH_DAYS
from chatapp.timestamps import local
from chatapp.workers.store_writer import StoreWriter

TRASH_TITLE_ROLE = Qt.ItemDataRole.UserRole + 2  # the title of a thread in the trash dialog


class UndoDelete(QObject):
    """The status bar's Undo after a delete; one timer, each delete restarts it.

    Signals: restored(int) a thread came back; notice(str, int) a status message;
    error(str) the store refused."""

    restored = Signal(int)
    notice = Signal(str, int)
    error = Signal(str)

    def __init__(self, store: Store, writer: StoreWriter, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._writer = writer
        self.button = QPushButton("Undo")
        self.button.setAccessibleName("Undo delete")
        self.button.hide()
        self.button.clicked.connect(self.undo)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.button.hide)

    def offer(self, thread_id: int, ms: int) -> None:
        """Show Undo for `ms` for the thread just moved to the trash."""
        self.button.setProperty("thread_id", thread_id)
        self.button.show()
        self._timer.start(ms)

    def undo(self) -> None:
        thread_id = self.button.property("thread_id")
        self._timer.stop()
        self.button.hide()
        if thread_id is None:
            return
        self._writer.ask(
            self._store.restore_thread,
            int(thread_id),
            on_done=lambda restored: self._restored(int(thread_id), restored),
            on_error=self.error.emit,
        )

    def _restored(self, thread_id: int, restored: bool) -> None:
        if not restored:
            self.notice.emit("That thread was deleted for good; it cannot be restored.", 8000)
            return
        self.restored.emit(thread_id)
        self.notice.emit("Thread restored.", 5000)

    def forget(self, thread_ids: set[int] | None = None) -> None:
        """Hide the Undo of a deletion whose thread was deleted for good (None: any)."""
        shown = self.button.property("thread_id")
        if shown is not None and (thread_ids is None or int(shown) in thread_ids):
            self._timer.stop()
            self.button.hide()
            self.button.setProperty("thread_id", None)


class TrashDialog(QDialog):
    """Deleted threads stay TRASH_DAYS days: restore them, or delete them for good (asked
    first). Signals: restored() a thread came back; forgotten(object) threads deleted for
    good (a set of ids, None for all); error(str)."""

    restored = Signal()
    forgotten = Signal(object)
    error = Signal(str)

    def __init__(
        self,
        store: Store,
        writer: StoreWriter,
        confirm: Callable[[str, str], bool],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._store = store
        self._writer = writer
        self._confirm = confirm
        self.setWindowTitle("Trash")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Deleted threads are kept for {TRASH_DAYS} days."))
        self.listing = QListWidget()
        self.listing.setAccessibleName("Deleted threads")
        for thread in store.threads(trash=True):
            deleted = local(thread.deleted_at)  # a damaged time must not take the window down
            when = f"{deleted:%d %b %Y %H:%M}" if deleted is not None else "at an unknown date"
            gone = "?"
            if deleted is not None:
                gone = f"{deleted + dt.timedelta(days=TRASH_DAYS):%d %b %Y}"
            title = thread.title or "New chat"
            item = QListWidgetItem(f"{title}  —  deleted {when}")
            item.setToolTip(f"Deleted {when}; deleted for good after {gone}")
            item.setData(Qt.ItemDataRole.UserRole, thread.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, f"deleted {when}")
            item.setData(TRASH_TITLE_ROLE, title)
            self.listing.addItem(item)
        layout.addWidget(self.listing)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        restore = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.ActionRole)
        forever = buttons.addButton("Delete forever…", QDialogButtonBox.ButtonRole.DestructiveRole)
        empty = buttons.addButton("Empty trash…", QDialogButtonBox.ButtonRole.DestructiveRole)
        layout.addWidget(buttons)
        buttons.rejected.connect(self.reject)
        restore.clicked.connect(self.restore_current)
        forever.clicked.connect(self.delete_current)
        empty.clicked.connect(self.empty)

    def restore_current(self) -> None:
        item = self.listing.currentItem()
        if item is not None:
            self._writer.ask(
                self._store.restore_thread,
                item.data(Qt.ItemDataRole.UserRole),
                on_done=lambda _r: self._gone(item, self.restored.emit),
                on_error=self.error.emit,
            )

    def delete_current(self) -> None:
        item = self.listing.currentItem()
        if item is None:
            return
        title = item.data(TRASH_TITLE_ROLE)
        if not self._confirm(
            "Delete forever", f"Delete “{title}” for good? This cannot be undone."
        ):
            return
        thread_id = int(item.data(Qt.ItemDataRole.UserRole))
        self._writer.ask(
            self._delete_forever,
            thread_id,
            on_done=lambda error: (
                self.error.emit(error)
                if error
                else self._gone(item, lambda: self.forgotten.emit({thread_id}))
            ),
            on_error=self.error.emit,
        )

    def _delete_forever(self, thread_id: int) -> str:
        """On the writer's thread: why it could not be deleted, or ""."""
        try:
            self._store.delete_forever(thread_id)
        except KeyError as exc:  # restored (or gone) meanwhile
            return str(exc)
        return ""

    def _gone(self, item: QListWidgetItem, then: Callable[[], None]) -> None:
        row = self.listing.row(item)
        if row >= 0:
            self.listing.takeItem(row)
        then()

    def empty(self) -> None:
        count = self.listing.count()
        if count == 0:
            return
        if not self._confirm(
            "Empty trash",
            f"Delete the {count} thread(s) in the trash for good? This cannot be undone.",
        ):
            return
        self._writer.ask(
            self._store.purge_trash,
            days=0,
            now=time.time() + 1,
            on_done=lambda _count: (self.listing.clear(), self.forgotten.emit(None)),
            on_error=self.error.emit,
        )
