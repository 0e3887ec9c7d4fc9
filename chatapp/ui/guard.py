"""Keeping one bad row from taking the window down.

PySide6 does not survive a Python exception raised inside a C++ virtual
override such as `data()`, `paint()` or `sizeHint()`: the process aborts or
segfaults before any excepthook can help (a thread with an unreadable time did
this at every start). Those overrides are wrapped here: the exception is
logged with its traceback, shown once in the window, and the row is drawn
with a fallback instead.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger("chatapp.ui")

F = TypeVar("F", bound=Callable[..., Any])

_reporter: Callable[[str], None] | None = None
_reported: set[tuple[str, str]] = set()


def set_reporter(report: Callable[[str], None] | None) -> None:
    """Where a caught problem is shown (the window's status bar and message box)."""
    global _reporter
    _reporter = report


def guarded(fallback: Any = None) -> Callable[[F], F]:
    """Wrap a Qt virtual override; on an exception return `fallback` (or call it with the
    override's arguments when it is callable)."""

    def wrap(func: F) -> F:
        @functools.wraps(func)
        def safe(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (anything here would abort the process)
                _report(func.__qualname__, exc)
                try:
                    return fallback(*args, **kwargs) if callable(fallback) else fallback
                except Exception:
                    log.exception("fallback of %s failed", func.__qualname__)
                    return None

        return safe  # type: ignore[return-value]

    return wrap


def _report(where: str, exc: Exception) -> None:
    key = (where, f"{type(exc).__name__}: {exc}")
    if key in _reported:
        return  # paint runs many times a second: log and show each problem once
    _reported.add(key)
    log.error("%s failed; the row is shown without it", where, exc_info=exc)
    if _reporter is not None:
        from PySide6.QtCore import QTimer

        report = _reporter
        message = (
            f"A stored item could not be shown ({key[1]}); the rest of the window works. "
            "Details are in chatapp.log."
        )
        QTimer.singleShot(0, lambda: report(message))  # not from inside a paint
