"""What a person can do to a thread from the thread list: a new chat, rename, pin, export,
delete (the Delete key and the context menu) and the Trash. Opening and leaving a thread
stays with the window, which owns the open thread. Every change is asked of the store's one
writer; the list is reread when it has landed."""

from __future__ import annotations

from collections.abc import Callable
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

    def new_then(self, then: Callable[[int], None] | None = None) -> None:
        """A new chat, selected when it is stored, then `then(thread_id)`; an untouched one
        (no message, draft or settings) is reused, so pressing Ctrl+N again and again does
        not pile up empty threads."""
        window = self._window
        window.drafts.save()
        store, drafted = window.store, window.drafts.drafted()

        def open_new() -> int:  # on the writer's thread, after the draft saves asked above
            unused = store.unused_thread()
            if unused is not None and unused not in drafted:
                store.renew_thread(unused)
                return unused
            return store.create_thread().id

        def opened(thread_id: int) -> None:
            window.refresh_threads(select=thread_id)
            window.composer.setFocus()
            if then is not None:
                then(thread_id)

        window.writer.ask(open_new, on_done=opened, on_error=window.show_error)

    def rename(self) -> None:
        window = self._window
        if window.current_thread is None:
            return
        thread = window.store.thread(window.current_thread)
        title, ok = QInputDialog.getText(window, "Rename thread", "Title:", text=thread.title)
        if ok and title.strip():
            window.writer.ask(
                window.store.rename_thread,
                thread.id,
                title,
                on_done=lambda _r: window.refresh_threads(),
                on_error=window.show_error,
            )

    def pin(self, thread_id: int, pinned: bool) -> None:
        window = self._window
        window.writer.ask(
            window.store.pin_thread,
            thread_id,
            pinned,
            on_done=lambda _r: window.refresh_threads(),
            on_error=window.show_error,
        )

    def delete(self) -> None:
        """To the trash, with Undo in the status bar (and restorable for 30 days)."""
        window = self._window
        thread_id = window.current_thread
        if thread_id is None:
            return
        window.drafts.save()  # the draft stays with its thread (Undo brings both back)
        window.writer.ask(
            window.store.trash_thread,
            thread_id,
            on_done=lambda _r: self._trashed(thread_id),
            on_error=window.show_error,
        )

    def _trashed(self, thread_id: int) -> None:
        window = self._window
        if window.current_thread == thread_id:  # still open: it goes (else another one is)
            window.drafts.save()  # what was typed since the delete stays with the thread
            window.close_thread()
        window.refresh_threads()
        window.undo.offer(thread_id, window.UNDO_MS)
        window.notice("Thread moved to the trash (kept 30 days).", window.UNDO_MS)

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
        dialog = TrashDialog(window.store, window.writer, window.confirm, window)
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
            self.delete()
            return True
        return super().eventFilter(watched, event)
