"""How the context tells the model when things were said."""

from __future__ import annotations

import datetime as dt


def day_phrase(timestamp: float, now: float) -> str:
    """'Tuesday 3 March 2026 (5 days ago)' in local time."""
    when = dt.datetime.fromtimestamp(timestamp)
    today = dt.datetime.fromtimestamp(now).date()
    days = (today - when.date()).days
    date = f"{when.strftime('%A')} {when.day} {when.strftime('%B')} {when.year}"
    if days == 0:
        ago = "today"
    elif days == 1:
        ago = "yesterday"
    elif days < 0:
        ago = "later"
    elif days < 14:
        ago = f"{days} days ago"
    elif days < 60:
        ago = f"{days // 7} weeks ago"
    elif days < 730:
        ago = f"{days // 30} months ago"
    else:
        ago = f"{days // 365} years ago"
    return f"{date} ({ago})"


def today_phrase(now: float) -> str:
    d = dt.datetime.fromtimestamp(now)
    return f"{d.strftime('%A')} {d.day} {d.strftime('%B')} {d.year}"
