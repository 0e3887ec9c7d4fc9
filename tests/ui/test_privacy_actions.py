"""Settings ▸ Privacy's one action: Encrypt my conversations (or decrypt, or a passphrase)
restarts chatapp, which converts at start with the database closed, backups included, and
loses nothing (issue 21). Real files throughout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from chatapp import app
from chatapp.domain import Role
from chatapp.store import Store, backup, convert, crypto
from chatapp.ui.passphrase_dialog import PassphraseDialog
from chatapp.ui.settings_dialog import SettingsDialog

WORDS = "twelve quiet owls"


def filled(root: Path) -> tuple[Path, list[str]]:
    root.mkdir(exist_ok=True)
    db = root / "chatapp.sqlite3"
    s = Store.open(db)
    for n in range(4):
        t = s.create_thread(f"thread {n}")
        s.add_message(t.id, Role.USER, f"my sister lives in Lisbon ({n})")
    s.close()
    backup.backup_now(db, root / "backups", now=1.7e9)
    backup.backup_now(db, root / "backups", now=1.8e9)
    return db, contents(db, None)


def contents(db: Path, key: str | None) -> list[str]:
    s = Store.open(db, key)
    try:
        return sorted(m.content for t in s.threads() for m in s.path(t.id))
    finally:
        s.close()


def test_the_privacy_buttons_say_what_happens_and_ask_first(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatapp.config.settings import AppSettings

    db, _ = filled(tmp_path)
    dialog = SettingsDialog(
        None,
        AppSettings(),
        privacy=crypto.describe(db, None),
        conversions=crypto.conversions(db, None),
    )
    qtbot.addWidget(dialog)
    assert set(dialog.conversion_buttons) == {"encrypted", "passphrase"}
    asked: list[str] = []
    replies = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(
        QMessageBox, "question", lambda _p, _t, text, *a, **k: asked.append(text) or next(replies)
    )
    got: list[str] = []
    dialog.conversion_requested.connect(got.append)
    dialog.conversion_buttons["encrypted"].click()
    assert got == [] and "nothing is lost" in asked[0].lower() and "starts again" in asked[0]
    dialog.conversion_buttons["encrypted"].click()
    assert got == ["encrypted"]


def test_the_window_asks_for_the_conversion_and_closes_to_restart(
    make_window: Any, tmp_path: Path
) -> None:
    db, _ = filled(tmp_path)
    store = Store.open(db)
    window = make_window(store, load=False)
    window.restart_to_convert("encrypted")
    assert not window.isVisible() and window.restart_requested
    assert convert.request_file(db).read_text().strip() == "encrypted"
    store.close()


def test_at_start_the_requested_encryption_converts_the_database_and_backups(
    qtbot: QtBot, tmp_path: Path
) -> None:
    db, before = filled(tmp_path)
    old = backup.backups(tmp_path / "backups")
    convert.request(db, "encrypted")
    store = app.convert_if_requested(tmp_path, Store.open(db))
    assert store.key is not None and len(store.threads()) == 4
    store.close()
    assert not convert.request_file(db).exists()
    assert crypto.state(db) == "encrypted" and b"Lisbon" not in db.read_bytes()
    assert contents(db, store.key) == before
    for made in old:  # the old backups re-made encrypted, each complete
        assert crypto.state(made) == "encrypted" and b"Lisbon" not in made.read_bytes()
        assert contents(made, store.key) == before
    convert.request(db, "plain")  # and back
    store = app.convert_if_requested(tmp_path, Store.open(db, store.key))
    assert store.key is None
    store.close()
    assert crypto.state(db) == "plain" and all(crypto.state(p) == "plain" for p in old)
    assert contents(db, None) == before


def type_new_passphrase(words: str | None) -> None:
    def act() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, PassphraseDialog):
            QTimer.singleShot(20, act)
            return
        if words is None:
            dialog.reject()
            return
        dialog.field.setText(words)
        dialog.again.setText(words)
        dialog.try_accept()

    QTimer.singleShot(20, act)


def test_a_passphrase_chosen_at_the_restart_protects_database_and_backups(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, before = filled(tmp_path)
    key = None
    convert.request(db, "passphrase")
    type_new_passphrase(WORDS)
    store = app.convert_if_requested(tmp_path, Store.open(db, key))
    store.close()
    assert crypto.uses_passphrase(db)
    derived = crypto.key_from_passphrase(db, WORDS)
    assert store.key == derived and contents(db, derived) == before
    assert all(contents(p, derived) == before for p in backup.backups(tmp_path / "backups"))
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    again = app.open_store_interactively(tmp_path)  # the next start asks (here: the variable)
    assert again is not None and again.key == derived
    again.close()


def test_cancelling_the_new_passphrase_changes_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    db, before = filled(tmp_path)
    raw = db.read_bytes()
    convert.request(db, "passphrase")
    type_new_passphrase(None)
    store = app.convert_if_requested(tmp_path, Store.open(db))
    assert store.key is None and [t.title for t in store.threads()]  # still open, as it was
    store.close()
    assert db.read_bytes() == raw and not convert.request_file(db).exists()
    assert contents(db, None) == before


def test_a_conversion_that_cannot_be_done_is_said_and_the_old_store_goes_on(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, before = filled(tmp_path)
    convert.request(db, "plain")  # already plain: refused before a byte is written
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a, **k: said.append(text))
    store = app.convert_if_requested(tmp_path, Store.open(db))
    assert said and "nothing was done" in said[0] and store.key is None
    assert len(store.threads()) == 4
    store.close()
    assert contents(db, None) == before


def test_restart_runs_chatapp_again_with_the_same_arguments(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(sys, "orig_argv", [sys.executable, "-m", "chatapp", "--data-dir", "D"])
    monkeypatch.setattr(os, "execv", lambda exe, argv: started.append([exe, *argv]))
    app.restart()
    assert started == [[sys.executable, sys.executable, "-m", "chatapp", "--data-dir", "D"]]


def test_a_start_with_a_request_converts_before_the_window_opens(tmp_path: Path) -> None:
    """The real process: what the restart does (the model is missing: no model load)."""
    db, before = filled(tmp_path)
    convert.request(db, "encrypted")
    env = {**os.environ, "CHATAPP_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "chatapp",
            "--model",
            str(tmp_path / "none.gguf"),
            "--quit-after",
            "1500",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert crypto.state(db) == "encrypted"
    assert contents(db, crypto.key_for(db)) == before
    assert all(crypto.state(p) == "encrypted" for p in backup.backups(tmp_path / "backups"))
