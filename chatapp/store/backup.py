"""Consistent backups with SQLite's backup API, and restoring one.

When: daily (at start, when the newest backup is a day old) and at quit when the
database changed since the newest backup; never of a database without threads
(the first backup of a new data folder was once an empty one, so "restore the
latest backup" restored nothing). Which are kept: the newest few, and the newest
of each of the last days, so a morning of restarts does not push out last week.

A damaged database is never overwritten: restoring moves it aside first. A
database that is missing or empty while backups exist is not taken for a new
one (`missing_with_backups`), and one deleted under the running app is written
back from the open connection (`DatabaseWatch`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from chatapp.errors import StorageError
from chatapp.store import crypto
from chatapp.store.crypto import ERRORS
from chatapp.store.db import raise_translated

if TYPE_CHECKING:
    from chatapp.store.store import Store

log = logging.getLogger("chatapp.store")

KEEP = 7  # days with a backup kept
KEEP_RECENT = 5  # the newest backups kept whatever their day
DAY = 86400.0
_PREFIX = "chatapp-"
_SUFFIX = ".sqlite3"


def backups(folder: Path) -> list[Path]:
    """Backups in `folder`, newest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def backup_now(
    db_path: Path, folder: Path, *, now: float | None = None, key: str | None = None
) -> Path:
    """Write a consistent copy of the database (readers and the writer may go on meanwhile);
    an encrypted database's copy is encrypted with the same key."""
    now = time.time() if now is None else now
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{_PREFIX}{_stamp(now)}{_SUFFIX}"
    partial = target.with_name(target.name + ".partial")
    try:
        src = crypto.connect(f"{Path(db_path).absolute().as_uri()}?mode=ro", key, uri=True)
        try:
            dst = crypto.connect(partial, key)
            try:
                src.backup(dst, pages=1024)
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(partial, target)
    except ERRORS as exc:
        partial.unlink(missing_ok=True)
        raise_translated(exc, db_path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    log.info("backup written: %s", target)
    return target


def has_threads(db_path: Path, key: str | None = None) -> bool:
    """Whether the database holds anything worth a backup (a thread, trashed ones too)."""
    try:
        conn = crypto.connect(f"{Path(db_path).absolute().as_uri()}?mode=ro", key, uri=True)
        try:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM threads)").fetchone()[0] == 1
        finally:
            conn.close()
    except ERRORS:
        return False


def daily_backup(
    db_path: Path,
    folder: Path,
    *,
    now: float | None = None,
    keep: int = KEEP,
    key: str | None = None,
) -> Path | None:
    """Back up if the newest backup is a day old or more and there is something to keep."""
    now = time.time() if now is None else now
    existing = backups(folder)
    if existing and now - existing[0].stat().st_mtime < DAY:
        return None
    if not has_threads(db_path, key):
        return None
    made = backup_now(db_path, folder, now=now, key=key)
    os.utime(made, (now, now))
    prune(folder, keep_days=keep)
    return made


def changed_since_backup(db_path: Path, folder: Path) -> bool:
    """The database (or its write-ahead log) was written after the newest backup was made."""
    existing = backups(folder)
    if not existing:
        return True
    newest = existing[0].stat().st_mtime
    written = [
        p.stat().st_mtime for p in (db_path, db_path.with_name(db_path.name + "-wal")) if p.exists()
    ]
    return bool(written) and max(written) > newest


def backup_if_changed(
    db_path: Path, folder: Path, *, now: float | None = None, key: str | None = None
) -> Path | None:
    """At quit: a backup of what changed in this session (nothing when nothing did)."""
    if not has_threads(db_path, key) or not changed_since_backup(db_path, folder):
        return None
    now = time.time() if now is None else now
    existing = backups(folder)
    if existing and existing[0].name == f"{_PREFIX}{_stamp(now)}{_SUFFIX}":
        now += 1  # two backups in one second keep both names
    made = backup_now(db_path, folder, now=now, key=key)
    prune(folder)
    return made


def prune(folder: Path, *, keep_recent: int = KEEP_RECENT, keep_days: int = KEEP) -> list[Path]:
    """Keep the newest `keep_recent` backups and the newest one of each of the last `keep_days`
    days that have one; returns what was removed."""
    found = backups(folder)
    kept = set(found[:keep_recent])
    days: list[str] = []
    for path in found:  # newest first
        day = path.name[len(_PREFIX) : len(_PREFIX) + 8]
        if day not in days:
            days.append(day)
            if len(days) <= keep_days:
                kept.add(path)
    removed = [p for p in found if p not in kept]
    for old in removed:
        old.unlink(missing_ok=True)
    return removed


def set_aside(folder: Path, *, now: float | None = None) -> Path | None:
    """Move every backup into `folder/before-<date>/`, where `prune` never looks: after a
    person chose to start empty beside a lost database, the backups of that database must
    not be pruned away by the new one's quits. Returns the folder, or None with no backups."""
    found = backups(folder)
    if not found:
        return None
    aside = folder / f"before-{_stamp(time.time() if now is None else now)}"
    aside.mkdir(exist_ok=True)
    for path in found:
        os.replace(path, aside / path.name)
    return aside


def _stamp(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))


def missing_with_backups(db_path: Path, folder: Path) -> str | None:
    """A message when the database is missing or empty (0 bytes) although backups exist: that
    is a lost database, not a new one, and must not be silently started afresh."""
    found = backups(folder)
    if not found:
        return None
    if db_path.exists():
        wal = db_path.with_name(db_path.name + "-wal")
        if db_path.stat().st_size > 0 or (wal.exists() and wal.stat().st_size > 0):
            return None
        state = "is empty (0 bytes)"
    else:
        state = "is missing"
    when = dt.datetime.fromtimestamp(found[0].stat().st_mtime).strftime("%Y-%m-%d %H:%M")
    return (
        f"The database {db_path} {state}, but there are backups in {folder} "
        f"(the latest, {found[0].name}, from {when})."
    )


class DatabaseWatch:
    """Notices the database file being deleted or replaced under the running app.

    SQLite goes on writing to the open (now nameless) file, so nothing fails until the
    next start finds every thread gone. `check()` sees it; `rescue()` writes what the
    open connection holds back to the database's name (or beside it, when another file
    took the name), so nothing is lost. After writing a deleted database back, the Store
    is reopened on the copy: its old connection would go on writing to the nameless file,
    and a write-ahead log left under the name would belong to the old file, not the copy
    (replayed onto it after a crash, it reads as "malformed"); that log is moved aside.

    `check()` may run on a background job: it holds the store's lock while it copies, and a
    second call while one is running returns at once.
    """

    def __init__(self, store: Store) -> None:
        self.db_path = Path(store.db_path)
        self._store = store
        self._identity = self._current()
        self._running = threading.Lock()
        self.vanished = False

    def _current(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.db_path)
        except OSError:
            return None
        return (info.st_dev, info.st_ino)

    def changed(self) -> bool:
        """Cheap (one stat): whether the file at the name is not the one the app opened."""
        return not self.vanished and self._current() != self._identity

    def check(self) -> str | None:
        """A message the first time the file is found gone or replaced (None otherwise)."""
        if not self.changed() or not self._running.acquire(blocking=False):
            return None
        try:
            if not self.changed():
                return None
            self.vanished = True
            log.error("the database file %s was deleted or replaced while in use", self.db_path)
            return self.rescue()
        finally:
            self._running.release()

    def rescue(self) -> str:
        """Write the open connection's database to its name (or beside it); returns what was
        done."""
        replaced = self._current() not in (None, self._identity)
        target = self.db_path
        if replaced:
            target = self.db_path.with_name(f"{self.db_path.name}.rescued-{_stamp(time.time())}")
        partial = target.with_name(target.name + ".partial")
        store = self._store
        with store._lock:
            try:
                dst = crypto.connect(partial, store.key)
                try:
                    store._conn.backup(dst)
                finally:
                    dst.close()
                _fsync(partial)
                if not replaced:
                    _move_aside_logs(self.db_path)
                os.replace(partial, target)
            except (*ERRORS, OSError) as exc:
                partial.unlink(missing_ok=True)
                return (
                    f"The database file {self.db_path} was deleted or replaced while chatapp was "
                    f"running, and what chatapp holds could not be written back ({exc}). "
                    "Keep chatapp open and free the disk, or restore a backup."
                )
            if replaced:
                return (
                    f"The database file {self.db_path} was replaced by another file while "
                    f"chatapp was running; what chatapp held is saved as {target}."
                )
            try:
                store.reopen()
            except (StorageError, *ERRORS, OSError) as exc:
                return (
                    f"The database file {self.db_path} was deleted while chatapp was running; "
                    f"chatapp wrote what it holds back to it but could not open it again ({exc}). "
                    "Quit and start chatapp again: nothing was lost."
                )
        self._identity = self._current()
        self.vanished = False  # the app uses the file at the name again: watch it anew
        return (
            f"The database file {self.db_path} was deleted while chatapp was running; chatapp "
            "wrote what it holds back to it, and nothing was lost."
        )


def _move_aside_logs(db_path: Path) -> None:
    """A -wal/-shm left under the name belongs to the deleted file: kept aside, never replayed
    onto the copy written back."""
    stamp = _stamp(time.time())
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            os.replace(side, side.with_name(f"{db_path.name}.stale-{stamp}{suffix}"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore(db_path: Path, backup: Path, *, now: float | None = None) -> Path:
    """Put `backup` in place of the database; the old file is renamed, never overwritten.

    Returns where the old (damaged) database was moved.
    """
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    if db_path.exists():
        os.replace(db_path, aside)
    for suffix in ("-wal", "-shm"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            os.replace(side, aside.with_name(aside.name + suffix))
    tmp = db_path.with_name(db_path.name + ".restoring")
    shutil.copyfile(backup, tmp)
    os.replace(tmp, db_path)
    log.warning("restored %s from %s; the old file is %s", db_path, backup, aside)
    return aside
