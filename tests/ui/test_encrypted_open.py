"""At start, an encrypted database without its key, or with the wrong one, is said and kept:
chatapp never starts a new empty database over it (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from chatapp.domain import Role
from chatapp.store import Store, backup, crypto


def encrypted(root: Path, *, with_backup: bool) -> tuple[Path, str]:
    root.mkdir(exist_ok=True)
    db = root / "chatapp.sqlite3"
    key = crypto.key_for(db)
    assert key is not None
    s = Store.open(db, key)
    s.add_message(s.create_thread("secret").id, Role.USER, "kept safe")
    s.close()
    if with_backup:
        backup.backup_now(db, root / "backups", key=key)
    return db, key


@pytest.fixture(autouse=True)
def cancelled_passphrase(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passphrase offered first for a key that is missing or does not open the file
    (a passphrase database whose mark was lost): cancelled here, as someone without one
    would, so the messages below follow."""
    from chatapp.ui.passphrase_dialog import PassphraseDialog

    offered: list[str] = []
    monkeypatch.setattr(
        PassphraseDialog, "exec", lambda self: offered.append(str(self.db_path)) or 0
    )
    return offered


def test_a_missing_key_is_said_and_the_database_is_kept(
    qtbot, tmp_path: Path, monkeypatch, cancelled_passphrase
) -> None:  # type: ignore[no-untyped-def]
    from chatapp import app

    root = tmp_path / "home"
    db, _key = encrypted(root, with_backup=False)
    saved = crypto.key_file(db).read_text()
    crypto.key_file(db).unlink()
    before = db.read_bytes()
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a, **k: said.append(text))
    assert app.open_store_interactively(root) is None
    assert said and "no key for it" in said[0] and "No backup was found" in said[0]
    assert cancelled_passphrase == [str(db)]  # the passphrase was offered first
    assert db.read_bytes() == before
    assert sorted(p.name for p in root.iterdir()) == ["chatapp.key-id", "chatapp.sqlite3"]
    crypto.key_file(db).write_text(saved)  # the key comes back: everything is there
    store = app.open_store_interactively(root)
    assert store is not None and [t.title for t in store.threads()] == ["secret"]
    store.close()


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
def test_a_missing_key_offers_the_backup_and_keeps_the_file_aside(  # type: ignore[no-untyped-def]
    qtbot, tmp_path: Path, monkeypatch, answer
) -> None:
    from chatapp import app

    root = tmp_path / "home"
    db, key = encrypted(root, with_backup=True)
    before = db.read_bytes()
    # the key is replaced (another key kept under the same name): the file and its backup
    # were made with the old one
    crypto.store_key(db, crypto.new_key())
    asked: list[str] = []
    said: list[str] = []

    def question(_p, _t, text, *a, **k):  # type: ignore[no-untyped-def]
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a, **k: said.append(text))
    assert app.open_store_interactively(root) is None
    assert said and "cannot be opened with the key" in said[0] and not asked
    assert db.read_bytes() == before
    crypto.key_file(db).unlink()  # now no key at all: the backup is offered
    said.clear()
    store = app.open_store_interactively(root)
    assert asked and "no key for it" in asked[0] and "Restore the latest backup" in asked[0]
    if answer == QMessageBox.StandardButton.No:
        assert store is None and db.read_bytes() == before
        return
    # the backup was made with the same (lost) key, so it cannot open either: said, and the
    # original is kept aside, never deleted
    assert store is None and said
    [aside] = [
        p for p in root.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))
    ]
    assert aside.read_bytes() == before
    crypto.store_key(db, key)
    s = Store.open(db, key)
    assert [m.content for m in s.path(1)] == ["kept safe"]
    s.close()


def test_settings_show_the_privacy_of_the_open_database(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from chatapp.config.settings import AppSettings
    from chatapp.ui.settings_dialog import SettingsDialog

    db, key = encrypted(tmp_path / "home", with_backup=False)
    dialog = SettingsDialog(None, AppSettings(), privacy=crypto.describe(db, key))
    qtbot.addWidget(dialog)
    assert "encrypted (SQLCipher" in dialog.privacy.text() and "weaker" in dialog.privacy.text()
    plain = SettingsDialog(None, AppSettings())
    qtbot.addWidget(plain)
    assert not hasattr(plain, "privacy")  # no text, no group
