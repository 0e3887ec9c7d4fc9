"""Threads and messages on top of one SQLite connection.

Messages form a tree per thread: editing a user message or regenerating a
reply adds a sibling (a version) instead of overwriting, and the `active` flag
marks the path the thread shows. Reading the last N messages of the path is an
index range scan, so a thread of any length opens at once.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatapp.domain import (
    GenerationSettings,
    Message,
    MessageStatus,
    Role,
    SearchHit,
    Thread,
)
from chatapp.errors import StorageError
from chatapp.store.crypto import ERRORS
from chatapp.store.db import connect_reader, open_database, raise_translated
from chatapp.words import WORD

if TYPE_CHECKING:
    from chatapp.store.backup import DatabaseWatch

log = logging.getLogger("chatapp.store")

TRASH_DAYS = 30
SEARCH_WINDOW = 2000
TITLE_MAX = 60

_THREAD_COLS = (
    "id, title, title_auto, system_prompt, model, settings, pinned, created_at, updated_at, "
    "deleted_at"
)
# the one column list of a message: `_message` reads rows in this order
MESSAGE_FIELDS = (
    "id",
    "thread_id",
    "parent_id",
    "depth",
    "role",
    "content",
    "created_at",
    "status",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "settings",
    "error",
)
_MSG_COLS = ", ".join(f"m.{name}" for name in MESSAGE_FIELDS)
_CHUNK = 500  # ids per `IN (...)`: well under SQLite's variable limit


class Store:
    """Every read and write of threads and messages.

    One connection, guarded by a lock, does the writing (one writer); worker
    threads that only read (search, export) take their own with `reader()`.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, key: str | None = None) -> None:
        self.db_path = Path(path)
        self._conn = conn
        self._lock = threading.RLock()
        self.key = key  # None: a plain database; readers and backups need it too
        self._beside: _Beside | None = None  # reads while a bulk write holds the writer
        self._bulk_owner: int | None = None  # the thread of that bulk write

    @classmethod
    def open(cls, path: Path, key: str | None = None) -> Store:
        """Open `path`; with `key`, an encrypted (SQLCipher) database, created so if new."""
        return cls(path, open_database(Path(path), key), key)

    @property
    def encrypted(self) -> bool:
        return self.key is not None

    def reader(self) -> Store:
        """A read-only Store on its own connection, for another thread."""
        try:
            return Store(self.db_path, connect_reader(self.db_path, self.key), self.key)
        except ERRORS as exc:
            raise_translated(exc, self.db_path)
            raise  # unreachable

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def watch(self) -> DatabaseWatch:
        """A watch for the database file being deleted or replaced under the open connection
        (its rescue writes back through this connection, under this store's lock)."""
        from chatapp.store.backup import DatabaseWatch

        return DatabaseWatch(self)

    def reopen(self) -> None:
        """Close the connection and open the file at `db_path` again (after the file was
        written back under its name: the old connection would write to the deleted one)."""
        with self._lock:
            self._conn.close()
            self._conn = open_database(self.db_path, self.key)

    # -- plumbing -------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; sqlite errors become StorageError where the environment caused
        them."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except ERRORS as exc:
                if self._conn.in_transaction:
                    try:
                        self._conn.execute("ROLLBACK")
                    except ERRORS:
                        pass
                raise_translated(exc, self.db_path)

    def _query(self, sql: str, params: tuple | dict = ()) -> list[tuple]:
        if self._beside is not None and self._bulk_owner != threading.get_ident():
            rows = self._read_beside(sql, params)  # a bulk write is on: no wait for the writer
            if rows is not None:
                return rows
        while not self._lock.acquire(timeout=_BESIDE_AFTER_S):
            # a bulk write (an import) holds the writer for seconds: read what is committed
            rows = self._read_beside(sql, params)
            if rows is not None:
                return rows
        try:
            return self._conn.execute(sql, params).fetchall()
        except ERRORS as exc:
            raise_translated(exc, self.db_path)
            raise  # unreachable
        finally:
            self._lock.release()

    def _one(self, sql: str, params: tuple | dict = ()) -> tuple | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    # -- threads --------------------------------------------------------

    def create_thread(
        self,
        title: str = "",
        *,
        system_prompt: str = "",
        model: str | None = None,
        settings: GenerationSettings | None = None,
        now: float | None = None,
    ) -> Thread:
        now = time.time() if now is None else now
        settings = settings or GenerationSettings()
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO threads (title, title_auto, system_prompt, model, settings,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    title,
                    0 if title else 1,
                    system_prompt,
                    model,
                    json.dumps(settings.to_dict()),
                    now,
                    now,
                ),
            )
            thread_id = cur.lastrowid
        return self.thread(thread_id)

    def thread(self, thread_id: int) -> Thread:
        row = self._one(f"SELECT {_THREAD_COLS} FROM threads WHERE id = ?", (thread_id,))
        if row is None:
            raise KeyError(f"no thread {thread_id}")
        # the shown path holds one message per depth from 0, so its length is its deepest
        # depth + 1: one index seek, where count(*) read every entry of a long thread's path
        # (and, encrypted, decrypted each of its pages on a fresh connection)
        deepest = self._one(
            "SELECT max(depth) FROM messages WHERE thread_id = ? AND active = 1", (thread_id,)
        )[0]
        return _thread(row, 0 if deepest is None else deepest + 1)

    def threads(self, *, trash: bool = False) -> list[Thread]:
        """Threads ordered as the sidebar shows them: pinned first, then by last activity."""
        where = "deleted_at IS NOT NULL" if trash else "deleted_at IS NULL"
        rows = self._query(
            f"SELECT {_THREAD_COLS} FROM threads WHERE {where}"
            " ORDER BY pinned DESC, updated_at DESC, id DESC"
        )
        return [_thread(r) for r in rows]

    def rename_thread(self, thread_id: int, title: str) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE threads SET title = ?, title_auto = 0 WHERE id = ?",
                (title.strip(), thread_id),
            )

    def set_auto_title(self, thread_id: int, title: str) -> bool:
        """Set a generated title unless the user has named the thread; True if it was set."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE threads SET title = ? WHERE id = ? AND title_auto = 1",
                (title, thread_id),
            )
            return cur.rowcount > 0

    def update_thread(
        self,
        thread_id: int,
        *,
        system_prompt: str | None = None,
        model: str | None | type[...] = ...,
        settings: GenerationSettings | None = None,
    ) -> Thread:
        sets: list[str] = []
        params: list[Any] = []
        if system_prompt is not None:
            sets.append("system_prompt = ?")
            params.append(system_prompt)
        if model is not ...:
            sets.append("model = ?")
            params.append(model)
        if settings is not None:
            sets.append("settings = ?")
            params.append(json.dumps(settings.to_dict()))
        if sets:
            with self._tx() as conn:
                conn.execute(
                    f"UPDATE threads SET {', '.join(sets)} WHERE id = ?", (*params, thread_id)
                )
        return self.thread(thread_id)

    def pin_thread(self, thread_id: int, pinned: bool = True) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE threads SET pinned = ? WHERE id = ?", (int(pinned), thread_id))

    def trash_thread(self, thread_id: int, *, now: float | None = None) -> None:
        """Move to the trash; restorable for TRASH_DAYS days."""
        now = time.time() if now is None else now
        with self._tx() as conn:
            conn.execute("UPDATE threads SET deleted_at = ? WHERE id = ?", (now, thread_id))

    def restore_thread(self, thread_id: int) -> bool:
        """Take a thread out of the trash; False when it is not there (deleted for good
        meanwhile), so an Undo can say so instead of claiming it restored something."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE threads SET deleted_at = NULL WHERE id = ? AND deleted_at IS NOT NULL",
                (thread_id,),
            )
            return cur.rowcount > 0

    def purge_trash(self, *, now: float | None = None, days: float = TRASH_DAYS) -> int:
        """Delete for good the threads that have been in the trash longer than `days`."""
        now = time.time() if now is None else now
        due = "SELECT id FROM threads WHERE deleted_at IS NOT NULL AND deleted_at < ?"
        with self._tx() as conn:
            _delete_messages(
                conn, f"SELECT id FROM messages WHERE thread_id IN ({due})", (now - days * 86400,)
            )
            cur = conn.execute(f"DELETE FROM threads WHERE id IN ({due})", (now - days * 86400,))
            return cur.rowcount

    def delete_forever(self, thread_id: int) -> None:
        """Delete a thread in the trash for good (the user confirmed); a live thread is refused."""
        with self._tx() as conn:
            row = conn.execute(
                "SELECT deleted_at FROM threads WHERE id = ?", (thread_id,)
            ).fetchone()
            if row is None or row[0] is None:
                raise KeyError(f"thread {thread_id} is not in the trash")
            _delete_messages(conn, "SELECT id FROM messages WHERE thread_id = ?", (thread_id,))
            conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

    def renew_thread(self, thread_id: int, *, now: float | None = None) -> None:
        """A reused unused thread starts now: its times are set as if it had just been
        created (else it sorts under "Older" and an export says it started weeks ago)."""
        now = time.time() if now is None else now
        with self._tx() as conn:
            conn.execute(
                "UPDATE threads SET created_at = ?, updated_at = ? WHERE id = ?",
                (now, now, thread_id),
            )

    def unused_thread(self) -> int | None:
        """A thread nobody has used yet (no message, draft, title, model, prompt or own
        settings), newest first: a new chat reuses it instead of adding another empty one."""
        rows = self._query(
            f"SELECT {_THREAD_COLS} FROM threads t WHERE deleted_at IS NULL AND title = ''"
            " AND model IS NULL AND system_prompt = '' AND pinned = 0"
            " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.thread_id = t.id)"
            " AND NOT EXISTS (SELECT 1 FROM drafts d WHERE d.thread_id = t.id)"
            " ORDER BY updated_at DESC, id DESC"
        )
        for row in rows:
            if _thread(row).settings == GenerationSettings():
                return int(row[0])
        return None

    # -- drafts ---------------------------------------------------------

    def save_draft(self, thread_id: int, text: str, *, now: float | None = None) -> None:
        """Keep what the user typed in a thread's composer; empty text removes the draft."""
        now = time.time() if now is None else now
        with self._tx() as conn:
            if text.strip():
                conn.execute(
                    "INSERT INTO drafts (thread_id, text, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT(thread_id) DO UPDATE SET text = excluded.text,"
                    " updated_at = excluded.updated_at",
                    (thread_id, text, now),
                )
            else:
                conn.execute("DELETE FROM drafts WHERE thread_id = ?", (thread_id,))

    def draft(self, thread_id: int) -> str:
        row = self._one("SELECT text FROM drafts WHERE thread_id = ?", (thread_id,))
        return row[0] if row else ""

    def drafts(self) -> dict[int, str]:
        """Every thread's unsent text (read once at start)."""
        return {int(t): text for t, text in self._query("SELECT thread_id, text FROM drafts")}

    # -- messages -------------------------------------------------------

    def add_message(
        self,
        thread_id: int,
        role: Role | str,
        content: str,
        *,
        parent_id: int | None | type[...] = ...,
        status: MessageStatus = MessageStatus.COMPLETE,
        model: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        settings: dict[str, Any] | None = None,
        error: str | None = None,
        created_at: float | None = None,
    ) -> Message:
        """Append to the thread's shown path (parent defaults to its last message).

        With an explicit parent that already has children, the new message is a
        new version beside them and becomes the shown one.
        """
        role = Role(role)
        now = time.time() if created_at is None else created_at
        with self._tx() as conn:
            if parent_id is ...:
                row = conn.execute(
                    "SELECT id, depth FROM messages WHERE thread_id = ? AND active = 1"
                    " ORDER BY depth DESC LIMIT 1",
                    (thread_id,),
                ).fetchone()
                parent_id, depth = (row[0], row[1] + 1) if row else (None, 0)
            elif parent_id is None:
                depth = 0
            else:
                row = conn.execute(
                    "SELECT depth, thread_id FROM messages WHERE id = ?", (parent_id,)
                ).fetchone()
                if row is None or row[1] != thread_id:
                    raise KeyError(f"no message {parent_id} in thread {thread_id}")
                depth = row[0] + 1
            # the new message ends the shown path: hide whatever was below its parent
            conn.execute(
                "UPDATE messages SET active = 0 WHERE thread_id = ? AND active = 1 AND depth >= ?",
                (thread_id, depth),
            )
            cur = conn.execute(
                "INSERT INTO messages (thread_id, parent_id, depth, role, content, created_at,"
                " status, model, prompt_tokens, completion_tokens, settings, error, active,"
                " selected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
                (
                    thread_id,
                    parent_id,
                    depth,
                    role.value,
                    content,
                    now,
                    MessageStatus(status).value,
                    model,
                    prompt_tokens,
                    completion_tokens,
                    json.dumps(settings) if settings is not None else None,
                    error,
                    time.time(),
                ),
            )
            message_id = cur.lastrowid
            conn.execute(
                "UPDATE threads SET updated_at = max(updated_at, ?) WHERE id = ?",
                (now, thread_id),
            )
        return self.message(message_id)

    def update_message(
        self,
        message_id: int,
        *,
        content: str | None = None,
        status: MessageStatus | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        error: str | None = None,
    ) -> None:
        """Used while a reply streams and when it ends; the user's own text is never changed
        here."""
        sets: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("content", content),
            ("status", status.value if status is not None else None),
            ("prompt_tokens", prompt_tokens),
            ("completion_tokens", completion_tokens),
            ("error", error),
        ):
            if value is not None:
                sets.append(f"{column} = ?")
                params.append(value)
        if not sets:
            return
        with self._tx() as conn:
            conn.execute(
                f"UPDATE messages SET {', '.join(sets)} WHERE id = ?", (*params, message_id)
            )

    def message(self, message_id: int) -> Message:
        row = self._one(f"SELECT {_MSG_COLS} FROM messages m WHERE m.id = ?", (message_id,))
        if row is None:
            raise KeyError(f"no message {message_id}")
        return self._with_versions([row])[0]

    def path_length(self, thread_id: int) -> int:
        return self._one(
            "SELECT count(*) FROM messages WHERE thread_id = ? AND active = 1", (thread_id,)
        )[0]

    def path(self, thread_id: int, start: int = 0, stop: int | None = None) -> list[Message]:
        """Messages of the shown path with depth in [start, stop), oldest first."""
        stop = (1 << 62) if stop is None else stop
        rows = self._query(
            f"SELECT {_MSG_COLS} FROM messages m WHERE m.thread_id = ? AND m.active = 1"
            " AND m.depth >= ? AND m.depth < ? ORDER BY m.depth",
            (thread_id, start, stop),
        )
        return self._with_versions(rows)

    def last_messages(self, thread_id: int, count: int) -> list[Message]:
        """The newest `count` messages of the shown path, oldest first."""
        rows = self._query(
            f"SELECT {_MSG_COLS} FROM messages m WHERE m.thread_id = ? AND m.active = 1"
            " ORDER BY m.depth DESC LIMIT ?",
            (thread_id, count),
        )
        return self._with_versions(rows[::-1])

    def messages_by_ids(self, ids: Sequence[int]) -> dict[int, Message]:
        """Messages by id, whichever path they are on (version numbers not filled in)."""
        out: dict[int, Message] = {}
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            for row in self._query(
                f"SELECT {_MSG_COLS} FROM messages m WHERE m.id IN ({marks})", tuple(chunk)
            ):
                out[row[0]] = _message(row, 1, 1)
        return out

    def message_roles(self, ids: Sequence[int]) -> dict[int, str]:
        """The role of each message, as stored ("user", "assistant", …)."""
        return dict(self._by_ids("SELECT id, role FROM messages WHERE id IN ({})", ids))

    def message_times(self, ids: Sequence[int]) -> dict[int, float]:
        """When each message was written (UTC seconds)."""
        return dict(self._by_ids("SELECT id, created_at FROM messages WHERE id IN ({})", ids))

    def count_on_path(self, thread_id: int, ids: Collection[int], before_depth: int) -> int:
        """How many of `ids` are on the thread's shown path above `before_depth`."""
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        row = self._one(
            "SELECT COUNT(*) FROM messages WHERE thread_id = ? AND active = 1 AND depth < ?"
            f" AND id IN ({marks})",
            (thread_id, before_depth, *ids),
        )
        return row[0] if row is not None else 0

    def on_path_at_depths(self, thread_id: int, depths: Collection[int]) -> list[tuple[int, int]]:
        """(id, depth) of the shown path's messages at the given depths."""
        if not depths:
            return []
        marks = ",".join("?" * len(depths))
        return self._query(
            "SELECT id, depth FROM messages WHERE thread_id = ? AND active = 1"
            f" AND depth IN ({marks})",
            (thread_id, *depths),
        )

    def fts_hits(
        self,
        thread_id: int,
        match: str,
        *,
        before_depth: int | None = None,
        shown_only: bool = True,
        limit: int = 50,
    ) -> list[tuple[int, int]]:
        """(id, depth) of the thread's messages matching the FTS5 expression `match`, best
        first (bm25); `before_depth`: only above it; `shown_only`: only the shown path."""
        where = " AND m.active = 1" if shown_only else ""
        params: list[Any] = [match, thread_id]
        if before_depth is not None:
            where += " AND m.depth < ?"
            params.append(before_depth)
        return self._query(
            "SELECT m.id, m.depth FROM messages_fts"
            " JOIN messages m ON m.id = messages_fts.rowid"
            f" WHERE messages_fts MATCH ? AND m.thread_id = ?{where}"
            " ORDER BY bm25(messages_fts) LIMIT ?",
            (*params, limit),
        )

    def export_messages(self, thread_id: int) -> list[dict[str, Any]]:
        """Every message of a thread (all versions), in id order, as stored: the fields of
        MESSAGE_FIELDS plus `active` (on the shown path) and `selected_at`. Raw values: an
        export writes out what is there, even a value the app would refuse to show."""
        fields = (*MESSAGE_FIELDS, "active", "selected_at")
        rows = self._query(
            f"SELECT {', '.join(fields)} FROM messages WHERE thread_id = ? ORDER BY id",
            (thread_id,),
        )
        return [dict(zip(fields, row, strict=True)) for row in rows]

    def _by_ids(self, sql: str, ids: Sequence[int]) -> list[tuple]:
        rows: list[tuple] = []
        for chunk in _chunks(ids):
            rows += self._query(sql.format(",".join("?" * len(chunk))), tuple(chunk))
        return rows

    def versions(self, message_id: int) -> list[int]:
        """Ids of a message and its siblings (its versions), oldest first."""
        row = self._one("SELECT thread_id, parent_id FROM messages WHERE id = ?", (message_id,))
        if row is None:
            raise KeyError(f"no message {message_id}")
        thread_id, parent_id = row
        if parent_id is None:
            rows = self._query(
                "SELECT id FROM messages WHERE thread_id = ? AND parent_id IS NULL ORDER BY id",
                (thread_id,),
            )
        else:
            rows = self._query(
                "SELECT id FROM messages WHERE parent_id = ? ORDER BY id", (parent_id,)
            )
        return [r[0] for r in rows]

    def select_version(self, message_id: int) -> None:
        """Show the branch through `message_id`, continuing below it as it was last shown."""
        msg = self.message(message_id)
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                "UPDATE messages SET active = 0 WHERE thread_id = ? AND active = 1 AND depth >= ?",
                (msg.thread_id, msg.depth),
            )
            conn.execute(
                """
                WITH RECURSIVE down(id) AS (
                    SELECT ?
                    UNION ALL
                    SELECT (SELECT c.id FROM messages c WHERE c.parent_id = down.id
                            ORDER BY c.selected_at DESC, c.id DESC LIMIT 1)
                    FROM down WHERE down.id IS NOT NULL
                )
                UPDATE messages SET active = 1 WHERE id IN (SELECT id FROM down)
                """,
                (message_id,),
            )
            conn.execute("UPDATE messages SET selected_at = ? WHERE id = ?", (now, message_id))

    def edit_message(self, message_id: int, content: str) -> Message:
        """A new version of a message beside the old one (which is kept)."""
        old = self.message(message_id)
        return self.add_message(
            old.thread_id,
            old.role,
            content,
            parent_id=old.parent_id,
            model=old.model,
        )

    def delete_message(self, message_id: int) -> None:
        """Delete a message and everything below it; a sibling version takes its place."""
        row = self._one("SELECT active FROM messages WHERE id = ?", (message_id,))
        if row is None:
            raise KeyError(f"no message {message_id}")
        siblings = [i for i in self.versions(message_id) if i != message_id]
        below = (
            "WITH RECURSIVE below(id) AS (SELECT ? UNION ALL"
            " SELECT m.id FROM messages m JOIN below ON m.parent_id = below.id)"
            " SELECT id FROM below"
        )
        with self._tx() as conn:
            _delete_messages(conn, below, (message_id,))
        if siblings and row[0]:
            best = self._one(
                f"SELECT id FROM messages WHERE id IN ({','.join('?' * len(siblings))})"
                " ORDER BY selected_at DESC, id DESC LIMIT 1",
                tuple(siblings),
            )
            self.select_version(best[0])

    def recover_interrupted(self) -> int:
        """Replies left `streaming` by a crash become `stopped` (their text is kept)."""
        with self._tx() as conn:
            cur = conn.execute("UPDATE messages SET status = 'stopped' WHERE status = 'streaming'")
            return cur.rowcount

    # -- search ---------------------------------------------------------

    def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        """Full-text search of every message (every version) of all threads not in the trash.

        A version not on its thread's shown path is found too (nothing written or read is
        out of reach), with `on_path` False so the results can say so.

        Hits are ranked by BM25 among the SEARCH_WINDOW most recent matches:
        ranking every match of common words in a million messages costs
        hundreds of milliseconds, and a chat's search is mostly for recent
        things. Snippets are cut here rather than by FTS5's snippet(), which
        would need the match evaluated again.
        """
        query = fts_query(text)
        if not query:
            return []
        rows = self._query(
            """
            SELECT m.thread_id, t.title, m.id, m.role, m.created_at, m.content, m.active
            FROM (SELECT rowid AS id, bm25(messages_fts) AS score FROM messages_fts
                  WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?) AS hit
            JOIN messages m ON m.id = hit.id
            JOIN threads t ON t.id = m.thread_id
            WHERE t.deleted_at IS NULL
            ORDER BY hit.score, m.active DESC, m.id DESC
            LIMIT ?
            """,
            (query, SEARCH_WINDOW, limit),
        )
        words = WORD.findall(text)
        return [
            SearchHit(
                thread_id=r[0],
                thread_title=r[1],
                message_id=r[2],
                role=Role(r[3]),
                created_at=r[4],
                snippet=snippet(r[5], words),
                on_path=bool(r[6]),
            )
            for r in rows
        ]

    # -- import ---------------------------------------------------------

    def import_threads(self, threads: list[dict[str, Any]]) -> list[int]:
        """Imported threads, all in one transaction: either every one is written or none.

        `threads` are the importer's checked dicts (chatapp.export.importers: every key
        present, every value checked); each message carries `active` (on the shown path) and
        each slot its `key` as float32 bytes. Local ids link parents, summaries and sources."""
        created: list[int] = []
        with self._bulk_tx() as conn:
            for t in threads:
                cur = conn.execute(
                    "INSERT INTO threads (title, title_auto, system_prompt, model, settings,"
                    " pinned, created_at, updated_at, memory_enabled)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        t["title"],
                        int(t["title_auto"]),
                        t["system_prompt"],
                        t["model"],
                        json.dumps(t["settings"]),
                        int(t["pinned"]),
                        t["created_at"],
                        t["updated_at"],
                        int(t["memory_enabled"]),
                    ),
                )
                thread_id = cur.lastrowid
                created.append(thread_id)
                ids: dict[int, int] = {}
                depth: dict[int, int] = {}
                for m in t["messages"]:
                    parent = ids.get(m["parent"]) if m.get("parent") is not None else None
                    d = depth[m["parent"]] + 1 if m.get("parent") is not None else 0
                    cur = conn.execute(
                        "INSERT INTO messages (thread_id, parent_id, depth, role, content,"
                        " created_at, status, model, prompt_tokens, completion_tokens, settings,"
                        " error, active, selected_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            thread_id,
                            parent,
                            d,
                            m["role"],
                            m["content"],
                            m["created_at"],
                            "stopped"
                            if m.get("status") == "streaming"
                            else m.get("status", "complete"),
                            m.get("model"),
                            m.get("prompt_tokens"),
                            m.get("completion_tokens"),
                            json.dumps(m["settings"]) if m.get("settings") is not None else None,
                            m.get("error"),
                            int(m["active"]),
                            m["selected_at"],
                        ),
                    )
                    ids[m["id"]] = cur.lastrowid
                    depth[m["id"]] = d
                for s in t["summaries"]:
                    conn.execute(
                        "INSERT INTO summaries (thread_id, level, first_depth, last_depth,"
                        " message_ids, text, model, created_at, stale, superseded)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            thread_id,
                            s["level"],
                            s["first_depth"],
                            s["last_depth"],
                            json.dumps([ids[i] for i in s["messages"] if i in ids]),
                            s["text"],
                            s["model"],
                            s["created_at"],
                            int(s["stale"]),
                            int(s["superseded"]),
                        ),
                    )
                for s in t["slots"]:
                    slot = conn.execute(
                        "INSERT INTO memory_slots (thread_id, text, owner, key, salience, pinned,"
                        " sources, created_at, updated_at, used_at, attribute, since)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            thread_id,
                            s["text"],
                            s["owner"],
                            s["key"],
                            s["salience"],
                            int(s["pinned"]),
                            json.dumps([ids[i] for i in s["sources"] if i in ids]),
                            s["created_at"],
                            s["updated_at"],
                            s["used_at"],
                            s["attribute"],
                            s["since"],
                        ),
                    )
                    conn.executemany(
                        "INSERT INTO memory_slot_history (slot_id, text, sources, since, until)"
                        " VALUES (?, ?, ?, ?, ?)",
                        [
                            (
                                slot.lastrowid,
                                h["text"],
                                json.dumps([ids[i] for i in h["sources"] if i in ids]),
                                h["since"],
                                h["until"],
                            )
                            for h in s["history"]
                        ],
                    )
        return created

    # -- bulk writes ----------------------------------------------------

    @contextmanager
    def _bulk_tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction of the store's writer that may last seconds (an import): other
        threads' reads meanwhile go to a read connection opened for it and see what was
        committed before; their writes wait, as they would for any writer."""
        try:  # opened before the writer is taken (an encrypted file's key derivation too)
            beside = _Beside(connect_reader(self.db_path, self.key))
        except ERRORS as exc:
            raise_translated(exc, self.db_path)
            raise  # unreachable
        with self._lock:
            self._bulk_owner = threading.get_ident()
            self._beside = beside
            try:
                with self._tx() as conn:
                    yield conn
            finally:
                self._beside = None
                self._bulk_owner = None
                beside.close()

    @property
    def bulk_writing(self) -> bool:
        """Whether a bulk write's transaction is open (reads are then served beside it)."""
        return self._beside is not None

    def _read_beside(self, sql: str, params: tuple | dict) -> list[tuple] | None:
        """`sql` on the bulk write's read connection; None when there is none (wait for the
        writer) or `sql` is not a query."""
        beside = self._beside
        if beside is None or sql.split(None, 1)[0].upper() not in ("SELECT", "WITH"):
            return None
        try:
            return beside.query(sql, params)
        except ERRORS as exc:
            raise_translated(exc, self.db_path)
            raise  # unreachable

    # -- helpers --------------------------------------------------------

    def _with_versions(self, rows: list[tuple]) -> list[Message]:
        """Attach "version i of n" to each message (one grouped query per page)."""
        if not rows:
            return []
        parents = {r[2] for r in rows if r[2] is not None}
        counts: dict[int | None, list[int]] = {}
        if parents:
            marks = ",".join("?" * len(parents))
            for parent, child in self._query(
                f"SELECT parent_id, id FROM messages WHERE parent_id IN ({marks}) ORDER BY id",
                tuple(parents),
            ):
                counts.setdefault(parent, []).append(child)
        if any(r[2] is None for r in rows):
            thread_id = rows[0][1]
            counts[None] = [
                r[0]
                for r in self._query(
                    "SELECT id FROM messages WHERE thread_id = ? AND parent_id IS NULL ORDER BY id",
                    (thread_id,),
                )
            ]
        result = []
        for r in rows:
            siblings = counts.get(r[2], [r[0]])
            index = siblings.index(r[0]) + 1 if r[0] in siblings else 1
            result.append(_message(r, index, max(1, len(siblings))))
        return result


# a read waits this long for the writer before it asks for a bulk write: an ordinary write
# takes milliseconds, and the window's event loop is allowed 50 ms (bench gui's target)
_BESIDE_AFTER_S = 0.05


class _Beside:
    """The read connection that serves other threads while a bulk write holds the writer."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.Lock()

    def query(self, sql: str, params: tuple | dict) -> list[tuple] | None:
        with self._lock:
            if self._conn is None:  # the bulk write has just ended: the writer is free
                return None
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _thread(row: tuple, count: int = 0) -> Thread:
    try:
        settings = GenerationSettings.from_dict(json.loads(row[5]))
    except (ValueError, TypeError):
        settings = GenerationSettings()
    return Thread(
        id=row[0],
        title=row[1],
        title_auto=bool(row[2]),
        system_prompt=row[3],
        model=row[4],
        settings=settings,
        pinned=bool(row[6]),
        created_at=row[7],
        updated_at=row[8],
        deleted_at=row[9],
        message_count=count,
    )


def _message(row: tuple, index: int, count: int) -> Message:
    return Message(
        id=row[0],
        thread_id=row[1],
        parent_id=row[2],
        depth=row[3],
        role=Role(row[4]),
        content=row[5],
        created_at=row[6],
        status=MessageStatus(row[7]),
        model=row[8],
        prompt_tokens=row[9],
        completion_tokens=row[10],
        settings=json.loads(row[11]) if row[11] else None,
        error=row[12],
        version_index=index,
        version_count=count,
    )


def fts_query(text: str) -> str:
    """Turn what a person types into a safe FTS5 query: all words, the last one as a prefix."""
    words = WORD.findall(text)
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def snippet(content: str, words: list[str], width: int = 160) -> str:
    """A window of `content` around the first match, matches between \x02 and \x03.

    Words match as FTS5 does here: case-insensitively, the last one as a prefix.
    """
    if not words:
        return content[:width]
    parts = [re.escape(w) + r"\b" for w in words[:-1]] + [re.escape(words[-1]) + r"\w*"]
    pattern = re.compile(
        r"\b(?:" + "|".join(sorted(set(parts), key=len, reverse=True)) + r")", re.IGNORECASE
    )
    first = pattern.search(content)
    start = max(0, (first.start() if first else 0) - width // 3)
    if start:
        space = content.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    piece = content[start : start + width]
    marked = pattern.sub(lambda m: f"\x02{m.group(0)}\x03", piece)
    return ("…" if start else "") + marked + ("…" if start + width < len(content) else "")


def auto_title(first_user_message: str, limit: int = TITLE_MAX) -> str:
    """A short title from the first message: its first line, cut at a word boundary."""
    line = next((ln.strip() for ln in first_user_message.splitlines() if ln.strip()), "")
    line = re.sub(r"\s+", " ", line).strip(" #*>-")
    if len(line) <= limit:
        return line or "New chat"
    cut = line[:limit].rsplit(" ", 1)[0]
    return (cut if len(cut) > limit // 2 else line[:limit]).rstrip(",.;:") + "…"


__all__ = ["StorageError", "Store", "auto_title", "fts_query"]


def _delete_messages(conn: sqlite3.Connection, ids_query: str, params: tuple) -> None:
    """Delete the messages `ids_query` selects, unlinked from their parents first: left to
    ON DELETE CASCADE, a chain of replies is deleted one nested trigger level per message,
    and SQLite stops at 1,000 ("too many levels of trigger recursion": a thread of more than
    a thousand messages could not be deleted)."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS doomed (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM doomed")
    conn.execute(f"INSERT OR IGNORE INTO doomed (id) {ids_query}", params)
    conn.execute(
        "UPDATE messages SET parent_id = NULL WHERE id IN (SELECT id FROM doomed)"
        " AND parent_id IS NOT NULL"
    )
    conn.execute("DELETE FROM messages WHERE id IN (SELECT id FROM doomed)")
    conn.execute("DELETE FROM doomed")
