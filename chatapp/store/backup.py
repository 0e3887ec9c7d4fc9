"""Daily consistent backups with SQLite's backup API, and restoring one.

A damaged database is never overwritten: restoring moves it aside first.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from pathlib import Path

from chatapp.store.db import raise_translated

log = logging.getLogger("chatapp.store")

KEEP = 7
DAY = 86400.0
_PREFIX = "chatapp-"
_SUFFIX = ".sqlite3"


def backups(folder: Path) -> list[Path]:
    """Backups in `folder`, newest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(_SUFFIX)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def backup_now(db_path: Path, folder: Path, *, now: float | None = None) -> Path:
    """Write a consistent copy of the database (readers and the writer may go on meanwhile)."""
    now = time.time() if now is None else now
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    target = folder / f"{_PREFIX}{stamp}{_SUFFIX}"
    partial = target.with_name(target.name + ".partial")
    try:
        src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst, pages=1024)
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise_translated(exc, db_path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
    log.info("backup written: %s", target)
    return target


def daily_backup(
    db_path: Path, folder: Path, *, now: float | None = None, keep: int = KEEP
) -> Path | None:
    """Back up if the newest backup is a day old or more; keep the newest `keep`."""
    now = time.time() if now is None else now
    existing = backups(folder)
    if existing and now - existing[0].stat().st_mtime < DAY:
        return None
    made = backup_now(db_path, folder, now=now)
    os.utime(made, (now, now))
    for old in backups(folder)[keep:]:
        old.unlink(missing_ok=True)
    return made


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
