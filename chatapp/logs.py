"""Logging: one named logger per subsystem and a ring of recent lines for crash reports."""

from __future__ import annotations

import collections
import logging
import threading

RING_SIZE = 500


class RingHandler(logging.Handler):
    """Keeps the last lines of the log in memory, to attach to crash reports."""

    def __init__(self, size: int = RING_SIZE) -> None:
        super().__init__()
        self._lines: collections.deque[str] = collections.deque(maxlen=size)
        self._lock_ring = threading.Lock()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 (a broken log call must never break the app)
            line = str(record.msg)
        with self._lock_ring:
            self._lines.append(line)

    def lines(self) -> list[str]:
        with self._lock_ring:
            return list(self._lines)


ring = RingHandler()


def setup(level: int = logging.INFO, log_file: str | None = None) -> None:
    root = logging.getLogger("chatapp")
    root.setLevel(logging.DEBUG)
    if ring not in root.handlers:
        root.addHandler(ring)
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setLevel(level)
        handler.setFormatter(ring.formatter)
        root.addHandler(handler)
