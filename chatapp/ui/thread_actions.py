"""What a person can do to a thread from the thread list: rename, pin, export, delete (the
Delete key and the context menu) and the Trash. Opening and leaving a thread stays with
the window, which owns the open thread."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtWidgets import QInputDialog, QMenu

from chatapp.ui.trash import TrashDialog

if TYPE_CHECKING:
    from chatapp.ui.main_window import MainWindow


class ThreadActions(QObject):
    """The open Trash dialog is kept as `trash_dialog`."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.trash_dialog: TrashDialog | None = None
        self._view = view = window.thread_view
        view.doubleClicked.connect(lambda _i: self.rename())
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self.menu)
        view.installEventFilter(self)  # Delete deletes the selected thread (not elsewhere)

    def rename(self) -> None:
        window = self._window
        if window.current_thread is None:
            return
        thread = window.store.thread(window.current_thread)
        title, ok = QInputDialog.getText(window, "Rename thread", "Title:", text=thread.title)
        if ok and title.strip():
            window.store.rename_thread(thread.id, title)
            window.refresh_threads()

    def pin(self, thread_id: int, pinned: bool) -> None:
        self._window.store.pin_thread(thread_id, pinned)
        self._window.refresh_threads()

    def menu(self, pos: QPoint) -> None:
        window = self._window
        index = self._view.indexAt(pos)
        thread = window.threads_model.thread_at(index.row()) if index.isValid() else None
        if thread is None:
            return
        self._view.setCurrentIndex(index)
        menu = QMenu(window)
        menu.addAction("Rename…", self.rename)
        pin = "Unpin" if thread.pinned else "Pin to top"
        menu.addAction(pin, lambda: self.pin(thread.id, not thread.pinned))
        menu.addAction("Export…", window.files.export_thread)
        menu.addSeparator()
        menu.addAction("Delete", window.delete_thread)
        menu.exec(self._view.viewport().mapToGlobal(pos))

    def show_trash(self) -> None:
        """Deleted threads: restore them, or delete them for good (asked first)."""
        window = self._window
        dialog = TrashDialog(window.store, window.confirm, window)
        dialog.restored.connect(window.refresh_threads)
        dialog.forgotten.connect(window.undo.forget)
        dialog.error.connect(window.show_error)
        self.trash_dialog = dialog
        dialog.open()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self._view
            and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Delete
            and not event.modifiers()
        ):
            self._window.delete_thread()
            return True
        return super().eventFilter(watched, event)
