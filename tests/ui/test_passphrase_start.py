"""A database keyed by a passphrase: asked in a small dialog before the window opens; a wrong
one is said and asked again, Cancel quits touching nothing (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from chatapp import app
from chatapp.domain import Role
from chatapp.store import Store, convert, crypto
from chatapp.ui.passphrase_dialog import PassphraseDialog

WORDS = "a long walk to Porto"


def protected(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    db = root / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("secret").id, Role.USER, "kept safe")
    s.close()
    convert.encrypt(db, root / "backups", passphrase=WORDS)
    return db


def answer(steps: list[tuple[str, str]], seen: list[str]) -> None:
    """Type into the passphrase dialog once it is open: ('type', text) then Enter, or
    ('cancel', '')."""

    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PassphraseDialog):
            QTimer.singleShot(20, act)
            return
        seen.append(dialog.error.text())
        kind, text = steps.pop(0)
        if kind == "cancel":
            dialog.reject()
            return
        dialog.field.setText(text)
        dialog.try_accept()
        if steps:
            QTimer.singleShot(20, act)
        else:
            seen.append(dialog.error.text())

    QTimer.singleShot(20, act)


def test_a_wrong_passphrase_is_said_and_asked_again(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "home"
    db = protected(root)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    before = db.read_bytes()
    seen: list[str] = []
    answer([("type", "a long walk to Lisbon"), ("type", WORDS)], seen)
    store = app.open_store_interactively(root)
    assert store is not None
    assert any(
        "Wrong passphrase" in text and "nothing was opened or changed" in text for text in seen
    )
    assert [t.title for t in store.threads()] == ["secret"]
    store.close()
    assert crypto.state(db) == "encrypted"
    assert db.read_bytes()[:16] == before[:16]  # the same file (its salt), opened, not remade


def test_cancel_at_the_prompt_quits_and_touches_nothing(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "home"
    db = protected(root)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    listing = sorted((p.name, p.stat().st_mtime_ns) for p in root.rglob("*"))
    before = db.read_bytes()
    seen: list[str] = []
    answer([("cancel", "")], seen)
    assert app.open_store_interactively(root) is None
    assert seen  # the dialog was shown
    assert db.read_bytes() == before
    assert sorted((p.name, p.stat().st_mtime_ns) for p in root.rglob("*")) == listing


def test_the_environment_passphrase_opens_without_a_dialog(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "home"
    protected(root)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    store = app.open_store_interactively(root)
    assert store is not None and [t.title for t in store.threads()] == ["secret"]
    store.close()


def test_a_lost_mark_with_the_passphrase_in_the_environment_still_opens(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The id file that says 'passphrase' deleted: the key is missing; the passphrase is
    offered, and cancelled, the message says how to give it; given, it opens (and the mark is
    written again)."""
    root = tmp_path / "home"
    db = protected(root)
    crypto.id_file(db).unlink()
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a, **k: said.append(text))
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    seen: list[str] = []
    answer([("cancel", "")], seen)
    assert app.open_store_interactively(root) is None
    assert seen  # the passphrase was offered first
    assert said and crypto.ENV_PASSPHRASE in said[0] and "will not start a new database" in said[0]
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    store = app.open_store_interactively(root)
    assert store is not None and [t.title for t in store.threads()] == ["secret"]
    store.close()
    assert crypto.uses_passphrase(db)


@pytest.mark.parametrize("lost", ["id file", "mark"])
def test_a_lost_mark_offers_the_passphrase_dialog(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lost: str
) -> None:
    """Without CHATAPP_PASSPHRASE, a passphrase database whose mark is lost is not a dead end:
    the dialog explains and asks (a wrong passphrase said, asked again); the right one opens
    the same file and writes the mark again, so the next start asks as usual. 'id file': the
    whole chatapp.key-id deleted (no key at all); 'mark': only its passphrase line gone while
    an old kept key stays (the key found does not open the file)."""
    root = tmp_path / "home"
    db = protected(root)
    if lost == "id file":
        crypto.id_file(db).unlink()
    else:
        crypto.store_key(db, crypto.new_key())  # the key kept before the switch to a passphrase
        crypto.set_passphrase_mark(db, False)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text, *a, **k: said.append(text))
    before = db.read_bytes()
    intros: list[str] = []

    def intro() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PassphraseDialog):
            QTimer.singleShot(10, intro)
            return
        intros.append(dialog.findChildren(QLabel)[0].text())

    QTimer.singleShot(10, intro)
    seen: list[str] = []
    answer([("type", "a long walk to Lisbon"), ("type", WORDS)], seen)
    store = app.open_store_interactively(root)
    assert store is not None and [t.title for t in store.threads()] == ["secret"]
    store.close()
    assert not said
    assert intros and "If you protected them with a passphrase" in intros[0]
    assert ("keeps no key" in intros[0]) == (lost == "id file")
    assert any("Wrong passphrase" in text for text in seen)
    assert crypto.uses_passphrase(db)
    assert db.read_bytes()[:16] == before[:16]  # the same file, opened, not remade
    # the next start: the mark is back, so the usual passphrase prompt (here: the environment)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    store = app.open_store_interactively(root)
    assert store is not None and [t.title for t in store.threads()] == ["secret"]
    store.close()


@pytest.mark.parametrize("second", ["different", ""])
def test_a_new_passphrase_must_be_typed_twice_alike(
    qtbot: QtBot, tmp_path: Path, second: str
) -> None:
    dialog = PassphraseDialog(tmp_path / "chatapp.sqlite3", new=True)
    qtbot.addWidget(dialog)
    dialog.field.setText(WORDS)
    dialog.again.setText(second)
    dialog.try_accept()
    assert dialog.passphrase is None and "differ" in dialog.error.text()
    dialog.again.setText(WORDS)
    dialog.try_accept()
    assert dialog.passphrase == WORDS
