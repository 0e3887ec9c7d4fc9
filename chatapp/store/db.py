"""Opening the database, and telling environment problems from bugs."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

from chatapp.errors import DatabaseCorrupt, DatabaseTooNew, StorageError
from chatapp.store import crypto, migrations
from chatapp.store.crypto import ERRORS

log = logging.getLogger("chatapp.store")

BUSY_TIMEOUT_MS = 5000

# sqlite result codes (primary) that the environment causes, not chatapp.
_FULL = {"SQLITE_FULL"}
_READONLY = {"SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"}
_LOCKED = {"SQLITE_BUSY", "SQLITE_LOCKED"}
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_IO = {"SQLITE_IOERR"}


def _primary_name(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    # extended names look like SQLITE_IOERR_WRITE; keep the primary part
    parts = name.split("_")
    return "_".join(parts[:2]) if len(parts) > 2 else name


def translate(exc: BaseException, path: Path | str) -> StorageError | None:
    """Map an sqlite error to a user-facing StorageError, or None when it is a bug."""
    name = _primary_name(exc)
    text = str(exc)
    if name in _FULL or "disk is full" in text:
        return StorageError(
            f"The disk holding {path} is full: the change was not saved. "
            "Free some space and try again; what was saved before is intact.",
            detail=text,
        )
    if name in _READONLY or "readonly" in text or "unable to open" in text:
        return StorageError(
            f"chatapp cannot write its database {path} (read-only or no permission). "
            "What was saved before is intact.",
            detail=text,
        )
    if name in _LOCKED or "locked" in text:
        return StorageError(
            f"The database {path} is locked by another program; try again in a moment.",
            detail=text,
        )
    if name in _CORRUPT or "malformed" in text or "not a database" in text:
        return DatabaseCorrupt(
            f"The database {path} is damaged. It has not been changed; "
            "you can restore the latest backup.",
            path=str(path),
            detail=text,
        )
    if name in _IO:
        if _size_limited(path):
            return StorageError(
                f"The disk holding {path} is full for chatapp (the database reached this "
                "session's file-size limit, ulimit -f): the change was not saved. "
                "What was saved before is intact.",
                detail=text,
            )
        return StorageError(f"A disk error occurred while using {path}.", detail=text)
    return None


def _size_limited(path: Path | str) -> bool:
    """A failed write under a file-size limit (ulimit -f) is a full disk to the person, not a
    mysterious disk error: sqlite reports EFBIG only as an I/O error."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):
        return False
    if limit == resource.RLIM_INFINITY:
        return False
    sizes = []
    for suffix in ("", "-wal", "-journal"):
        try:
            sizes.append(os.path.getsize(f"{path}{suffix}"))
        except OSError:
            pass
    return bool(sizes) and max(sizes) + 1024 * 1024 >= limit


def raise_translated(exc: BaseException, path: Path | str) -> None:
    known = translate(exc, path)
    if known is not None:
        raise known from exc
    raise exc


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


def connect_reader(path: Path, key: str | None = None) -> sqlite3.Connection:
    """A read connection for a worker thread (WAL lets it run beside the writer)."""
    conn = crypto.connect(path, key, check_same_thread=False, isolation_level=None)
    if key is not None:
        _check_key(conn, path)
    _configure(conn)
    conn.execute("PRAGMA query_only = ON")
    return conn


def key_opens(path: Path, key: str) -> bool:
    """Whether `key` opens the encrypted database at `path`, read-only (a passphrase typed at
    start is checked so before anything is opened for writing). An absent or plain file has
    nothing to check against: True."""
    if crypto.state(path) != "encrypted":
        return True
    try:
        connect_reader(path, key).close()
    except crypto.WrongKey:
        return False
    return True


def kept_key_that_opens(path: Path) -> str | None:
    """For a database marked as keyed by a passphrase: a kept key that opens it anyway (a
    switch back from the passphrase stopped between the swap and the new mark), with the
    mark taken away; else None, and the passphrase is asked."""
    known = crypto.find_key(path)
    if known is None or crypto.state(path) != "encrypted" or not key_opens(path, known[0]):
        return None
    crypto.set_passphrase_mark(path, False)
    return known[0]


def open_database(path: Path, key: str | None = None) -> sqlite3.Connection:
    """Open (creating or migrating) the database; refuse a newer or damaged one untouched.

    The version and header are read before anything is written, so a database
    from a newer chatapp or a damaged file is never modified. With `key`, the database is
    SQLCipher's (a new one is created encrypted); a key that does not open it is WrongKey.
    """
    path = Path(path)
    try:
        if path.exists() and key is None:
            _check_header(path)
        conn = crypto.connect(path, key, check_same_thread=False, isolation_level=None)
    except ERRORS as exc:
        raise_translated(exc, path)
    if key is not None:
        _check_key(conn, path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > migrations.LATEST:
            conn.close()
            raise DatabaseTooNew(
                f"The database {path} was written by a newer version of chatapp "
                f"(schema {version}, this version knows up to {migrations.LATEST}). "
                "It has not been changed; please update chatapp.",
            )
        _configure(conn)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            log.warning("journal_mode is %s, not WAL", mode)
        migrations.migrate(conn)
    except ERRORS as exc:
        conn.close()
        raise_translated(exc, path)
    return conn


def _check_key(conn: sqlite3.Connection, path: Path) -> None:
    """The first read decides whether the key opens the file: a wrong key (or a damaged or
    foreign file) reads as 'not a database', before anything is written."""
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        # every page read from disk is decrypted and checked: a larger page cache keeps
        # searches near plain speed (a ceiling, filled only as pages are read)
        conn.execute(f"PRAGMA cache_size = -{crypto.CACHE_KIB}")
    except ERRORS as exc:
        conn.close()
        if "not a database" in str(exc) or _primary_name(exc) == "SQLITE_NOTADB":
            raise crypto.WrongKey(crypto.wrong_key_message(path), detail=str(exc)) from exc
        raise_translated(exc, path)


def open_read_only(path: Path, *, key: str | None = None) -> sqlite3.Connection:
    """Open the database only to read it (`list`, `export`): a read-only file or folder, a
    full disk or a file-size limit must not keep a person from rescuing their threads.

    Tries SQLite's read-only mode, then `immutable` (which needs no -shm file, so it works
    in a read-only folder). Nothing is written; an older schema is refused because reading
    it needs a migration (the code reads today's columns), and so is `immutable` beside a
    write-ahead log with changes in it: that mode ignores the log, and an export would miss
    the newest messages without a word."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise StorageError(f"There is no database at {path}.")
    if key is None:
        _check_header(path)
    uri = path.absolute().as_uri()
    last: BaseException | None = None
    for mode in ("mode=ro", "immutable=1"):
        wal = path.with_name(path.name + "-wal")
        if mode == "immutable=1" and wal.is_file() and wal.stat().st_size > 0:
            raise StorageError(
                f"The database {path} has recent changes in {wal.name} that cannot be read while "
                f"it cannot be opened for writing ({last}). Copy the folder somewhere writable "
                "and try again from there."
            )
        try:
            conn = crypto.connect(
                f"{uri}?{mode}", key, uri=True, check_same_thread=False, isolation_level=None
            )
        except ERRORS as exc:
            last = exc
            continue
        if key is not None:
            _check_key(conn, path)
        try:
            conn.execute("PRAGMA query_only = ON")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("SELECT count(*) FROM threads").fetchone()
        except ERRORS as exc:
            conn.close()
            last = exc
            continue
        if version > migrations.LATEST:
            conn.close()
            raise DatabaseTooNew(
                f"The database {path} was written by a newer version of chatapp (schema {version}, "
                f"this version knows up to {migrations.LATEST}). Please update chatapp."
            )
        if version < migrations.LATEST:
            conn.close()
            raise StorageError(
                f"The database {path} is from an older chatapp and must be upgraded, which cannot "
                "be done while it is read-only. Make it writable (or copy it elsewhere) "
                "and try again."
            )
        return conn
    assert last is not None
    raise_translated(last, path)
    raise last  # unreachable


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _check_header(path: Path) -> None:
    """An existing non-empty file must start with SQLite's magic string."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise StorageError(f"chatapp cannot read its database {path}.", detail=str(exc)) from exc
    if head and not head.startswith(_SQLITE_MAGIC):
        raise DatabaseCorrupt(
            f"The database {path} is damaged (its header is not SQLite's). "
            "It has not been changed; you can restore the latest backup.",
            path=str(path),
        )
