"""A switch to a passphrase stopped after its mark but before the kept key was deleted: the
next start, opened with the passphrase, deletes that key unless a file still needs it
(walkthrough defect 21). Real SQLCipher files, the key-file backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatapp import app
from chatapp.domain import Role
from chatapp.store import Store, backup, convert, crypto

WORDS = "a long walk to Porto"


def stopped_before_the_key_was_deleted(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    root.mkdir()
    db = root / "chatapp.sqlite3"
    key = crypto.key_for(db)
    assert key is not None
    store = Store.open(db, key)
    store.add_message(store.create_thread("secret").id, Role.USER, "hello")
    store.close()
    backup.backup_now(db, root / "backups", key=key)
    with monkeypatch.context() as patched:
        patched.setattr(convert, "forget_unneeded_key", lambda *_a: [])  # killed there
        convert.run(db, root / "backups", "passphrase", key, passphrase=WORDS)
    assert crypto.uses_passphrase(db) and crypto.find_key(db) is not None
    return db, key


def test_the_next_start_deletes_the_key_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = stopped_before_the_key_was_deleted(tmp_path / "home", monkeypatch)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    assert app.start_key(db) == crypto.key_from_passphrase(db, WORDS)
    assert crypto.find_key(db) is None and not crypto.key_file(db).exists()


def test_a_key_left_behind_that_a_backup_needs_stays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "home"
    db, key = stopped_before_the_key_was_deleted(root, monkeypatch)
    # a backup set aside before the switch (not re-made by it) still opens with the old key
    aside = root / "backups" / "before-20260101-000000"
    aside.mkdir()
    other = tmp_path / "other.sqlite3"
    store = Store.open(other, key)
    store.create_thread("kept")
    store.close()
    other.rename(aside / "chatapp-20260101-000000.sqlite3")
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    assert app.start_key(db) == crypto.key_from_passphrase(db, WORDS)
    assert crypto.find_key(db) == (key, str(crypto.key_file(db)))
