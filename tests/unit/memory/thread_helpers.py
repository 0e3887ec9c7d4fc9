"""Helpers shared by the memory tests: a word-count tokenizer standing in for the model's,
a day of March 2026, a user message stored at a given time, and a user's slot as the bank
holds it."""

from __future__ import annotations

import datetime as dt

from chatapp.domain import Message, Role
from chatapp.store import Store
from chatapp.store.memory_tables import SlotRow


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


def user_slot(embedder, text: str, attribute: str | None, since: float, source: int) -> SlotRow:  # type: ignore[no-untyped-def]
    """A slot of the user's holding `text` since `since`, from message `source`."""
    return SlotRow(
        None,
        1,
        text,
        "user",
        embedder.encode_one(text),
        1.0,
        False,
        [source],
        since,
        since,
        None,
        attribute,
        since,
    )
