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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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

log = logging.getLogger("chatapp.store")

TRASH_DAYS = 30
SEARCH_WINDOW = 2000
TITLE_MAX = 60

_THREAD_COLS = (
    "id, title, title_auto, system_prompt, model, settings, pinned, created_at, updated_at, "
    "deleted_at"
)
_MSG_COLS = (
    "m.id, m.thread_id, m.parent_id, m.depth, m.role, m.content, m.created_at, m.status, "
    "m.model, m.prompt_tokens, m.completion_tokens, m.settings, m.error"
)


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

    def reopen(self) -> None:
        """Close the connection and open the file at `db_path` again (after the file was
        written back under its name: the old connection would write to the deleted one)."""
        with self._lock:
            self._conn.close()
            self._conn = open_database(self.db_path, self.key)

    # -- plumbing -------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; sqlite errors become StorageError where the environment caused them."""
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
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except ERRORS as exc:
                raise_translated(exc, self.db_path)
                raise  # unreachable

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
        count = self._one(
            "SELECT count(*) FROM messages WHERE thread_id = ? AND active = 1", (thread_id,)
        )[0]
        return _thread(row, count)

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
            _delete_messages(conn, f"SELECT id FROM messages WHERE thread_id IN ({due})", (now - days * 86400,))
            cur = conn.execute(f"DELETE FROM threads WHERE id IN ({due})", (now - days * 86400,))
            return cur.rowcount

    def delete_forever(self, thread_id: int) -> None:
        """Delete a thread in the trash for good (the user confirmed); a live thread is refused."""
        with self._tx() as conn:
            row = conn.execute("SELECT deleted_at FROM threads WHERE id = ?", (thread_id,)).fetchone()
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
                "UPDATE threads SET created_at = ?, updated_at = ? WHERE id = ?", (now, now, thread_id)
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
        """Used while a reply streams and when it ends; the user's own text is never changed here."""
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
            conn.execute(f"UPDATE messages SET {', '.join(sets)} WHERE id = ?", (*params, message_id))

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
            " SELECT m.id FROM messages m JOIN below ON m.parent_id = below.id) SELECT id FROM below"
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
            cur = conn.execute(
                "UPDATE messages SET status = 'stopped' WHERE status = 'streaming'"
            )
            return cur.rowcount

    # -- search ---------------------------------------------------------

    def search(self, text: str, *, limit: int = 50) -> list[SearchHit]:
        """Full-text search of the shown messages of all threads not in the trash.

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
            SELECT m.thread_id, t.title, m.id, m.role, m.created_at, m.content
            FROM (SELECT rowid AS id, bm25(messages_fts) AS score FROM messages_fts
                  WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ?) AS hit
            JOIN messages m ON m.id = hit.id
            JOIN threads t ON t.id = m.thread_id
            WHERE t.deleted_at IS NULL AND m.active = 1
            ORDER BY hit.score, m.id DESC
            LIMIT ?
            """,
            (query, SEARCH_WINDOW, limit),
        )
        words = _WORD.findall(text)
        return [
            SearchHit(
                thread_id=r[0],
                thread_title=r[1],
                message_id=r[2],
                role=Role(r[3]),
                created_at=r[4],
                snippet=snippet(r[5], words),
            )
            for r in rows
        ]

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


_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """Turn what a person types into a safe FTS5 query: all words, the last one as a prefix."""
    words = _WORD.findall(text)
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
    pattern = re.compile(r"\b(?:" + "|".join(sorted(set(parts), key=len, reverse=True)) + r")", re.IGNORECASE)
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
    conn.execute("UPDATE messages SET parent_id = NULL WHERE id IN (SELECT id FROM doomed) AND parent_id IS NOT NULL")
    conn.execute("DELETE FROM messages WHERE id IN (SELECT id FROM doomed)")
    conn.execute("DELETE FROM doomed")
