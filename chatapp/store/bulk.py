"""Bulk loading and upkeep for benchmarks, kept with the rest of the SQL.

A million messages through `Store.add_message` would take minutes per run (one transaction
and its triggers each): `chatapp.bench.store` loads them here in large transactions through
the same tables and triggers (the full-text index included), then measures the store's own
methods.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chatapp.store import crypto
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


def pages_written(store: Store, write: Callable[[], object]) -> int:
    """How many pages `write` commits to the write-ahead log (one frame per page per commit),
    counted with automatic checkpoints held off so that none empties the log meanwhile."""
    checkpoint(store)
    before = store._one("PRAGMA wal_autocheckpoint")
    store._query("PRAGMA wal_autocheckpoint = 0")
    try:
        write()
        row = store._one("PRAGMA wal_checkpoint(PASSIVE)")
    finally:
        store._query(f"PRAGMA wal_autocheckpoint = {int(before[0]) if before else 1000}")
    return int(row[1]) if row else 0


PAGE_ROW_BYTES = 3000  # one row per 4 KiB page, with room for SQLCipher's 80-byte reserve


def codec_scratch(path: Path, key: str | None) -> Any:
    """A connection to a scratch database through SQLCipher's library, keyed or not: the same
    SQLite with and without the page codec, so their difference is the codec's cost alone."""
    if crypto.cipher is None:
        raise RuntimeError("sqlcipher3 is not installed")
    conn = crypto.cipher.connect(str(path), isolation_level=None)
    if key is not None:
        conn.execute(f"PRAGMA key = \"x'{key}'\"")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def write_pages(conn: Any, count: int) -> None:
    """`count` one-page rows in one transaction (the log emptied first, and not checkpointed
    meanwhile: `log_frames` then counts the pages the commit wrote)."""
    conn.execute("CREATE TABLE IF NOT EXISTS pages (body BLOB)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO pages (body) VALUES (randomblob(?))", [(PAGE_ROW_BYTES,)] * count)
    conn.execute("COMMIT")


def log_frames(conn: Any) -> int:
    """Pages in the write-ahead log; the log is then emptied."""
    frames = int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return frames


def read_pages(conn: Any) -> int:
    """Read every page of the scratch table (a fresh connection decrypts each once)."""
    return int(conn.execute("SELECT count(*), sum(length(body)) FROM pages").fetchone()[0])
