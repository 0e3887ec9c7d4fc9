import sqlite3
from pathlib import Path

import pytest

from chatapp.domain import Role
from chatapp.errors import DatabaseCorrupt
from chatapp.store import Store, backup

DAY = 86400


def make_db(path: Path, n: int = 3) -> None:
    s = Store.open(path)
    t = s.create_thread("kept")
    for i in range(n):
        s.add_message(t.id, Role.USER, f"message {i}")
    s.close()


def test_backup_is_a_consistent_database(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    make_db(db)
    s = Store.open(db)  # the app is running and writing meanwhile
    made = backup.backup_now(db, tmp_path / "backups")
    s.add_message(1, Role.USER, "after the backup")
    conn = sqlite3.connect(made)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert [r[0] for r in conn.execute("SELECT content FROM messages ORDER BY id")] == [
        "message 0",
        "message 1",
        "message 2",
    ]
    conn.close()
    s.close()


def test_daily_backup_runs_once_a_day_and_keeps_seven(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    make_db(db)
    folder = tmp_path / "backups"
    start = 1_700_000_000
    assert backup.daily_backup(db, folder, now=start) is not None
    assert backup.daily_backup(db, folder, now=start + 3600) is None  # same day: nothing
    for day in range(1, 10):
        assert backup.daily_backup(db, folder, now=start + day * DAY) is not None
    kept = backup.backups(folder)
    assert len(kept) == 7
    assert kept == sorted(kept, reverse=True)


def test_restore_never_overwrites_the_damaged_file(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    make_db(db)
    good = backup.backup_now(db, tmp_path / "backups")
    Store.open(db).close()
    db.write_bytes(b"\x00garbage" * 100)
    damaged = db.read_bytes()
    with pytest.raises(DatabaseCorrupt):
        Store.open(db)
    aside = backup.restore(db, good)
    assert aside.read_bytes() == damaged
    s = Store.open(db)
    assert [m.content for m in s.path(1)] == ["message 0", "message 1", "message 2"]
    s.close()
