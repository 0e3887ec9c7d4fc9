"""Progress and cancel for long exports (a 100,000-message thread takes seconds)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from chatapp.errors import UserFacingError


class ExportCancelled(UserFacingError):
    """The user cancelled; no file was written."""


class Progress:
    """Reports a fraction in [0, 1] across phases; raises ExportCancelled once cancel is set."""

    def __init__(
        self, report: Callable[[float], None] | None = None, cancel: threading.Event | None = None
    ) -> None:
        self._report = report
        self.cancel = cancel or threading.Event()
        self._span = (0.0, 1.0)

    def phase(self, start: float, end: float) -> None:
        self.check()
        self._span = (start, end)
        if self._report:
            self._report(start)

    def step(self, done: int, total: int) -> None:
        """Call in loops; cheap unless a report is due (every 2,000 items)."""
        if done % 2000 == 0:
            self.check()
            if self._report and total:
                start, end = self._span
                self._report(start + (end - start) * done / total)

    def at(self, done: int, total: int) -> None:
        """Like `step`, for loops of few but slow items (pages of a PDF): checks every time."""
        self.check()
        if self._report and total:
            start, end = self._span
            self._report(start + (end - start) * done / total)

    def done(self) -> None:
        """The file is written: a Cancel that comes now is too late to honour, and saying
        "cancelled, no file was written" beside the written file would be false."""
        self._span = (1.0, 1.0)
        if self._report:
            self._report(1.0)

    def check(self) -> None:
        if self.cancel.is_set():
            raise ExportCancelled("The export was cancelled; no file was written.")


NO_PROGRESS = Progress()
