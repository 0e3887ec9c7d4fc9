"""Schema versions: an ordered list of small functions, each run in one transaction.

`PRAGMA user_version` records how many have run. Add new steps at the end;
never edit one that has shipped.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

log = logging.getLogger("chatapp.store")


def m001_initial(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE threads (
            id            INTEGER PRIMARY KEY,
            title         TEXT    NOT NULL DEFAULT '',
            title_auto    INTEGER NOT NULL DEFAULT 1,
            system_prompt TEXT    NOT NULL DEFAULT '',
            model         TEXT,
            settings      TEXT    NOT NULL DEFAULT '{}',
            pinned        INTEGER NOT NULL DEFAULT 0,
            created_at    REAL    NOT NULL,
            updated_at    REAL    NOT NULL,
            deleted_at    REAL
        );
        CREATE INDEX threads_by_activity ON threads(deleted_at, pinned DESC, updated_at DESC);

        -- Messages form a tree per thread: siblings (same parent) are versions
        -- of one another; `active` marks the path the thread shows.
        CREATE TABLE messages (
            id                INTEGER PRIMARY KEY,
            thread_id         INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            parent_id         INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            depth             INTEGER NOT NULL,
            role              TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content           TEXT    NOT NULL,
            created_at        REAL    NOT NULL,
            status            TEXT    NOT NULL DEFAULT 'complete'
                              CHECK (status IN ('complete', 'streaming', 'stopped', 'error')),
            model             TEXT,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            settings          TEXT,
            error             TEXT,
            active            INTEGER NOT NULL DEFAULT 1,
            selected_at       REAL    NOT NULL
        );
        CREATE INDEX messages_path ON messages(thread_id, active, depth);
        CREATE INDEX messages_children ON messages(parent_id);
        CREATE INDEX messages_roots ON messages(thread_id, depth) WHERE parent_id IS NULL;
        CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming';

        CREATE VIRTUAL TABLE messages_fts USING fts5(
            content, content='messages', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts(messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        """
    )


def m002_memory(conn: sqlite3.Connection) -> None:
    """Memory: message embeddings, gated memory slots, rolling summaries, a per-thread switch."""
    conn.executescript(
        """
        ALTER TABLE threads ADD COLUMN memory_enabled INTEGER NOT NULL DEFAULT 1;

        CREATE TABLE embeddings (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
            model      TEXT    NOT NULL,
            vector     BLOB    NOT NULL          -- float32, L2-normalised
        );

        -- thread_id NULL: a global slot about the user, shared by all threads
        CREATE TABLE memory_slots (
            id           INTEGER PRIMARY KEY,
            thread_id    INTEGER REFERENCES threads(id) ON DELETE CASCADE,
            text         TEXT    NOT NULL,
            owner        TEXT    NOT NULL DEFAULT 'user',
            key          BLOB    NOT NULL,       -- float32 embedding the gates compare with
            salience     REAL    NOT NULL DEFAULT 1.0,
            pinned       INTEGER NOT NULL DEFAULT 0,
            sources      TEXT    NOT NULL DEFAULT '[]',  -- JSON list of message ids
            created_at   REAL    NOT NULL,
            updated_at   REAL    NOT NULL,
            used_at      REAL
        );
        CREATE INDEX memory_slots_by_thread ON memory_slots(thread_id);

        CREATE TABLE summaries (
            id          INTEGER PRIMARY KEY,
            thread_id   INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE,
            level       INTEGER NOT NULL,        -- 0 summarises messages, 1+ summarises summaries
            first_depth INTEGER NOT NULL,        -- the span of the shown path it covers
            last_depth  INTEGER NOT NULL,
            message_ids TEXT    NOT NULL,        -- JSON list of the messages covered
            text        TEXT    NOT NULL,
            model       TEXT,
            created_at  REAL    NOT NULL,
            stale       INTEGER NOT NULL DEFAULT 0,
            superseded  INTEGER NOT NULL DEFAULT 0  -- folded into a higher level
        );
        CREATE INDEX summaries_by_thread ON summaries(thread_id, level, first_depth);

        -- editing or deleting a covered message makes the summaries over it stale
        CREATE TRIGGER summaries_stale_on_update AFTER UPDATE OF content ON messages BEGIN
            UPDATE summaries SET stale = 1
            WHERE thread_id = new.thread_id AND stale = 0
              AND EXISTS (SELECT 1 FROM json_each(summaries.message_ids) WHERE value = new.id);
        END;
        CREATE TRIGGER summaries_stale_on_delete AFTER DELETE ON messages BEGIN
            UPDATE summaries SET stale = 1
            WHERE thread_id = old.thread_id AND stale = 0
              AND EXISTS (SELECT 1 FROM json_each(summaries.message_ids) WHERE value = old.id);
        END;
        """
    )


def m003_fact_reads(conn: sqlite3.Connection) -> None:
    """User messages the thread's model has read for facts (an extraction prompt), so none
    is read twice; an edit makes a new message, which is read again."""
    conn.executescript(
        """
        CREATE TABLE fact_reads (
            message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
            model      TEXT,
            facts      INTEGER NOT NULL,     -- how many facts it gave
            read_at    REAL    NOT NULL
        );
        """
    )


def m004_memory_options(conn: sqlite3.Connection) -> None:
    """Switches of the memory that hold for every thread (global slots about the user)."""
    conn.executescript(
        """
        CREATE TABLE memory_options (
            name  TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


def m005_shared_slots_forget_deleted(conn: sqlite3.Connection) -> None:
    """A slot shared by all threads forgets a message deleted for good (a purged thread): a fact
    learned only from it goes, unless the user pinned it; others drop the message from their
    sources. (A thread's own slots go with the thread.)"""
    conn.executescript(
        """
        CREATE TRIGGER shared_slots_forget_message AFTER DELETE ON messages BEGIN
            DELETE FROM memory_slots
            WHERE thread_id IS NULL AND pinned = 0 AND sources = json_array(old.id);
            UPDATE memory_slots
            SET sources = (SELECT json_group_array(value) FROM json_each(memory_slots.sources)
                           WHERE value != old.id)
            WHERE thread_id IS NULL
              AND EXISTS (SELECT 1 FROM json_each(memory_slots.sources) WHERE value = old.id);
        END;
        """
    )


def m006_remake_dialogue_summaries(conn: sqlite3.Connection) -> None:
    """Summaries that are dialogue, not summaries: told to "summarize", SmolLM2-135M went on
    with the conversation ("User: …"). They are marked stale, so they are made again with
    the question the summaries now ask (a fold over one is unfolded first)."""
    conn.execute(
        "UPDATE summaries SET stale = 1 WHERE stale = 0 AND ("
        " text LIKE 'User:%' OR text LIKE 'Assistant:%'"
        " OR instr(text, char(10) || 'User:') > 0 OR instr(text, char(10) || 'Assistant:') > 0)"
    )


def _bad_time(column: str) -> str:
    """SQL: the column is not a usable time (text, a blob, infinite, before 1970, after 3000)."""
    return (
        f"(typeof({column}) NOT IN ('integer', 'real') OR {column} < 0 OR {column} > 32503680000)"
    )


def m007_repair_imported_times(conn: sqlite3.Connection) -> None:
    """Times that imports let through before they were checked ("yesterday", 1e20, -1e12,
    Infinity) made the window abort at every start; each becomes the nearest sound time."""
    now = "CAST(strftime('%s', 'now') AS REAL)"
    bad = _bad_time
    conn.execute(
        f"UPDATE threads SET created_at = CASE WHEN {bad('updated_at')} THEN {now}"
        f" ELSE updated_at END WHERE {bad('created_at')}"
    )
    conn.execute(f"UPDATE threads SET updated_at = created_at WHERE {bad('updated_at')}")
    conn.execute(
        f"UPDATE threads SET deleted_at = {now}"
        f" WHERE deleted_at IS NOT NULL AND {bad('deleted_at')}"
    )
    conn.execute(
        "UPDATE messages SET created_at = (SELECT created_at FROM threads WHERE id = thread_id)"
        f" WHERE {bad('created_at')}"
    )
    conn.execute(f"UPDATE messages SET selected_at = created_at WHERE {bad('selected_at')}")
    conn.execute(f"UPDATE summaries SET created_at = {now} WHERE {bad('created_at')}")
    conn.execute(f"UPDATE memory_slots SET created_at = {now} WHERE {bad('created_at')}")
    conn.execute(f"UPDATE memory_slots SET updated_at = created_at WHERE {bad('updated_at')}")
    conn.execute(
        f"UPDATE memory_slots SET used_at = NULL WHERE used_at IS NOT NULL AND {bad('used_at')}"
    )


def m008_drafts(conn: sqlite3.Connection) -> None:
    """What the user typed and has not sent, per thread, so a quit or a crash does not lose it."""
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS drafts (
            thread_id  INTEGER PRIMARY KEY REFERENCES threads(id) ON DELETE CASCADE,
            text       TEXT NOT NULL,
            updated_at REAL NOT NULL
        );
        """
    )


def m009_slot_history(conn: sqlite3.Connection) -> None:
    """A slot knows what it is about (the attribute: home, work, pet, …) and since when its
    value holds; a value that a newer statement replaced stays as its history, with the
    time it was stated and the time it stopped holding ("lived in Utrecht until 3 May").
    Safe to run again on a database that has it (a version number set back by hand)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(memory_slots)").fetchall()}
    if "attribute" not in columns:
        conn.execute("ALTER TABLE memory_slots ADD COLUMN attribute TEXT")
    if "since" not in columns:
        conn.execute(
            "ALTER TABLE memory_slots ADD COLUMN since REAL"
        )  # when the current value was stated
    conn.executescript(
        """
        CREATE TABLE IF NOT EXISTS memory_slot_history (
            id      INTEGER PRIMARY KEY,
            slot_id INTEGER NOT NULL REFERENCES memory_slots(id) ON DELETE CASCADE,
            text    TEXT    NOT NULL,
            sources TEXT    NOT NULL DEFAULT '[]',  -- JSON list of message ids
            since   REAL    NOT NULL,               -- when it was stated
            until   REAL    NOT NULL                -- when a newer statement replaced it
        );
        CREATE INDEX IF NOT EXISTS memory_slot_history_by_slot
            ON memory_slot_history(slot_id, until);
        """
    )


def m010_sentence_vectors(conn: sqlite3.Connection) -> None:
    """Vectors of the sentences of a user's message that its one vector blurs (a passing
    remark inside a message about something else; see memory.recall.diluted_sentences).
    One row per message the memory thread has looked at: an empty blob says it needs
    none, so an older thread's messages are looked at once. Deleting a message deletes
    its row (ON DELETE CASCADE); a changed text drops it, to be made again."""
    conn.executescript(
        """
        -- id: in the order made, never reused, so a reader can take what is new since
        CREATE TABLE IF NOT EXISTS sentence_vectors (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
            model      TEXT    NOT NULL,
            vectors    BLOB    NOT NULL          -- float32, n x 384, L2-normalised rows
        );
        CREATE TRIGGER IF NOT EXISTS sentence_vectors_on_update
        AFTER UPDATE OF content ON messages BEGIN
            DELETE FROM sentence_vectors WHERE message_id = new.id;
        END;
        """
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial,
    m002_memory,
    m003_fact_reads,
    m004_memory_options,
    m005_shared_slots_forget_deleted,
    m006_remake_dialogue_summaries,
    m007_repair_imported_times,
    m008_drafts,
    m009_slot_history,
    m010_sentence_vectors,
]
LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Run the missing steps; each step and its version bump commit together."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        log.info("migrating database to schema %d (%s)", number, step.__name__)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # executescript would commit first; run the statements one by one instead
            _run_in_transaction(conn, step)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class _NoCommitScript:
    """Wraps a connection so that a step's executescript runs inside our transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def executescript(self, script: str) -> None:
        for statement in _split_statements(script):
            self._conn.execute(statement)

    def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self._conn.execute(*args, **kwargs)


def _run_in_transaction(conn: sqlite3.Connection, step: Callable) -> None:
    step(_NoCommitScript(conn))


def _split_statements(script: str) -> list[str]:
    """Split a script into complete statements (triggers contain semicolons)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
