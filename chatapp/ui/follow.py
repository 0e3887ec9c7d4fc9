"""The conversation follows its end while a reply streams in, until the person scrolls up;
scrolling back to the end resumes it. Scrolling to the top loads older messages."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QListView

from chatapp.ui.transcript import TranscriptModel


class FollowEnd(QObject):
    def __init__(self, view: QListView, transcript: TranscriptModel) -> None:
        super().__init__(view)
        self._view = view
        self._transcript = transcript
        self.following = True
        bar = view.verticalScrollBar()
        bar.valueChanged.connect(self._maybe_load_older)
        bar.valueChanged.connect(self._note_scroll)
        bar.rangeChanged.connect(self._keep_following)

    def resume(self) -> None:
        """Follow again (a thread opens at its end; the user's own message brings it back)."""
        self.following = True

    def now(self) -> None:
        """Scroll to the end at once if following."""
        if self.following:
            self._view.scrollToBottom()

    def soon(self) -> None:
        """Scroll to the end after the rows are laid out; following is checked again when it
        runs (the user may scroll up meanwhile)."""
        if self.following:
            QTimer.singleShot(0, self.now)

    @Slot(int)
    def _note_scroll(self, _value: int) -> None:
        bar = self._view.verticalScrollBar()
        self.following = bar.value() >= bar.maximum() - 4

    @Slot(int, int)
    def _keep_following(self, _low: int, high: int) -> None:
        """The rows grew (streamed text, a thread laid out after opening): stay at the end."""
        if self.following:
            self._view.verticalScrollBar().setValue(high)

    @Slot(int)
    def _maybe_load_older(self, value: int) -> None:
        if value == 0 and self._transcript.has_older():
            bar = self._view.verticalScrollBar()
            before = bar.maximum()
            if self._transcript.load_older():
                QTimer.singleShot(0, lambda: bar.setValue(bar.maximum() - before))
