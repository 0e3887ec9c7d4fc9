"""What a person can do to a message in the conversation: its context menu (copy, edit and
resend, regenerate, delete, versions) and the buttons drawn in it (‹ › versions, a code
block's Copy, links), found by hit tests against the delegate's layout."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QModelIndex, QObject, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from chatapp.domain import Message, Role
from chatapp.errors import StorageError
from chatapp.ui.highlight import code_blocks
from chatapp.ui.session import BUSY, NO_MODEL
from chatapp.ui.transcript import MessageDelegate

if TYPE_CHECKING:
    from chatapp.ui.main_window import MainWindow


class MessageActions(QObject):
    """Filters the transcript's viewport: a click on ‹ › switches the version, on a code
    block's Copy copies it, on a link opens it (after asking)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.view = window.transcript_view
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self.menu)
        self._viewport = self.view.viewport()  # kept: compared while the view is torn down
        self._viewport.setMouseTracking(True)
        self._viewport.installEventFilter(self)

    def menu(self, pos: QPoint) -> None:
        window = self._window
        index = self.view.indexAt(pos)
        if not index.isValid():  # the Menu key: the selected message
            index = self.view.currentIndex()
            pos = self.view.visualRect(index).center()
        message = window.transcript.message_at(index.row()) if index.isValid() else None
        if message is None:
            return
        menu = QMenu(window)
        menu.addAction("Copy", lambda: self.copy(message.content))
        for n, code in enumerate(code_blocks(message.content)[:5]):
            label = "Copy code" if n == 0 else f"Copy code block {n + 1}"
            menu.addAction(label, lambda c=code: self.copy(c))
        if message.role == Role.USER:
            menu.addAction("Edit and resend…", lambda: self.edit(message))
        elif message.role == Role.ASSISTANT:
            menu.addAction("Regenerate", lambda: self.regenerate(message))
        menu.addAction("Delete…", lambda: self.delete(message))
        if message.version_count > 1:
            prev = menu.addAction("‹ Previous version", lambda: self.switch_version(message, -1))
            prev.setEnabled(message.version_index > 1)
            nxt = menu.addAction("Next version ›", lambda: self.switch_version(message, +1))
            nxt.setEnabled(message.version_index < message.version_count)
        menu.exec(self.view.viewport().mapToGlobal(pos))

    def regenerate(self, message: Message) -> bool:
        """A new version of a reply. One in the middle of the thread says first that the
        messages after it stay with the current version (reachable with ‹ ›)."""
        if self._window.session.busy:
            self._window.busy_notice("regenerate")  # as Enter does: no dialog in the way
            return False
        transcript = self._window.transcript
        row = transcript.row_of(message.id)
        later = transcript.rowCount() - 1 - row if row >= 0 else 0
        if later > 0 and not self._window.confirm(
            "Regenerate reply",
            f"The {later} message(s) after this reply stay with its current version; the new "
            "reply starts a new branch. Switch back with ‹ › on the reply.\n\nRegenerate it?",
        ):
            return False
        return self._window.session.regenerate(message.id)

    def delete(self, message: Message) -> None:
        """Delete a message and what follows it on its branch (asks first; other versions stay)."""
        window = self._window
        if window.session.busy:
            window.show_error(BUSY)
            return
        if not window.confirm(  # No is the default: Enter does not delete
            "Delete message",
            "Delete this message and the messages after it on this branch?\n\n"
            "Other versions (‹ ›) are kept. This cannot be undone.",
        ):
            return
        window.writer.ask(
            window.store.delete_message,
            message.id,
            on_done=lambda _r: (window.transcript.reload(), window.memory_panel.refresh()),
            on_error=window.show_error,
        )

    def copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self._window.notice("Copied.", 2000)

    def edit(self, message: Message) -> None:
        session = self._window.session
        if session.model_info is None:  # said before the editing, not after it (text lost)
            self._window.show_error(NO_MODEL)
            return
        text = message.content
        while True:
            dialog = EditDialog(text, self._window)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            text = dialog.text()
            if not text.strip() or text == message.content:
                return
            if session.edit_and_resend(message.id, text):
                return
            if session.model_info is not None:
                return  # refused for another reason, already said (busy, a storage error)
            # the model went while the dialog was open: the edited text is offered again

    def switch_version(self, message: Message, step: int) -> None:
        """Show another version of a message (‹ 2/3 ›); what follows it switches with it."""
        window = self._window
        if window.session.busy:
            window.show_error(BUSY)
            return
        versions = window.store.versions(message.id)
        position = versions.index(message.id) + step
        if 0 <= position < len(versions):
            self._show_version(versions[position])

    def _show_version(self, message_id: int) -> None:
        """Bring a version onto the shown path (by the store's writer), then show it there."""
        window = self._window

        def shown(_result: object) -> None:
            window.transcript.reload()
            window.show_message(message_id)

        window.writer.ask(
            window.store.select_version, message_id, on_done=shown, on_error=window.show_error
        )

    def show_found(self, message_id: int) -> None:
        """A search hit in the open thread: a version off the shown path is brought onto it
        (as ‹ › would, the messages after it switch with it) so the found text is what shows."""
        window = self._window
        try:
            msg = window.store.message(message_id)
            shown = window.store.on_path_at_depths(msg.thread_id, [msg.depth])
        except (KeyError, StorageError):
            window.notice("That message is no longer there.", 8000)
            return
        if (message_id, msg.depth) not in [tuple(row) for row in shown]:
            if window.session.busy:
                window.busy_notice("show that version")
                return
            self._show_version(message_id)
            return
        window.show_message(message_id)

    def open_link(self, url: str) -> bool:
        """A link opens in the browser after the user has seen where it goes."""
        target = QUrl(url)
        if target.scheme() not in ("http", "https", "mailto"):
            self._window.notice(f"Not opened: {url} (only web and mail links open)", 8000)
            return False
        if not self._window.confirm(
            "Open link", f"Open this address in your browser?\n\n{target.toDisplayString()}"
        ):
            return False
        return QDesktopServices.openUrl(target)

    # -- hit tests against what the delegate painted -------------------------

    def option(self, index: QModelIndex) -> QStyleOptionViewItem:
        """The option the delegate painted `index` with."""
        option = QStyleOptionViewItem()
        option.rect = self.view.visualRect(index)
        option.font = self.view.font()
        option.palette = self.view.palette()
        return option

    def _delegate_at(self, pos: QPoint) -> tuple[QModelIndex, MessageDelegate] | None:
        index = self.view.indexAt(pos)
        delegate = self.view.itemDelegate()
        if not index.isValid() or not isinstance(delegate, MessageDelegate):
            return None
        return index, delegate

    def code_button_at(self, pos: QPoint) -> str | None:
        """The code a message's "Copy" button under `pos` copies, if one is there."""
        found = self._delegate_at(pos)
        if found is None:
            return None
        index, delegate = found
        for area, code in delegate.code_buttons(self.option(index), index):
            if area.contains(QPointF(pos)):
                return code
        return None

    def link_at(self, pos: QPoint) -> str:
        found = self._delegate_at(pos)
        if found is None:
            return ""
        index, delegate = found
        return delegate.link_at(self.option(index), index, QPointF(pos))

    def version_arrow_at(self, pos: QPoint) -> tuple[Message, int] | None:
        """The message and step (-1 ‹, +1 ›) of a usable version arrow under `pos`."""
        index = self.view.indexAt(pos)
        message = self._window.transcript.message_at(index.row()) if index.isValid() else None
        if message is None or message.version_count <= 1:
            return None
        delegate = self.view.itemDelegate()
        if not isinstance(delegate, MessageDelegate):
            return None
        arrows = delegate.version_arrows(self.option(index), index)
        if arrows is None:
            return None
        if arrows[0].contains(QPointF(pos)) and message.version_index > 1:
            return message, -1
        if arrows[1].contains(QPointF(pos)) and message.version_index < message.version_count:
            return message, +1
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self._viewport:
            return super().eventFilter(watched, event)
        kind = event.type()
        if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            hit = self.version_arrow_at(pos)
            if hit is not None:
                self.switch_version(*hit)
                return True
            code = self.code_button_at(pos)
            if code is not None:
                self.copy(code)
                return True
            link = self.link_at(pos)
            if link:
                self.open_link(link)
                return True
        elif kind == QEvent.Type.MouseMove:
            pos = event.position().toPoint()
            link = self.link_at(pos)  # once per move: it lays out the message's document
            over = bool(link) or (
                self.version_arrow_at(pos) is not None or self.code_button_at(pos) is not None
            )
            cursor = Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor
            watched.setCursor(cursor)
            watched.setToolTip(link)
        return super().eventFilter(watched, event)


class EditDialog(QDialog):
    """Edit and resend: Enter makes a new line, as in the composer's Shift+Enter; Ctrl+Enter
    sends (a keyboard user could not send from QInputDialog's multi-line box)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit message")
        self.editor = QPlainTextEdit(text)
        self.editor.setAccessibleName("Message")
        self.editor.installEventFilter(self)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        send = buttons.button(QDialogButtonBox.StandardButton.Ok)
        send.setText("Send")
        send.setToolTip("Ctrl+Enter")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Message (Ctrl+Enter sends; the old version is kept):"))
        layout.addWidget(self.editor)
        layout.addWidget(buttons)
        self.resize(520, 280)
        self.editor.setFocus()
        self.editor.moveCursor(QTextCursor.MoveOperation.End)

    def text(self) -> str:
        return self.editor.toPlainText()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.editor
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.accept()
            return True
        return super().eventFilter(watched, event)
