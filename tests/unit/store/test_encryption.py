"""Encryption at rest on real SQLCipher files: keys, opening, backups, bad keys, conversion."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from chatapp import cli
from chatapp.domain import Role
from chatapp.errors import DatabaseCorrupt, StorageError
from chatapp.store import Store, backup, convert, crypto

SECRET = "my neighbour's name is Aurelio and he lives in Porto"


def filled(path: Path, key: str | None, threads: int = 3) -> None:
    s = Store.open(path, key)
    for n in range(threads):
        t = s.create_thread(f"thread {n}")
        s.add_message(t.id, Role.USER, f"{SECRET} ({n})")
        s.add_message(t.id, Role.ASSISTANT, f"noted, number {n}")
    s.close()


def raw_bytes(path: Path) -> bytes:
    out = b""
    for suffix in ("", "-wal"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            out += side.read_bytes()
    return out


def contents(path: Path, key: str | None) -> list[str]:
    s = Store.open(path, key)
    try:
        return sorted(m.content for t in s.threads() for m in s.path(t.id))
    finally:
        s.close()


# -- keys ----------------------------------------------------------------------------


def test_without_a_keyring_the_key_goes_to_a_private_file_outside_the_data_folder(
    tmp_path: Path,
) -> None:
    db = tmp_path / "data" / "chatapp.sqlite3"
    db.parent.mkdir()
    key = crypto.key_for(db)
    assert key is not None and len(key) == 64
    found = crypto.find_key(db)
    assert found is not None and found[0] == key
    where = Path(found[1])
    assert where.is_file() and tmp_path / "data" not in where.parents
    assert where.is_relative_to(crypto.config_dir())
    assert stat.S_IMODE(where.stat().st_mode) == 0o600
    assert crypto.key_for(db) == key  # the same key next time (no database yet either)
    other = tmp_path / "other" / "chatapp.sqlite3"
    assert crypto.key_for(other) != key  # one key per data folder


class MemoryKeyring(KeyringBackend):
    """Stands in for the OS keyring (none runs here); `broken` refuses to store."""

    priority = 10  # type: ignore[assignment]

    def __init__(self, broken: bool = False) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.broken = broken

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if self.broken:
            raise keyring.errors.PasswordSetError("locked")
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def os_keyring(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    monkeypatch.setenv(crypto.ENV_KEYRING, "1")
    yield ring
    keyring.set_keyring(before)


def test_a_working_keyring_keeps_the_key_and_no_file_is_written(os_keyring, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    assert list(os_keyring.items.values()) == [key]
    assert crypto.find_key(db) == (key, "keyring")
    assert not crypto.key_file(db).exists()


def test_a_keyring_that_refuses_falls_back_to_the_key_file(os_keyring, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    os_keyring.broken = True
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    assert crypto.find_key(db) == (key, str(crypto.key_file(db)))


def test_the_fail_backend_counts_as_no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.setenv(crypto.ENV_KEYRING, "1")
    try:
        assert crypto._keyring() is None
    finally:
        keyring.set_keyring(before)


# -- opening -------------------------------------------------------------------------


def test_an_encrypted_database_holds_no_readable_text_and_works_as_before(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    filled(db, key)
    assert crypto.state(db) == "encrypted"
    s = Store.open(db, key)
    assert b"Aurelio" not in raw_bytes(db) and b"SQLite format 3" not in db.read_bytes()[:16]
    assert len(s.search("Aurelio Porto")) == 3
    reader = s.reader()
    assert reader.encrypted and len(reader.search("neighbour")) == 3
    reader.close()
    s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    assert b"Aurelio" not in raw_bytes(db)
    assert contents(db, key)[0].startswith(SECRET)


def test_a_plain_database_stays_plain(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    filled(db, None)
    assert crypto.key_for(db) is None
    assert crypto.find_key(db) is None  # no key was made for it
    assert crypto.state(db) == "plain"


def test_a_wrong_key_is_said_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    filled(db, key)
    before = db.read_bytes()
    with pytest.raises(crypto.WrongKey, match="cannot be opened with the key"):
        Store.open(db, crypto.new_key())
    with pytest.raises(DatabaseCorrupt):  # no key at all: not taken for a new database
        Store.open(db)
    assert db.read_bytes() == before
    assert contents(db, key)[0].startswith(SECRET)


def test_a_deleted_key_is_said_and_no_new_database_replaces_the_old(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    filled(db, key)
    crypto.key_file(db).unlink()  # the keyring entry deleted, or the folder copied elsewhere
    before = db.read_bytes()
    with pytest.raises(crypto.KeyMissing, match="no key for it") as caught:
        crypto.key_for(db)
    assert "will not start a new database" in caught.value.message
    assert db.read_bytes() == before
    assert crypto.find_key(db) is None  # and no new key was made for it either


def test_the_command_line_says_when_the_key_is_missing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    filled(db, key)
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 0
    assert "thread 2" in capsys.readouterr().out
    saved = crypto.key_file(db).read_text()
    crypto.key_file(db).unlink()
    before = db.read_bytes()
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 1
    assert "no key for it" in capsys.readouterr().err
    assert cli.main(["import", str(tmp_path / "x.json"), "--data-dir", str(tmp_path)]) == 1
    assert db.read_bytes() == before
    crypto.key_file(db).write_text(saved)
    assert contents(db, key)[0].startswith(SECRET)


# -- backups -------------------------------------------------------------------------


def test_backups_of_an_encrypted_database_are_encrypted_and_restore(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    filled(db, key)
    folder = tmp_path / "backups"
    assert backup.has_threads(db, key) and not backup.has_threads(db)
    made = backup.daily_backup(db, folder, key=key)
    assert made is not None and crypto.state(made) == "encrypted"
    assert b"Aurelio" not in made.read_bytes()
    assert contents(made, key) == contents(db, key)
    db.write_bytes(os.urandom(8192))  # damaged
    backup.restore(db, made)
    assert crypto.key_for(db) == key
    assert contents(db, key)[0].startswith(SECRET)


def test_an_encrypted_database_deleted_under_the_app_is_written_back_encrypted(
    tmp_path: Path,
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    filled(db, key)
    s = Store.open(db, key)
    watch = backup.DatabaseWatch(s)
    db.unlink()
    assert "nothing was lost" in (watch.check() or "")
    s.close()
    assert crypto.state(db) == "encrypted"
    assert len(contents(db, key)) == 6


# -- conversion ----------------------------------------------------------------------


def test_encrypt_and_decrypt_keep_everything_with_the_backups(tmp_path: Path) -> None:
    db, folder = tmp_path / "chatapp.sqlite3", tmp_path / "backups"
    filled(db, None, threads=20)
    old = backup.backup_now(db, folder)
    before, backed = contents(db, None), contents(old, None)
    where = convert.encrypt(db, folder)
    assert where == str(crypto.key_file(db))
    key = crypto.key_for(db)
    assert key is not None and crypto.state(db) == crypto.state(old) == "encrypted"
    assert b"Aurelio" not in raw_bytes(db) and b"Aurelio" not in old.read_bytes()
    assert contents(db, key) == before and contents(old, key) == backed
    s = Store.open(db, key)
    assert len(s.search("Aurelio")) == 20
    s.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "backups",
        "chatapp-config",
        "chatapp-home",
        "chatapp.key-id",  # the id the key is kept under
        "chatapp.sqlite3",
    ]
    convert.decrypt(db, folder)
    assert crypto.state(db) == crypto.state(old) == "plain"
    assert contents(db, None) == before and contents(old, None) == backed


def test_conversion_refuses_while_chatapp_has_the_database_open(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    filled(db, None)
    holder = (  # another process, as the running app is (locks are per process)
        "import sys\nfrom chatapp.store import Store\n"
        f"s = Store.open({str(db)!r})\nprint('open', flush=True)\nsys.stdin.readline()\n"
    )
    running = subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert running.stdout is not None and running.stdout.readline().strip() == "open"
        with pytest.raises(StorageError, match="in use"):
            convert.encrypt(db)
    finally:
        running.communicate("\n", timeout=30)
    assert crypto.state(db) == "plain"
    assert not Path(f"{db}{convert.PARTIAL}").exists()
    assert contents(db, None)[0].startswith(SECRET)


@pytest.mark.parametrize("step", ["written", "verified", "kept", "swapped"])
@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_a_conversion_interrupted_at_any_step_leaves_a_complete_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, direction: str
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    start_key = crypto.key_for(db) if direction == "decrypt" else None
    filled(db, start_key, threads=10)
    before = contents(db, start_key)

    def stop(name: str) -> None:
        if name == step:
            raise KeyboardInterrupt(f"stopped at {name}")

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(convert, "_step", stop)
        getattr(convert, direction)(db)
    expected_state = "plain" if (direction == "encrypt") == (step != "swapped") else "encrypted"
    assert crypto.state(db) == expected_state
    assert contents(db, crypto.key_for(db)) == before  # the next start opens a complete one
    convert.cleanup(db)
    again = "encrypt" if expected_state == "plain" else "decrypt"
    getattr(convert, again)(db)  # and the conversion can be done after all
    assert contents(db, crypto.key_for(db)) == before


KILLER = """
import os, signal, sys
from pathlib import Path
from chatapp.store import convert
def stop(name):
    if name == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)
convert._step = stop
convert.encrypt(Path(sys.argv[1]))
"""


@pytest.mark.parametrize("step", ["written", "verified", "kept", "swapped"])
def test_a_conversion_killed_at_any_step_leaves_a_complete_database(
    tmp_path: Path, step: str
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    filled(db, None, threads=10)
    before = contents(db, None)
    done = subprocess.run(
        [sys.executable, "-c", KILLER, str(db), step],
        env=dict(os.environ),
        capture_output=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert crypto.state(db) == ("encrypted" if step == "swapped" else "plain")
    assert contents(db, crypto.key_for(db)) == before
    left = {p.name for p in tmp_path.iterdir() if p.name.startswith("chatapp.sqlite3.")}
    assert left  # a copy, or the old file's second name
    from chatapp import app  # the next start opens it and removes what the conversion left

    app.open_store_interactively(tmp_path).close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("chatapp.sqlite3.")]


def test_privacy_settings_say_how_the_conversations_are_kept(
    os_keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    plain = tmp_path / "plain" / "chatapp.sqlite3"
    plain.parent.mkdir()
    filled(plain, None)
    assert "unencrypted" in crypto.describe(plain, None) and "chatapp encrypt" in crypto.describe(
        plain, None
    )
    ringed = tmp_path / "chatapp.sqlite3"
    text = crypto.describe(ringed, crypto.key_for(ringed))
    assert "system keyring" in text and "weaker" not in text and "not encrypted" in text
    monkeypatch.setenv(crypto.ENV_KEYRING, "0")
    filed = tmp_path / "other" / "chatapp.sqlite3"
    text = crypto.describe(filed, crypto.key_for(filed))
    assert "weaker" in text and str(crypto.key_file(filed)) in text


# -- a key that moves with its data folder ---------------------------------------------


def test_a_moved_data_folder_finds_its_key_and_its_threads(tmp_path: Path) -> None:
    """The key is kept under an id written beside the database, not under its path."""
    db = tmp_path / "old place" / "chatapp.sqlite3"
    db.parent.mkdir()
    key = crypto.key_for(db)
    filled(db, key)
    backup.backup_now(db, db.parent / "backups", key=key)
    os.rename(db.parent, tmp_path / "new place")
    moved = tmp_path / "new place" / "chatapp.sqlite3"
    assert crypto.key_for(moved) == key
    assert cli.main(["list", "--data-dir", str(moved.parent)]) == 0
    assert len(contents(moved, key)) == 6
    [old] = backup.backups(moved.parent / "backups")
    assert len(contents(old, key)) == 6


def test_a_moved_folder_finds_its_key_in_the_keyring_too(
    os_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    db = tmp_path / "a" / "chatapp.sqlite3"
    db.parent.mkdir()
    key = crypto.key_for(db)
    filled(db, key)
    os.rename(db.parent, tmp_path / "b")
    assert crypto.find_key(tmp_path / "b" / "chatapp.sqlite3") == (key, "keyring")


def test_a_key_kept_under_the_old_path_is_found_and_kept_under_the_id(
    os_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    """Keys of earlier versions were kept by absolute path: found there once, then kept by id,
    so the folder can move afterwards."""
    db = tmp_path / "a" / "chatapp.sqlite3"
    db.parent.mkdir()
    key = crypto.new_key()
    os_keyring.items[(crypto.SERVICE, f"database:{db.resolve()}")] = key  # as before
    filled(db, key)
    assert not crypto.id_file(db).exists()
    assert crypto.key_for(db) == key
    ident = crypto.database_id(db)
    assert ident and os_keyring.items[(crypto.SERVICE, f"database-id:{ident}")] == key
    os.rename(db.parent, tmp_path / "b")
    moved = tmp_path / "b" / "chatapp.sqlite3"
    assert len(contents(moved, crypto.key_for(moved))) == 6


def test_a_key_file_named_after_the_old_path_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "a" / "chatapp.sqlite3"
    db.parent.mkdir()
    key = crypto.new_key()
    old = crypto._path_key_file(db)
    old.parent.mkdir(parents=True)
    old.write_text(f"{key}\n{db.resolve()}\n")
    filled(db, key)
    found = crypto.find_key(db)
    assert found is not None and found[0] == key and found[1] == str(crypto.key_file(db))
    assert stat.S_IMODE(crypto.key_file(db).stat().st_mode) == 0o600
    assert old.exists()  # the old entry is left where it was
    os.rename(db.parent, tmp_path / "b")
    assert crypto.key_for(tmp_path / "b" / "chatapp.sqlite3") == key


def test_a_deleted_keyring_entry_is_said_with_the_ways_back(
    os_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    """The keyring entry itself deleted: said (with the passphrase and backup paths), the
    file unchanged, and no new key or database made."""
    db = tmp_path / "chatapp.sqlite3"
    key = crypto.key_for(db)
    filled(db, key)
    os_keyring.items.clear()
    before = db.read_bytes()
    with pytest.raises(crypto.KeyMissing) as caught:
        crypto.key_for(db)
    said = caught.value.message
    assert "will not start a new database" in said and crypto.ENV_PASSPHRASE in said
    assert "restore a backup" in said
    assert db.read_bytes() == before and os_keyring.items == {}
