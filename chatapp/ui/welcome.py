"""The first-start view: getting-started text over the conversation while it is empty
(a fresh start, a new chat)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractItemModel, QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractItemView, QLabel

if TYPE_CHECKING:
    from chatapp.ui.model_controller import ModelController
    from chatapp.ui.session import ChatSession

BUILTIN = (
    "<p>The built-in model, SmolLM2-135M, is tiny: good for trying the app, short chats and "
    "simple rewording, not for facts or long reasoning. Load your own GGUF model with "
    "<b>Model ▸ Load model file…</b> (Ctrl+O), or drop the file on this window.</p>"
)
OWN = (
    "<p>Replies come from <b>{name}</b>. Another model: the Model list below, "
    "<b>Model ▸ Load model file…</b> (Ctrl+O), or drop the file on this window.</p>"
)
NONE = (
    "<p>No model is loaded. Load a GGUF model with <b>Model ▸ Load model file…</b> (Ctrl+O), "
    "or drop the file on this window.</p>"
)


def welcome_text(model: str | None = None, builtin: bool = True) -> str:
    """The getting-started text for the model replies come from (`model`: its name, None when
    none is loaded or being loaded): naming the built-in model's limits only when it is the
    one in use."""
    if builtin:
        about = BUILTIN
    elif model is None:
        about = NONE
    else:
        about = OWN.format(name=html.escape(model))
    return (
        "<h3>Start a conversation</h3>"
        "<p>Type below and press Enter (Shift+Enter for a new line).</p>"
        + about
        + "<p>Threads stay on this computer; chatapp remembers what you told it across days "
        "(View ▸ Memory panel, Ctrl+M). All keys: <b>Help ▸ Keyboard shortcuts</b> (Ctrl+/).</p>"
    )


WELCOME = welcome_text()

COLUMN = 560  # px: the text's column width where the view is wider
MARGIN = 24


class Welcome(QLabel):
    """Shown over `view` while `model` has no rows; it follows the view's size."""

    def __init__(self, view: QAbstractItemView, model: QAbstractItemModel) -> None:
        super().__init__(WELCOME, view.viewport())
        self._model = model
        self.setAccessibleName("Getting started")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        model.modelReset.connect(self.update_shown)
        model.rowsInserted.connect(self.update_shown)
        model.rowsRemoved.connect(self.update_shown)
        self._viewport = view.viewport()
        self._viewport.installEventFilter(self)

    def show_model(self, model: str | None, builtin: bool) -> None:
        """Name the model replies come from (see `welcome_text`)."""
        self.setText(welcome_text(model, builtin))

    def name_model_of(self, session: ChatSession, models: ModelController) -> None:
        """Name the model loaded (or being loaded), not always the built-in one."""
        from chatapp.config.model_settings import model_key

        info = session.model_info
        spec = models.spec if models.loading else None
        path, name = (
            (info.path, info.name) if info else (spec.path, spec.name) if spec else ("", "")
        )
        builtin = models.builtin_model()
        is_builtin = bool(path) and builtin is not None and model_key(path) == model_key(builtin)
        self.show_model(name or None, is_builtin)

    def update_shown(self, *_args: object) -> None:
        empty = self._model.rowCount() == 0
        self.setVisible(empty)
        if empty:
            self._fit()
            self.raise_()

    def _fit(self) -> None:
        """Cover the viewport, the text in a centred column of a readable width."""
        rect = self._viewport.rect()
        side = max(MARGIN, (rect.width() - COLUMN) // 2)
        self.setContentsMargins(side, MARGIN, side, MARGIN)
        self.setGeometry(rect)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # isHidden, not isVisible: the view's first resizes come before the window is shown,
        # and a label fitted only when visible kept the size it had then (a narrow top-left box)
        resized = watched is self._viewport and event.type() == QEvent.Type.Resize
        if resized and not self.isHidden():
            self._fit()
        return super().eventFilter(watched, event)
