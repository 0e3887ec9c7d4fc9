"""How text is cut into words, sentences and word stems: one home for the patterns the store's
search, recall, the context builder and the fact rules share (they were copied in each)."""

from __future__ import annotations

import re
from collections.abc import Collection

WORD = re.compile(r"\w+")  # a word in any script: search, recall, excerpts
ASCII_WORD = re.compile(r"[a-z0-9]+")  # a lower-cased word as the English fact rules read it
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")  # sentences: a fact is one of them
# finer pieces for an excerpt of a long message: a colon or semicolon also ends one
CLAUSE = re.compile(r"(?<=[.!?:;])\s+|\n+")


def stems(
    text: str, stop: Collection[str], shortest: int, word: re.Pattern[str] = WORD
) -> set[str]:
    """The text's words cut to five letters ("moved"/"moving", "painting"/"paints" meet),
    without `stop` words and words shorter than `shortest`."""
    return {w[:5] for w in word.findall(text.lower()) if w not in stop and len(w) >= shortest}
