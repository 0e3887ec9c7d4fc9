"""Helpers shared by the memory tests: a word-count tokenizer standing in for the model's,
a day of March 2026, and a user message stored at a given time."""

from __future__ import annotations

import datetime as dt

from chatapp.domain import Message, Role
from chatapp.store import Store


def words(text: str) -> int:
    return len(text.split()) + 1


def day(n: int, hour: int = 10) -> float:
    return dt.datetime(2026, 3, 1 + n, hour).timestamp()


def ask(store: Store, thread_id: int, text: str, when: float) -> Message:
    return store.add_message(thread_id, Role.USER, text, created_at=when)


def chatter(store: Store, thread_id: int, exchanges: int, start: float) -> None:
    """Small talk about the weather and films, a minute per exchange from `start`: old
    history that matches nothing a test asks."""
    for j in range(exchanges):
        store.add_message(
            thread_id,
            Role.USER,
            f"Chatter {j} about the weather and films.",
            created_at=start + j * 60,
        )
        store.add_message(
            thread_id,
            Role.ASSISTANT,
            f"A reply about films number {j}.",
            created_at=start + j * 60 + 30,
        )
