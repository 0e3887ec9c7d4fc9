"""A kept key is deleted once a conversion leaves no file that needs it, and a kept key is
always a new one (walkthrough defect 21), on real SQLCipher files with the key-file backend
the tests use (and a stand-in keyring)."""

from __future__ import annotations

import shutil
from pathlib import Path

import keyring
import pytest

from chatapp.domain import Role
from chatapp.store import Store, backup, convert, crypto
from tests.unit.store.test_encryption import MemoryKeyring

WORDS = "correct horse battery staple"


def filled(path: Path, key: str | None) -> list[str]:
    s = Store.open(path, key)
    for n in range(3):
        t = s.create_thread(f"thread {n}")
        s.add_message(t.id, Role.USER, f"my secret number {n}")
    out = sorted(m.content for t in s.threads() for m in s.path(t.id))
    s.close()
    return out


def contents(path: Path, key: str | None) -> list[str]:
    s = Store.open(path, key)
    try:
        return sorted(m.content for t in s.threads() for m in s.path(t.id))
    finally:
        s.close()


def kept_db(tmp_path: Path) -> tuple[Path, Path, str, list[str]]:
    """A database under a kept key (a key file), with one backup made under it."""
    db, folder = tmp_path / "chatapp.sqlite3", tmp_path / "backups"
    key = crypto.key_for(db)
    assert key is not None
    before = filled(db, key)
    backup.backup_now(db, folder, key=key)
    return db, folder, key, before


def test_a_switch_to_a_passphrase_deletes_the_kept_key_file(tmp_path: Path) -> None:
    db, folder, key, before = kept_db(tmp_path)
    kept = crypto.key_file(db)
    assert kept.is_file()
    convert.run(db, folder, "passphrase", key, passphrase=WORDS)
    assert not kept.exists()
    assert not list((crypto.config_dir() / "keys").iterdir())  # kept nowhere
    assert crypto.find_key(db) is None
    derived = crypto.key_from_passphrase(db, WORDS)
    assert contents(db, derived) == before
    [old] = backup.backups(folder)
    assert contents(old, crypto.key_from_passphrase(old, WORDS)) == before


def test_a_switch_to_a_passphrase_deletes_the_keyring_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = MemoryKeyring()
    before_ring = keyring.get_keyring()
    keyring.set_keyring(ring)
    monkeypatch.setenv(crypto.ENV_KEYRING, "1")
    try:
        db, folder, key, before = kept_db(tmp_path)
        assert list(ring.items.values()) == [key]
        convert.run(db, folder, "passphrase", key, passphrase=WORDS)
        assert ring.items == {}
        assert contents(db, crypto.key_from_passphrase(db, WORDS)) == before
    finally:
        keyring.set_keyring(before_ring)


def test_decrypting_deletes_the_kept_key(tmp_path: Path) -> None:
    db, folder, key, before = kept_db(tmp_path)
    convert.run(db, folder, "plain", key)
    assert crypto.find_key(db) is None and not crypto.key_file(db).exists()
    assert contents(db, None) == before


@pytest.mark.parametrize("left", ["set-aside backups", "damaged file", "backup not re-made"])
def test_a_key_a_file_still_needs_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left: str
) -> None:
    """Backups set aside in before-<date>/ (not re-made by a conversion), a damaged file kept
    beside the database, or a backup whose conversion failed still need the old key: it
    stays, and still opens them."""
    db, folder, key, before = kept_db(tmp_path)
    if left == "set-aside backups":
        aside = backup.set_aside(folder)
        assert aside is not None
        [needy] = list(aside.iterdir())
    elif left == "damaged file":
        needy = db.with_name(db.name + ".damaged-20260101-000000")
        shutil.copyfile(db, needy)
    else:
        [needy] = backup.backups(folder)
        real = convert._convert

        def failing(path: Path, old: str | None, new: str | None) -> None:
            if path == needy:
                raise crypto.StorageError("disk full")
            real(path, old, new)

        monkeypatch.setattr(convert, "_convert", failing)
    convert.run(db, folder, "passphrase", key, passphrase=WORDS)
    assert crypto.find_key(db) == (key, str(crypto.key_file(db)))
    assert contents(needy, key) == before
    assert convert.needing(db, folder, key) == [needy]
    needy.unlink()  # once nothing needs it, the next conversion deletes it
    convert.forget_unneeded_key(db, folder, key)
    assert crypto.find_key(db) is None


def test_encrypting_again_makes_a_new_key(tmp_path: Path) -> None:
    """Passphrase back to a kept key, and plain back to encrypted: never an old key."""
    db, folder, first, before = kept_db(tmp_path)
    derived = convert.run(db, folder, "passphrase", first, passphrase=WORDS)
    second = convert.run(db, folder, "key", derived)
    assert second is not None and second != first
    assert crypto.find_key(db) == (second, str(crypto.key_file(db)))
    assert convert.run(db, folder, "plain", second) is None
    third = convert.run(db, folder, "encrypted", None)
    assert third is not None and third not in (first, second)
    assert contents(db, third) == before
    [old] = backup.backups(folder)
    assert contents(old, third) == before


def test_a_new_key_never_writes_over_an_old_key_still_needed(tmp_path: Path) -> None:
    """Decrypted while a set-aside backup still needs the old key, then encrypted again: the
    new key is kept under a new id; the old entry (and the old backup's way in) stays."""
    db, folder, first, before = kept_db(tmp_path)
    aside = backup.set_aside(folder)
    assert aside is not None
    [needy] = list(aside.iterdir())
    old_id, old_file = crypto.database_id(db), crypto.key_file(db)
    convert.run(db, folder, "plain", first)
    assert old_file.is_file()  # still needed
    again = convert.run(db, folder, "encrypted", None)
    assert again is not None and again != first
    assert crypto.database_id(db) != old_id
    assert old_file.read_text().split()[0] == first
    assert crypto.find_key(db) == (again, str(crypto.key_file(db)))
    assert contents(needy, first) == before and contents(db, again) == before
