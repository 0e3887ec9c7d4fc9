"""The passphrase, asked at start before the window opens (a database keyed by one), or twice
when a new one is chosen in Settings ▸ Privacy."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from chatapp.store import crypto
from chatapp.store.db import key_opens


class PassphraseDialog(QDialog):
    """Asks for the passphrase of `db_path` and checks it by opening the database read-only:
    a wrong one is said in the dialog, which stays open (nothing was opened or changed).
    With `new`, asks for a new passphrase twice instead and checks nothing else. Cancel
    leaves `key` None."""

    def __init__(
        self,
        db_path: Path,
        *,
        new: bool = False,
        note: str = "",
        intro: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db_path = Path(db_path)
        self.new = new
        self.key: str | None = None
        self.passphrase: str | None = None
        self.setWindowTitle("chatapp — passphrase")
        layout = QVBoxLayout(self)
        text = intro or (
            "Choose a passphrase for your conversations. It is asked each time chatapp starts "
            "and is kept nowhere: forgotten, the conversations cannot be read."
            if new
            else f"Your conversations in {self.db_path.parent} are protected by a passphrase."
        )
        intro = QLabel(text)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.field = QLineEdit()
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setAccessibleName("Passphrase")
        form.addRow("Passphrase:", self.field)
        self.again = QLineEdit()
        self.again.setEchoMode(QLineEdit.EchoMode.Password)
        self.again.setAccessibleName("Passphrase again")
        if new:
            form.addRow("Again:", self.again)
        layout.addLayout(form)
        self.error = QLabel(note)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: palette(link)")
        self.error.setAccessibleName("Passphrase problem")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)

    def try_accept(self) -> None:
        typed = self.field.text()
        if not typed:
            self.error.setText("The passphrase is empty.")
            return
        if self.new:
            if typed != self.again.text():
                self.error.setText("The two passphrases differ; type them again.")
                self.again.clear()
                return
            self.passphrase = typed
            self.accept()
            return
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # the derivation: ~0.3 s
        try:
            key = crypto.key_from_passphrase(self.db_path, typed)
            right = key_opens(self.db_path, key)
        finally:
            QApplication.restoreOverrideCursor()
        if not right:
            self.error.setText("Wrong passphrase: nothing was opened or changed. Try again.")
            self.field.clear()
            self.field.setFocus()
            return
        self.key = key
        self.accept()


def ask_passphrase(db_path: Path, note: str = "", *, intro: str = "") -> str | None:
    """The key derived from the passphrase typed, or None when the person cancelled. `intro`
    replaces the usual first line (a database not known to be keyed by a passphrase)."""
    dialog = PassphraseDialog(db_path, note=note, intro=intro)
    dialog.exec()
    return dialog.key
