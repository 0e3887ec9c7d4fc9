"""Times as chatapp stores them (seconds since 1970, UTC), checked before use.

A time read from a file someone else wrote (an import, a damaged database) can
be text, NaN, infinite or centuries away; `datetime.fromtimestamp` raises on
those, and inside a Qt paint that takes the whole window down. Everything that
formats a stored time goes through here.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

MIN_TIME = 0.0  # 1970-01-01
MAX_TIME = 32503680000.0  # 3000-01-01
RANGE_TEXT = "a time in seconds since 1970 (between the years 1970 and 3000)"


def is_time(value: Any) -> bool:
    """A real number (not a bool) in chatapp's range of times."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and MIN_TIME <= value <= MAX_TIME


def local(value: Any) -> dt.datetime | None:
    """The local date and time of a stored time, or None when it is not a usable time."""
    if not is_time(value):
        return None
    try:
        return dt.datetime.fromtimestamp(value)
    except (OverflowError, OSError, ValueError):
        return None


def format_local(value: Any, pattern: str, unknown: str = "unknown date") -> str:
    when = local(value)
    return when.strftime(pattern) if when is not None else unknown
