"""Bulk loading and upkeep for benchmarks, kept with the rest of the SQL.

A million messages through `Store.add_message` would take minutes per run (one transaction
and its triggers each): `chatapp.bench.store` loads them here in large transactions through
the same tables and triggers (the full-text index included), then measures the store's own
methods.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatapp.store.store import Store

ThreadRow = tuple[int, str, float, float]  # id, title, created_at, updated_at
MessageRow = tuple[int, int, int | None, int, str, str, float, float]
# id, thread_id, parent_id, depth, role, content, created_at, selected_at


def load_threads(store: Store, rows: Sequence[ThreadRow]) -> None:
    with store._tx() as conn:
        conn.executemany(
            "INSERT INTO threads (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)", rows
        )


def load_messages(store: Store, rows: Sequence[MessageRow]) -> None:
    with store._tx() as conn:
        conn.executemany(
            "INSERT INTO messages (id, thread_id, parent_id, depth, role, content, created_at,"
            " selected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def checkpoint(store: Store) -> None:
    """Fold the write-ahead log into the database file (its size is then the data's)."""
    store._query("PRAGMA wal_checkpoint(TRUNCATE)")


def settle(store: Store) -> None:
    """After a bulk load: checkpoint, and statistics for the query planner as a real
    database gathers them over time."""
    checkpoint(store)
    store._query("ANALYZE")


def message_count(store: Store) -> int:
    row = store._one("SELECT count(*) FROM messages")
    return int(row[0]) if row else 0
