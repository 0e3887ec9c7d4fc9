"""Backups that can help, and a database that is missing, empty, read-only or deleted under
the running app (issue 22, items 8 and 11)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatapp.domain import Role
from chatapp.errors import StorageError
from chatapp.store import Store, backup
from chatapp.store.db import open_read_only

DAY = 86400


def test_a_database_without_threads_is_not_backed_up(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    Store.open(db).close()  # a fresh data folder at its first start
    assert backup.daily_backup(db, tmp_path / "backups") is None
    assert backup.backup_if_changed(db, tmp_path / "backups") is None
    assert backup.backups(tmp_path / "backups") == []


def test_a_backup_at_quit_holds_the_sessions_messages_and_only_when_changed(tmp_path: Path) -> None:
    db, folder = tmp_path / "db.sqlite3", tmp_path / "backups"
    s = Store.open(db)
    t = s.create_thread("first day")
    s.add_message(t.id, Role.USER, "the first message")
    s.close()
    made = backup.backup_if_changed(db, folder)
    assert made is not None
    conn = sqlite3.connect(made)
    assert conn.execute("SELECT content FROM messages").fetchall() == [("the first message",)]
    conn.close()
    assert backup.backup_if_changed(db, folder) is None  # nothing changed since
    time.sleep(0.05)
    s = Store.open(db)
    s.add_message(t.id, Role.USER, "a second message")
    s.close()
    os.utime(db, (time.time() + 2, time.time() + 2))  # coarse file-system clocks
    second = backup.backup_if_changed(db, folder)
    assert second is not None and second != made and len(backup.backups(folder)) == 2


def test_restarts_do_not_push_out_last_weeks_backups(tmp_path: Path) -> None:
    db, folder = tmp_path / "db.sqlite3", tmp_path / "backups"
    s = Store.open(db)
    s.create_thread("t")
    s.close()
    start = 1_700_000_000
    for day in range(6):
        backup.backup_now(db, folder, now=start + day * DAY)
    for minute in range(10):  # a morning of restarts, each with a change
        backup.backup_now(db, folder, now=start + 6 * DAY + minute * 60)
    backup.prune(folder)
    kept = [p.name for p in backup.backups(folder)]
    days = {name[8:16] for name in kept}
    assert len(days) == 7  # one for each of the last seven days
    assert len(kept) == 5 + 6  # the five newest, plus the newest of each older day


def test_a_missing_or_empty_database_beside_backups_is_not_new(tmp_path: Path) -> None:
    db, folder = tmp_path / "chatapp.sqlite3", tmp_path / "backups"
    s = Store.open(db)
    s.add_message(s.create_thread("precious").id, Role.USER, "keep me")
    s.close()
    assert backup.missing_with_backups(db, folder) is None  # no backups: nothing to say
    backup.backup_now(db, folder)
    assert backup.missing_with_backups(db, folder) is None  # the database is there
    for side in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        side.unlink(missing_ok=True)
    db.write_bytes(b"")
    message = backup.missing_with_backups(db, folder)
    assert message and "is empty (0 bytes)" in message and "backups" in message
    db.unlink()
    assert "is missing" in (backup.missing_with_backups(db, folder) or "")


def test_the_command_line_refuses_to_start_afresh_next_to_backups(
    chatapp_home: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    from chatapp import cli

    db = chatapp_home / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("precious").id, Role.USER, "keep me")
    s.close()
    backup.backup_now(db, chatapp_home / "backups")
    db.unlink()
    assert cli.main(["list"]) == 1
    assert "is missing, but there are backups" in capsys.readouterr().err
    assert not db.exists()  # no empty database was made in its place


def test_a_deleted_database_is_noticed_and_written_back(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    s = Store.open(db)
    t = s.create_thread("streaming")
    s.add_message(t.id, Role.USER, "before")
    watch = backup.DatabaseWatch(s)
    assert watch.check() is None
    for name in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        name.unlink(missing_ok=True)
    s.add_message(t.id, Role.ASSISTANT, "written after the file was deleted")
    message = watch.check()
    assert message and "was deleted" in message and "nothing was lost" in message
    assert watch.check() is None  # said once
    s.add_message(t.id, Role.USER, "and after the rescue")
    watch.rescue()  # what the app does at quit
    s.close()
    again = Store.open(db)
    assert [m.content for m in again.path(t.id)] == [
        "before",
        "written after the file was deleted",
        "and after the rescue",
    ]
    again.close()


_CRASH_AFTER_RESCUE = """
import os, sys
from pathlib import Path
from chatapp.domain import Role
from chatapp.store import Store, backup
db = Path(sys.argv[1])
s = Store.open(db)
t = s.threads()[0]
watch = backup.DatabaseWatch(s)
db.unlink()  # the file only: its -wal and -shm stay under their names
s.add_message(t.id, Role.ASSISTANT, "written after the file was deleted")
print(watch.check(), flush=True)
for n in range(40):
    s.add_message(t.id, Role.USER, f"after the rescue {n} " + "x" * 500)
    if n == 20:  # what SQLite's automatic checkpoint does every 1000 pages
        s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
os._exit(0)  # a crash: nothing closed, nothing checkpointed
"""


def test_after_a_rescue_the_app_writes_to_the_copy_and_a_crash_loses_nothing(
    tmp_path: Path,
) -> None:
    """The writer is reopened on the copy written back, and the deleted file's write-ahead
    log left under the name is moved aside: replayed onto the copy it read as malformed."""
    db = tmp_path / "chatapp.sqlite3"
    s = Store.open(db)
    t = s.create_thread("kept")
    for n in range(40):
        s.add_message(t.id, Role.USER, f"before {n} " + "y" * 500)
    s.close()
    result = subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_RESCUE, str(db)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "nothing was lost" in result.stdout
    again = Store.open(db)
    assert again._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    contents = [m.content for m in again.path(t.id)]
    again.close()
    assert len(contents) == 81
    assert contents[40] == "written after the file was deleted"
    assert contents[-1].startswith("after the rescue 39 ")
    assert list(tmp_path.glob("chatapp.sqlite3.stale-*-wal"))  # kept aside, not replayed


def test_a_rescue_reopens_the_store_on_the_file_under_the_name(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    s = Store.open(db)
    t = s.create_thread("reopened")
    watch = backup.DatabaseWatch(s)
    db.unlink()
    assert "nothing was lost" in (watch.check() or "")
    s.add_message(t.id, Role.USER, "seen by another connection")
    other = sqlite3.connect(db)
    assert other.execute("SELECT content FROM messages").fetchall() == [
        ("seen by another connection",)
    ]
    other.close()
    db.unlink()  # a second deletion is noticed too
    assert "nothing was lost" in (watch.check() or "")
    s.close()
    assert [m.content for m in Store.open(db).path(t.id)] == ["seen by another connection"]


def test_a_replaced_database_is_not_overwritten(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("mine").id, Role.USER, "held by the app")
    watch = backup.DatabaseWatch(s)
    os.replace(db, tmp_path / "moved.sqlite3")
    db.write_bytes(b"someone else's file")
    message = watch.check()
    assert message and "replaced" in message
    assert db.read_bytes() == b"someone else's file"
    [rescued] = tmp_path.glob("chatapp.sqlite3.rescued-*")
    conn = sqlite3.connect(rescued)
    assert conn.execute("SELECT content FROM messages").fetchall() == [("held by the app",)]
    conn.close()
    s.close()


def test_a_read_only_database_can_still_be_read(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("rescue me").id, Role.USER, "still here")
    s.close()
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        store = Store(db, open_read_only(db))
        assert [t.title for t in store.threads()] == ["rescue me"]
        with pytest.raises(StorageError):
            store.create_thread("no")
        store.close()
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    with pytest.raises(StorageError, match="no database"):
        open_read_only(folder / "missing.sqlite3")


def test_an_older_schema_is_refused_read_only_with_a_sentence(tmp_path: Path) -> None:
    """Reading an older schema needs today's columns (a slot's history): refused with words,
    not a traceback halfway through an export."""
    from chatapp.store import migrations

    db = tmp_path / "old.sqlite3"
    Store.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST - 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StorageError, match="older chatapp and must be upgraded"):
        open_read_only(db)


def test_a_write_ahead_log_with_changes_is_not_skipped_read_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where only `immutable` opens the file (a read-only folder without -shm), the log's
    changes would be invisible: say so instead of exporting old data."""
    from chatapp.store import db as db_module

    db = tmp_path / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("t").id, Role.USER, "checkpointed")
    s._conn.execute("PRAGMA wal_autocheckpoint = 0")
    s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.add_message(s.create_thread("newest").id, Role.USER, "only in the log")
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("chatapp.sqlite3", "chatapp.sqlite3-wal"):
        (copy / name).write_bytes((tmp_path / name).read_bytes())
    s.close()
    assert (copy / "chatapp.sqlite3-wal").stat().st_size > 0
    real_connect = db_module.crypto.connect

    def read_only_folder(target, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "mode=ro" in str(
            target
        ):  # what a read-only folder without -shm does (root ignores chmod)
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(target, *args, **kwargs)

    monkeypatch.setattr(db_module.crypto, "connect", read_only_folder)
    with pytest.raises(StorageError, match="recent changes in chatapp.sqlite3-wal"):
        open_read_only(copy / "chatapp.sqlite3")


def test_a_write_under_a_file_size_limit_says_the_disk_is_full(tmp_path: Path) -> None:
    code = (
        "import resource\n"
        "from chatapp.store import Store\n"
        "from chatapp.domain import Role\n"
        "from chatapp.errors import StorageError\n"
        f"s = Store.open({str(tmp_path / 'db.sqlite3')!r})\n"
        "t = s.create_thread('x')\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))\n"
        "try:\n"
        "    for i in range(100):\n"
        "        s.add_message(t.id, Role.USER, 'x' * 10_000)\n"
        "except StorageError as exc:\n"
        "    print(exc.message)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=os.getcwd()
    )
    assert "is full" in result.stdout and "file-size limit" in result.stdout, (
        result.stdout + result.stderr
    )
