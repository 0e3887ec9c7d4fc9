"""Rows of the memory tables: embeddings, sentence vectors, memory slots and summaries
(Qt-free)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from chatapp.store.store import Store

# the stored vector's size (all-MiniLM-L6-v2: 384 float32): a fact of the storage format,
# given to the embedder (memory.embedder.DIM) rather than read from it, so the store
# imports nothing above it
VECTOR_DIM = 384


@dataclass(frozen=True)
class SlotHistory:
    """A value a slot held before a newer statement replaced it."""

    text: str
    sources: list[int]
    since: float  # when it was stated
    until: float  # when the newer statement replaced it


@dataclass
class SlotRow:
    id: int | None
    thread_id: int | None
    text: str
    owner: str
    key: np.ndarray
    salience: float = 1.0
    pinned: bool = False
    sources: list[int] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    used_at: float | None = None
    attribute: str | None = None  # what it is about (chatapp.memory.attributes); None: not known
    since: float | None = None  # when the current value was stated (None: created_at)
    history: list[SlotHistory] = field(default_factory=list)  # older values, oldest first

    @property
    def current_since(self) -> float:
        return self.since if self.since is not None else self.created_at


@dataclass(frozen=True)
class SummaryRow:
    id: int
    thread_id: int
    level: int
    first_depth: int
    last_depth: int
    message_ids: list[int]
    text: str
    model: str | None
    created_at: float
    stale: bool
    superseded: bool


def _vec(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)


def _ids(text: str) -> list[int]:
    """A slot's source ids; a damaged list reads as none (the slot itself is kept)."""
    try:
        ids = json.loads(text)
    except (TypeError, ValueError):
        return []
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


class MemoryTables:
    """Reads and writes of the memory tables through a Store's connection."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- embeddings -----------------------------------------------------

    def put_embeddings(self, model: str, items: list[tuple[int, np.ndarray]]) -> None:
        with self.store._tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (message_id, model, vector) VALUES (?, ?, ?)",
                [(mid, model, np.asarray(v, dtype=np.float32).tobytes()) for mid, v in items],
            )

    def embeddings(self, thread_id: int) -> tuple[list[int], list[int], np.ndarray]:
        """Ids, depths and vectors of the shown messages of a thread that have an embedding."""
        rows = self.store._query(
            "SELECT e.message_id, m.depth, e.vector FROM embeddings e"
            " JOIN messages m ON m.id = e.message_id"
            " WHERE m.thread_id = ? AND m.active = 1 ORDER BY m.depth",
            (thread_id,),
        )
        size = self._vector_bytes()
        rows = [
            r for r in rows if len(r[2]) == size
        ]  # a damaged vector is made again (missing_embeddings)
        if not rows:
            return [], [], np.zeros((0, 0), dtype=np.float32)
        return [r[0] for r in rows], [r[1] for r in rows], np.vstack([_vec(r[2]) for r in rows])

    def embedded(self, thread_id: int) -> tuple[list[int], list[int]]:
        """Ids and depths of the shown messages of a thread that have a whole embedding, in
        depth order, without the vectors (a thread's vectors are megabytes; see vectors)."""
        rows = self.store._query(
            "SELECT e.message_id, m.depth FROM embeddings e JOIN messages m ON m.id = e.message_id"
            " WHERE m.thread_id = ? AND m.active = 1 AND length(e.vector) = ? ORDER BY m.depth",
            (thread_id, self._vector_bytes()),
        )
        return [r[0] for r in rows], [r[1] for r in rows]

    def vectors(self, message_ids: list[int]) -> dict[int, np.ndarray]:
        """The whole embeddings of these messages (those without one are left out)."""
        out: dict[int, np.ndarray] = {}
        size = self._vector_bytes()
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            for mid, blob in self.store._query(
                "SELECT message_id, vector FROM embeddings"
                f" WHERE message_id IN ({','.join('?' * len(chunk))})",
                tuple(chunk),
            ):
                if len(blob) == size:
                    out[mid] = _vec(blob)
        return out

    def _vector_bytes(self) -> int:
        """The size of a stored vector in bytes."""
        return VECTOR_DIM * 4

    def embedding_count(self, thread_id: int) -> int:
        return self.store._one(
            "SELECT count(*) FROM embeddings e JOIN messages m ON m.id = e.message_id"
            " WHERE m.thread_id = ? AND m.active = 1 AND length(e.vector) = ?",
            (thread_id, self._vector_bytes()),
        )[0]

    def missing_embeddings(
        self, thread_id: int, limit: int = 256, *, user: bool | None = None
    ) -> list[tuple[int, str]]:
        """Shown messages without a (whole) vector, oldest first; `user`: only the user's
        messages (True), only the others' (False), or all (None)."""
        role = "" if user is None else " AND m.role = 'user'" if user else " AND m.role != 'user'"
        rows = self.store._query(
            "SELECT m.id, m.content FROM messages m LEFT JOIN embeddings e ON e.message_id = m.id"
            " WHERE m.thread_id = ? AND m.active = 1"
            " AND (e.message_id IS NULL OR length(e.vector) != ?)"
            f" AND m.status IN ('complete', 'stopped') AND m.content != ''{role}"
            " ORDER BY m.depth LIMIT ?",
            (thread_id, self._vector_bytes(), limit),
        )
        return [(r[0], r[1]) for r in rows]

    # -- sentence vectors (memory.recall.diluted_sentences) --------------

    def put_sentence_vectors(self, model: str, items: list[tuple[int, np.ndarray]]) -> None:
        """Each message's sentence vectors (n x VECTOR_DIM; n = 0: it needs none)."""
        with self.store._tx() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO sentence_vectors (message_id, model, vectors)"
                " VALUES (?, ?, ?)",
                [(mid, model, np.asarray(v, dtype=np.float32).tobytes()) for mid, v in items],
            )

    def missing_sentence_vectors(self, thread_id: int, limit: int = 256) -> list[tuple[int, str]]:
        """The user's shown messages not yet looked at for sentence vectors, oldest first."""
        rows = self.store._query(
            "SELECT m.id, m.content FROM messages m"
            " LEFT JOIN sentence_vectors s ON s.message_id = m.id"
            " WHERE m.thread_id = ? AND m.active = 1 AND m.role = 'user'"
            " AND s.message_id IS NULL"
            " AND m.status IN ('complete', 'stopped') AND m.content != ''"
            " ORDER BY m.depth LIMIT ?",
            (thread_id, limit),
        )
        return [(r[0], r[1]) for r in rows]

    def sentence_vectors(self, message_ids: list[int]) -> dict[int, np.ndarray]:
        """The sentence vectors of those of these messages that were looked at (an empty
        matrix: none needed)."""
        out: dict[int, np.ndarray] = {}
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            for _id, mid, blob in self.store._query(
                "SELECT id, message_id, vectors FROM sentence_vectors"
                f" WHERE message_id IN ({','.join('?' * len(chunk))})",
                tuple(chunk),
            ):
                out[mid] = self._matrix(blob)
        return out

    def sentence_vectors_after(
        self, thread_id: int, after: int
    ) -> tuple[dict[int, np.ndarray], int]:
        """The sentence vectors of the thread's messages (every version) made after row
        `after`, and the last row's id (a reader's mark for the next call)."""
        out: dict[int, np.ndarray] = {}
        last = after
        for row_id, mid, blob in self.store._query(
            "SELECT s.id, s.message_id, s.vectors FROM sentence_vectors s"
            " JOIN messages m ON m.id = s.message_id WHERE m.thread_id = ? AND s.id > ?",
            (thread_id, after),
        ):
            out[mid] = self._matrix(blob)
            last = max(last, row_id)
        return out, last

    def sentence_state(self, thread_id: int) -> tuple[int, int]:
        """(rows, last row id) of the sentence vectors of the thread's messages: a reader that
        saw both saw every change (ids are never reused)."""
        row = self.store._one(
            "SELECT count(*), coalesce(max(s.id), 0) FROM sentence_vectors s"
            " JOIN messages m ON m.id = s.message_id WHERE m.thread_id = ?",
            (thread_id,),
        )
        return int(row[0]), int(row[1])

    def _matrix(self, blob: bytes) -> np.ndarray:
        """n x VECTOR_DIM; a damaged blob reads as none."""
        size = self._vector_bytes()
        rows = len(blob) // size if len(blob) % size == 0 else 0
        return _vec(blob[: rows * size]).reshape(rows, VECTOR_DIM)

    # -- slots ----------------------------------------------------------

    def slots(self, thread_id: int | None, *, include_global: bool = False) -> list[SlotRow]:
        where = "thread_id IS NULL" if thread_id is None else "thread_id = ?"
        params: tuple = () if thread_id is None else (thread_id,)
        if include_global and thread_id is not None:
            where = "(thread_id = ? OR thread_id IS NULL)"
        rows = self.store._query(
            "SELECT id, thread_id, text, owner, key, salience, pinned, sources, created_at,"
            f" updated_at, used_at, attribute, since FROM memory_slots WHERE {where} ORDER BY id",
            params,
        )
        history: dict[int, list[SlotHistory]] = {}
        for slot_id, text, sources, since, until in self.store._query(
            "SELECT h.slot_id, h.text, h.sources, h.since, h.until FROM memory_slot_history h"
            f" JOIN memory_slots ON memory_slots.id = h.slot_id WHERE {where}"
            " ORDER BY h.slot_id, h.until, h.id",
            params,
        ):
            history.setdefault(slot_id, []).append(SlotHistory(text, _ids(sources), since, until))
        size = self._vector_bytes()
        return [
            SlotRow(
                id=r[0],
                thread_id=r[1],
                text=r[2],
                owner=r[3],
                # a damaged key reads as none: the next ingest makes it again
                # (MemoryService._key_notes)
                key=_vec(r[4]).copy()
                if len(r[4]) == size
                else np.zeros(size // 4, dtype=np.float32),
                salience=r[5],
                pinned=bool(r[6]),
                sources=_ids(r[7]),
                created_at=r[8],
                updated_at=r[9],
                used_at=r[10],
                attribute=r[11],
                since=r[12],
                history=history.get(r[0], []),
            )
            for r in rows
        ]

    def save_slot(self, slot: SlotRow) -> SlotRow:
        """Insert or update the slot, its history written anew with it (a few rows)."""
        values = (
            slot.thread_id,
            slot.text,
            slot.owner,
            np.asarray(slot.key, dtype=np.float32).tobytes(),
            float(slot.salience),
            int(slot.pinned),
            json.dumps(slot.sources),
            slot.created_at or time.time(),
            slot.updated_at or time.time(),
            slot.used_at,
            slot.attribute,
            slot.since,
        )
        with self.store._tx() as conn:
            if slot.id is None:
                cur = conn.execute(
                    "INSERT INTO memory_slots (thread_id, text, owner, key, salience, pinned,"
                    " sources, created_at, updated_at, used_at, attribute, since)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                slot.id = cur.lastrowid
            else:
                conn.execute(
                    "UPDATE memory_slots SET thread_id = ?, text = ?, owner = ?, key = ?,"
                    " salience = ?, pinned = ?, sources = ?, created_at = ?, updated_at = ?,"
                    " used_at = ?, attribute = ?, since = ? WHERE id = ?",
                    (*values, slot.id),
                )
                conn.execute("DELETE FROM memory_slot_history WHERE slot_id = ?", (slot.id,))
            conn.executemany(
                "INSERT INTO memory_slot_history (slot_id, text, sources, since, until)"
                " VALUES (?, ?, ?, ?, ?)",
                [(slot.id, h.text, json.dumps(h.sources), h.since, h.until) for h in slot.history],
            )
        return slot

    def shown_messages(self, ids: list[int]) -> set[int]:
        """Those of the messages that are still on their thread's shown path (not edited
        away or deleted)."""
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        return {
            r[0]
            for r in self.store._query(
                f"SELECT id FROM messages WHERE active = 1 AND id IN ({marks})", tuple(ids)
            )
        }

    def delete_slot(self, slot_id: int) -> None:
        with self.store._tx() as conn:
            conn.execute("DELETE FROM memory_slots WHERE id = ?", (slot_id,))

    def slot_saliences(self, slot_ids: list[int]) -> list[tuple[int, float, float]]:
        """(id, stored salience, time it was stored at) of the given slots."""
        if not slot_ids:
            return []
        marks = ",".join("?" * len(slot_ids))
        return [
            (r[0], float(r[1]), float(r[2]))
            for r in self.store._query(
                "SELECT id, salience, MAX(updated_at, COALESCE(used_at, 0)) FROM memory_slots"
                f" WHERE id IN ({marks})",
                tuple(slot_ids),
            )
        ]

    def touch_slots(self, saliences: list[tuple[int, float]], now: float) -> None:
        """Slots were read at `now`: their new saliences (see slots.reinforce_read)."""
        if not saliences:
            return
        with self.store._tx() as conn:
            conn.executemany(
                "UPDATE memory_slots SET used_at = ?, salience = ? WHERE id = ?",
                [(now, salience, i) for i, salience in saliences],
            )

    # -- summaries ------------------------------------------------------

    def summaries(self, thread_id: int, *, current_only: bool = True) -> list[SummaryRow]:
        where = " AND superseded = 0" if current_only else ""
        rows = self.store._query(
            "SELECT id, thread_id, level, first_depth, last_depth, message_ids, text, model,"
            f" created_at, stale, superseded FROM summaries WHERE thread_id = ?{where}"
            " ORDER BY first_depth, level DESC",
            (thread_id,),
        )
        return [
            SummaryRow(
                r[0], r[1], r[2], r[3], r[4], _ids(r[5]), r[6], r[7], r[8], bool(r[9]), bool(r[10])
            )
            for r in rows
        ]

    def add_summary(
        self,
        thread_id: int,
        level: int,
        first_depth: int,
        last_depth: int,
        message_ids: list[int],
        text: str,
        model: str | None,
        supersedes: list[int] = (),  # type: ignore[assignment]
    ) -> int:
        with self.store._tx() as conn:
            cur = conn.execute(
                "INSERT INTO summaries (thread_id, level, first_depth, last_depth, message_ids,"
                " text, model, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    thread_id,
                    level,
                    first_depth,
                    last_depth,
                    json.dumps(message_ids),
                    text,
                    model,
                    time.time(),
                ),
            )
            if supersedes:
                conn.executemany(
                    "UPDATE summaries SET superseded = 1 WHERE id = ?", [(i,) for i in supersedes]
                )
            return cur.lastrowid

    def delete_summary(self, summary_id: int) -> None:
        with self.store._tx() as conn:
            conn.execute("DELETE FROM summaries WHERE id = ?", (summary_id,))

    def unfold_summary(self, summary: SummaryRow) -> None:
        """Drop a summary of summaries and make the ones it folded current again (their
        stale ones are then made again, and folded anew)."""
        with self.store._tx() as conn:
            conn.execute("DELETE FROM summaries WHERE id = ?", (summary.id,))
            conn.execute(
                "UPDATE summaries SET superseded = 0 WHERE thread_id = ? AND level = ?"
                " AND superseded = 1 AND first_depth >= ? AND last_depth <= ?",
                (summary.thread_id, summary.level - 1, summary.first_depth, summary.last_depth),
            )

    # -- facts read by the model -----------------------------------------

    def unread_user_messages(self, thread_id: int, limit: int) -> list[tuple[int, str]]:
        """The newest user messages on the shown path that the model has not read for facts
        (newest first)."""
        return [
            (r[0], r[1])
            for r in self.store._query(
                "SELECT m.id, m.content FROM messages m"
                " LEFT JOIN fact_reads f ON f.message_id = m.id"
                " WHERE m.thread_id = ? AND m.active = 1 AND m.role = 'user'"
                " AND f.message_id IS NULL"
                " ORDER BY m.depth DESC LIMIT ?",
                (thread_id, limit),
            )
        ]

    def mark_read(self, message_id: int, model: str | None, facts: int) -> None:
        with self.store._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO fact_reads (message_id, model, facts, read_at)"
                " VALUES (?, ?, ?, ?)",
                (message_id, model, facts, time.time()),
            )

    # -- thread switch ----------------------------------------------------

    def memory_enabled(self, thread_id: int) -> bool:
        row = self.store._one("SELECT memory_enabled FROM threads WHERE id = ?", (thread_id,))
        return bool(row[0]) if row else True

    def set_memory_enabled(self, thread_id: int, enabled: bool) -> None:
        with self.store._tx() as conn:
            conn.execute(
                "UPDATE threads SET memory_enabled = ? WHERE id = ?", (int(enabled), thread_id)
            )

    def global_memory(self) -> bool:
        """Whether facts about the user are also kept for all threads (off unless turned on)."""
        row = self.store._one("SELECT value FROM memory_options WHERE name = 'global_slots'")
        return row is not None and row[0] == "1"

    def set_global_memory(self, on: bool) -> None:
        with self.store._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO memory_options (name, value) VALUES ('global_slots', ?)",
                ("1" if on else "0",),
            )
