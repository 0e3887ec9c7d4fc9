"""The status bar's permanent labels: the model in use, the last reply's speed, and how
much of the context the shown thread's prompt takes."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel

from chatapp.engine.backend import ReplyResult
from chatapp.ui.session import ChatSession
from chatapp.ui.transcript import TranscriptModel


class ReplyStatus(QObject):
    def __init__(
        self,
        session: ChatSession,
        transcript: TranscriptModel,
        current: Callable[[], int | None],
        parent: QObject | None = None,
    ) -> None:
        """`current` gives the shown thread: the context counter is that thread's."""
        super().__init__(parent)
        self._session = session
        self._transcript = transcript
        self._current = current
        self.model_label = QLabel("Loading model…")
        self.model_label.setAccessibleName("Model status")
        self.speed_label = QLabel("")
        self.context_label = QLabel("")
        self._speeds: dict[int, tuple[str, str]] = {}  # thread -> its last reply's speed
        session.context_used.connect(self.show_context_used)
        session.reply_stats.connect(self.show_stats)

    @Slot(str, str)
    def show_model(self, text: str, tooltip: str) -> None:
        self.model_label.setText(text)
        if tooltip:
            self.model_label.setToolTip(tooltip)

    @Slot(int, int)
    def show_context_used(self, used: int, size: int) -> None:
        if self._session.reply_thread == self._current():
            self.context_label.setText(f"Context {used}/{size}")

    def show_thread_context(self, thread_id: int | None) -> None:
        """The shown thread's own context use and reply speed: its latest reply that counted
        its prompt (one cut off by a crash did not: the one before it still tells), or
        nothing yet; the speed of its own last reply in this session, not another thread's."""
        info = self._session.model_info
        used = None
        if thread_id is not None:
            for row in range(self._transcript.rowCount() - 1, -1, -1):
                message = self._transcript.message_at(row)
                if message is not None and message.prompt_tokens:
                    used = message.prompt_tokens
                    break
        if info is not None and used:
            self.context_label.setText(f"Context {used}/{info.n_ctx}")
        else:
            self.context_label.setText("")
        text, tip = self._speeds.get(thread_id, ("", "")) if thread_id is not None else ("", "")
        self.speed_label.setText(text)
        self.speed_label.setToolTip(tip)

    @Slot(object)
    def show_stats(self, result: ReplyResult) -> None:
        thread = self._session.reply_thread
        if not result.completion_tokens or thread is None:
            return
        text = f"{result.tokens_per_second:.1f} tokens/s"
        tip = (
            f"{result.completion_tokens} tokens in {result.seconds:.1f} s, "
            f"first after {result.time_to_first_token:.2f} s"
        )
        self._speeds[thread] = (text, tip)
        if thread == self._current():
            self.speed_label.setText(text)
            self.speed_label.setToolTip(tip)
