"""Encrypting a plain database, or decrypting an encrypted one, without a chance of loss.

The other copy is written beside the database (`.converting`), checked (integrity, the row
count of every table, a full-text search), made durable, and only then put in the
database's place with one atomic rename. Until that rename the old file is the database;
after it the new one is, and the old one is removed last. The backups are re-made the same
way, one by one. Killed at any step, the next start finds a complete database in place.

chatapp must not be running meanwhile: the database is first switched out of WAL mode,
which SQLite refuses while another connection has it open.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from chatapp.errors import StorageError
from chatapp.store import crypto
from chatapp.store.crypto import ERRORS, cipher

log = logging.getLogger("chatapp.store")

PARTIAL = ".converting"
OLD = ".before-conversion"
TARGETS = ("encrypted", "passphrase", "key", "plain")
# encrypted: a random key kept in the keyring or a key file; passphrase: a key derived from
# a passphrase asked at start; key: from a passphrase back to a kept random key; plain: none


def _step(name: str) -> None:
    """A named point between two steps (tests raise here to stand in for a kill)."""
    log.debug("conversion step: %s", name)


Progress = Callable[[int, int], None]


def encrypt(
    db_path: Path,
    backups: Path | None = None,
    *,
    passphrase: str | None = None,
    progress: Progress | None = None,
) -> str:
    """Encrypt a plain database (and its backups) under a random key kept in the keyring or a
    key file, or under `passphrase`; returns where the key is kept ('passphrase' for one)."""
    db_path = Path(db_path)
    if crypto.state(db_path) != "plain":
        raise StorageError(f"{db_path} is not a plain chatapp database: nothing was done.")
    if passphrase is not None:
        key, where = crypto.key_from_passphrase(db_path, passphrase), crypto.PASSPHRASE
    else:
        known = crypto.find_key(db_path)
        if known is None:
            key = crypto.new_key()
            where = crypto.store_key(db_path, key)  # kept before a byte is written under it
        else:
            key, where = known
    _convert_all(db_path, backups, None, key, "plain", progress, passphrase is not None)
    return where


def decrypt(
    db_path: Path,
    backups: Path | None = None,
    *,
    key: str | None = None,
    progress: Progress | None = None,
) -> None:
    """Write an encrypted database (and its backups) back as plain SQLite. A kept key stays
    kept: a backup made elsewhere with it can still be read. `key` opens a database keyed by
    a passphrase (derived by the caller)."""
    db_path = Path(db_path)
    if crypto.state(db_path) != "encrypted":
        raise StorageError(f"{db_path} is not an encrypted chatapp database: nothing was done.")
    key = key or crypto.key_for(db_path)
    _convert_all(db_path, backups, key, None, "encrypted", progress, False)


def change_key(
    db_path: Path,
    backups: Path | None,
    old_key: str,
    *,
    passphrase: str | None,
    progress: Progress | None = None,
) -> str:
    """Re-encrypt an encrypted database (and its backups) under a passphrase, or, with
    `passphrase` None, under a random key kept in the keyring or a key file. Returns where
    the key is kept ('passphrase' for one)."""
    db_path = Path(db_path)
    if crypto.state(db_path) != "encrypted":
        raise StorageError(f"{db_path} is not an encrypted chatapp database: nothing was done.")
    if passphrase is not None:
        if not passphrase:
            raise StorageError("The passphrase is empty; nothing was changed.")
        new, where = crypto.derive_key(passphrase, crypto.new_salt()), crypto.PASSPHRASE
    else:  # the key kept from before a passphrase, if any, else a new one
        known = crypto.find_key(db_path)
        if known is not None and known[0] != old_key:
            new, where = known
        else:
            new = crypto.new_key()
            where = crypto.store_key(db_path, new)  # kept before a byte is written under it
    _convert_all(db_path, backups, old_key, new, "encrypted", progress, passphrase is not None)
    return where


def _convert_all(
    db_path: Path,
    backups: Path | None,
    old_key: str | None,
    new_key: str | None,
    was: str,
    progress: Progress | None,
    passphrase: bool,
) -> None:
    """The database first, then (its mark said at once) each backup still in its old form."""
    olds = [p for p in _backups(backups) if crypto.state(p) == was]
    total = 1 + len(olds)
    if progress:
        progress(0, total)
    _convert(db_path, old_key, new_key)
    if new_key is not None or crypto.uses_passphrase(db_path):
        crypto.set_passphrase_mark(db_path, passphrase)
    for n, old in enumerate(olds, start=1):
        if progress:
            progress(n, total)
        try:
            _convert(old, old_key, new_key)
        except StorageError as exc:  # one made under another key: left as it is, and said
            log.warning("the backup %s was left as it was: %s", old, exc)
    if progress:
        progress(total, total)


def request_file(db_path: Path) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(db_path.stem + ".convert-request")


def request(db_path: Path, target: str) -> None:
    """Ask for a conversion at the next start (Settings ▸ Privacy, then chatapp restarts):
    it needs every connection to the database closed."""
    if target not in TARGETS:
        raise ValueError(target)
    path = request_file(db_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(target + "\n", encoding="ascii")
    os.replace(tmp, path)


def take_request(db_path: Path) -> str | None:
    """The conversion asked for, removed as it is read (a conversion killed half-way is not
    run again and again: the database it leaves opens either way)."""
    path = request_file(db_path)
    try:
        target = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    path.unlink(missing_ok=True)
    return target if target in TARGETS else None


def run(
    db_path: Path,
    backups: Path | None,
    target: str,
    key: str | None,
    *,
    passphrase: str | None = None,
    progress: Progress | None = None,
) -> str | None:
    """Convert to `target` from what the database is now (opened with `key`); returns the key
    that opens it afterwards (None: plain)."""
    db_path = Path(db_path)
    if target == "plain":
        decrypt(db_path, backups, key=key, progress=progress)
        return None
    if target == "passphrase":
        if not passphrase:
            raise StorageError("No passphrase was given; nothing was changed.")
        if key is None:
            encrypt(db_path, backups, passphrase=passphrase, progress=progress)
        else:
            change_key(db_path, backups, key, passphrase=passphrase, progress=progress)
        return crypto.key_from_passphrase(db_path, passphrase)
    if key is None:
        encrypt(db_path, backups, progress=progress)
    else:
        change_key(db_path, backups, key, passphrase=None, progress=progress)
    return crypto.key_for(db_path)


def _backups(folder: Path | None) -> list[Path]:
    from chatapp.store.backup import backups

    return backups(folder) if folder is not None else []


def cleanup(db_path: Path) -> None:
    """Remove what an interrupted conversion left beside a database that opens."""
    for suffix in (PARTIAL, OLD):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def _convert(path: Path, old_key: str | None, new_key: str | None) -> None:
    partial = Path(f"{path}{PARTIAL}")
    aside = Path(f"{path}{OLD}")
    partial.unlink(missing_ok=True)
    aside.unlink(missing_ok=True)
    if cipher is None:
        raise StorageError("This chatapp lacks SQLCipher (the sqlcipher3 package).")
    src = (
        crypto.connect(path, old_key, isolation_level=None)
        if old_key
        else cipher.connect(str(path), isolation_level=None)
    )
    try:
        try:
            mode = src.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except ERRORS as exc:
            raise StorageError(
                f"{path} is in use (is chatapp running?). Close chatapp and try again; "
                "nothing was changed.",
                detail=str(exc),
            ) from exc
        if str(mode).lower() != "delete":
            raise StorageError(f"{path} is in use (is chatapp running?); nothing was changed.")
        version = src.execute("PRAGMA user_version").fetchone()[0]
        literal = f"\"x'{new_key}'\"" if new_key else "''"
        src.execute(f"ATTACH DATABASE ? AS other KEY {literal}", (str(partial),))
        src.execute("SELECT sqlcipher_export('other')")
        src.execute(f"PRAGMA other.user_version = {int(version)}")
        src.execute("DETACH DATABASE other")
        _step("written")
        _verify(src, path, partial, new_key)
    except ERRORS as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(
            f"{path} could not be converted; nothing was changed.", detail=str(exc)
        ) from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    _fsync(partial)
    _step("verified")
    os.link(path, aside)  # the old file keeps a name until the swap is done
    _step("kept")
    os.replace(partial, path)
    _fsync_dir(path.parent)
    _step("swapped")
    for side in ("-wal", "-shm", "-journal"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    aside.unlink()
    _fsync_dir(path.parent)
    log.info("%s %s", path, "encrypted" if new_key else "decrypted")


def _counts(conn: object, schema: str) -> dict[str, int]:
    execute: Callable = conn.execute  # type: ignore[attr-defined]
    names = [
        row[0]
        for row in execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    ]
    return {
        name: execute(f'SELECT count(*) FROM {schema}."{name}"').fetchone()[0] for name in names
    }


def _verify(src: object, path: Path, partial: Path, new_key: str | None) -> None:
    """The copy must open with its key, pass an integrity check, hold as many rows in every
    table as the original, and find the same messages with a full-text search."""
    dst = crypto.connect(partial, new_key) if new_key else cipher.connect(str(partial))
    try:
        problems = []
        if dst.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("the integrity check failed")
        before, after = _counts(src, "main"), _counts(dst, "main")
        if before != after:
            problems.append(f"row counts differ ({before} != {after})")
        word = _a_word(src)
        if word is not None:
            query = "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?"
            if src.execute(query, (word,)).fetchone() != dst.execute(query, (word,)).fetchone():  # type: ignore[attr-defined]
                problems.append(f"a search for {word!r} finds different messages")
        version = src.execute("PRAGMA user_version").fetchone()[0]  # type: ignore[attr-defined]
        if dst.execute("PRAGMA user_version").fetchone()[0] != version:
            problems.append("the schema version differs")
    finally:
        dst.close()
    if problems:
        raise StorageError(
            f"The converted copy of {path} did not check out ({'; '.join(problems)}); "
            "it was removed and nothing was changed."
        )


def _a_word(conn: object) -> str | None:
    """A word from the latest message, quoted for FTS5 (None when there are no messages)."""
    try:
        row = conn.execute(  # type: ignore[attr-defined]
            "SELECT content FROM messages WHERE content != '' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    except ERRORS:
        return None
    if not row:
        return None
    words = [w for w in "".join(c if c.isalnum() else " " for c in row[0]).split() if len(w) > 2]
    return f'"{words[0]}"' if words else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
