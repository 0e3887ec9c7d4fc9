"""The passphrase dialogs: every text shows whole when a problem line appears, a short new
passphrase is warned about (the person may still use it), and the dialogs come in the
app's theme although they open before the window (walkthrough defect 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from chatapp import app
from chatapp.config.settings import AppSettings
from chatapp.domain import Role
from chatapp.store import Store, convert, crypto
from chatapp.ui.passphrase_dialog import MIN_LENGTH, PassphraseDialog
from chatapp.ui.theme import is_dark

LONG_INTRO = (
    "The conversations in /home/someone/.local/share/chatapp are encrypted, and this computer "
    "keeps no key for them (chatapp.key-id, which names their key, is missing or names a key "
    "kept elsewhere). If you protected them with a passphrase, type it. Cancel shows the other "
    "ways to open them (a key file from another computer, a backup); nothing is changed."
)


def whole(dialog: PassphraseDialog) -> list[str]:
    """The wrapped labels shown with less height than their text needs, or outside the
    dialog (empty: every text shows whole)."""
    cut = []
    for label in dialog.findChildren(QLabel):
        if not (label.isVisible() and label.wordWrap()):
            continue
        need = label.heightForWidth(label.width())
        if label.height() < need or label.geometry().bottom() > dialog.height():
            cut.append(f"{label.text()[:30]!r}: {label.height()} < {need}")
    return cut


def settle(qtbot: QtBot) -> None:
    for _ in range(3):
        QApplication.processEvents()
        qtbot.wait(10)


@pytest.mark.parametrize("new", [True, False])
@pytest.mark.parametrize("problem", ["short", "long"])
def test_a_problem_line_clips_no_text(
    qtbot: QtBot, tmp_path: Path, new: bool, problem: str
) -> None:
    dialog = PassphraseDialog(
        tmp_path / "chatapp.sqlite3", new=new, intro="" if new else LONG_INTRO
    )
    qtbot.addWidget(dialog)
    dialog.show()
    settle(qtbot)
    assert whole(dialog) == []
    text = "The two passphrases differ; type them again."
    if problem == "long":
        text = " ".join([text] * 6)
    dialog.say(text)
    settle(qtbot)
    assert dialog.error.isVisible() and whole(dialog) == []
    dialog.resize(dialog.minimumSizeHint().width(), dialog.height())  # as narrow as it goes
    settle(qtbot)
    assert whole(dialog) == []


def test_the_empty_passphrase_line_clips_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = PassphraseDialog(tmp_path / "chatapp.sqlite3", intro=LONG_INTRO)
    qtbot.addWidget(dialog)
    dialog.show()
    settle(qtbot)
    dialog.try_accept()  # nothing typed: said under the field
    settle(qtbot)
    assert "empty" in dialog.error.text() and whole(dialog) == []


def test_a_short_new_passphrase_is_warned_about_and_may_still_be_used(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = PassphraseDialog(tmp_path / "chatapp.sqlite3", new=True)
    qtbot.addWidget(dialog)
    assert f"at least {MIN_LENGTH} characters" in dialog.intro.text()
    warned: list[str] = []
    answers = iter([QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes])
    monkeypatch.setattr(
        QMessageBox, "warning", lambda _p, _t, text, *a, **k: warned.append(text) or next(answers)
    )
    dialog.field.setText("abc")
    dialog.again.setText("abc")
    dialog.try_accept()
    assert dialog.passphrase is None and dialog.result() == 0  # No: back to the fields
    assert "3 characters" in warned[0] and str(MIN_LENGTH) in warned[0]
    dialog.try_accept()
    assert dialog.passphrase == "abc"  # Yes: the person's choice


def test_a_long_enough_passphrase_is_not_questioned(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = PassphraseDialog(tmp_path / "chatapp.sqlite3", new=True)
    qtbot.addWidget(dialog)
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append("asked"))
    words = "x" * MIN_LENGTH
    dialog.field.setText(words)
    dialog.again.setText(words)
    dialog.try_accept()
    assert dialog.passphrase == words and warned == []


def test_the_start_passphrase_dialog_follows_the_dark_theme(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dialog opens before the window; chatapp's start applies the chosen theme first."""
    root = tmp_path / "home"
    root.mkdir()
    db = root / "chatapp.sqlite3"
    store = Store.open(db)
    store.add_message(store.create_thread("secret").id, Role.USER, "hello")
    store.close()
    convert.encrypt(db, passphrase="a long walk to Porto")
    AppSettings(theme="dark").save(root / "settings.json")
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    monkeypatch.setattr(app, "install_crash_handler", lambda _root: None)
    monkeypatch.setattr(app.logs, "setup", lambda **_k: None)
    seen: list[bool] = []

    def shown(dialog: PassphraseDialog) -> int:
        seen.append(is_dark(dialog.palette()))
        return 0  # Cancel: chatapp quits touching nothing

    monkeypatch.setattr(PassphraseDialog, "exec", shown)
    assert app.main(["--data-dir", str(root)]) == 1
    assert seen == [True]
