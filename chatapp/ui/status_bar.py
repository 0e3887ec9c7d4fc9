"""A status bar whose messages are never drawn under the permanent labels.

QStatusBar paints its temporary message across the bar, under the permanent
widgets on the right (context, speed, model): a long message ("Exported to
/home/…/a long name.md") was cut there. Here the message lives in a label that
the bar's layout gives the free width to; what does not fit is elided in the
middle (paths keep their file name) and the whole text is the tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QStatusBar, QWidget

ERROR_MARK = "⚠ "
SAVING_WAITS = "Saving waits for "


class MessageLabel(QLabel):
    """Shows as much of its text as fits, elided in the middle; the tooltip has all of it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setAccessibleName("Status message")

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, width)
        if shown != self.text():
            self.setText(shown)


class StatusBar(QStatusBar):
    """`showMessage` and `currentMessage` work as in QStatusBar; the text goes to `message`.

    The message label is the first permanent widget, stretched, so the layout (not the
    paint) decides its room, and temporary messages do not hide it. QStatusBar paints its
    own copy only left of the first permanent widget: here that is no room at all.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = MessageLabel(self)
        self.addPermanentWidget(self.message, 1)
        self.messageChanged.connect(self.message.set_full_text)

    def clear_error(self) -> None:
        """A success makes an earlier error stale: it goes, other messages stay."""
        if self.currentMessage().startswith(ERROR_MARK):
            self.clearMessage()

    def saving_waits(self, waiting: bool, importing: bool) -> None:
        """The store's writer has made a write wait (`StoreWriter.waiting`): said while it
        lasts, so a person does not wonder whether what they did was lost."""
        if waiting:
            why = "the import to finish" if importing else "the database"
            self.showMessage(f"{SAVING_WAITS}{why}; what you do is kept.")
        elif self.currentMessage().startswith(SAVING_WAITS):
            self.clearMessage()
