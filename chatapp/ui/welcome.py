"""The first-start view: getting-started text over the conversation while it is empty
(a fresh start, a new chat)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel

WELCOME = (
    "<h3>Start a conversation</h3>"
    "<p>Type below and press Enter (Shift+Enter for a new line).</p>"
    "<p>The built-in model, SmolLM2-135M, is tiny: good for trying the app, short chats and "
    "simple rewording, not for facts or long reasoning. Load your own GGUF model with "
    "<b>Model ▸ Load model file…</b> (Ctrl+O), or drop the file on this window.</p>"
    "<p>Threads stay on this computer; chatapp remembers what you told it across days "
    "(View ▸ Memory panel, Ctrl+M). All keys: <b>Help ▸ Keyboard shortcuts</b> (Ctrl+/).</p>"
)


class Welcome(QLabel):
    """Shown over `view` while `model` has no rows; it follows the view's size."""

    def __init__(self, view: QAbstractItemView, model: QAbstractItemModel) -> None:
        super().__init__(WELCOME, view.viewport())
        self._model = model
        self.setAccessibleName("Getting started")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setContentsMargins(40, 20, 40, 20)
        model.modelReset.connect(self.update_shown)
        model.rowsInserted.connect(self.update_shown)
        model.rowsRemoved.connect(self.update_shown)
        self._viewport = view.viewport()
        self._viewport.installEventFilter(self)

    def update_shown(self, *_args: object) -> None:
        empty = self._model.rowCount() == 0
        self.setVisible(empty)
        if empty:
            self.setGeometry(self._viewport.rect())
            self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        resized = watched is self._viewport and event.type() == QEvent.Type.Resize
        if resized and self.isVisible():
            self.setGeometry(self._viewport.rect())
        return super().eventFilter(watched, event)
