"""The passphrase, asked at start before the window opens (a database keyed by one), or twice
when a new one is chosen in Settings ▸ Privacy."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from chatapp.store import crypto
from chatapp.store.db import key_opens

MIN_LENGTH = crypto.PASSPHRASE_MIN_LENGTH


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
        # the dialog is never smaller than what its labels need: a wrapped label otherwise
        # keeps the height it had, and a new error line clipped the explanation above it
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        text = intro or (
            "Choose a passphrase for your conversations. It is asked each time chatapp starts "
            "and is kept nowhere: forgotten, the conversations cannot be read. Use at least "
            f"{MIN_LENGTH} characters (four unrelated words are long enough and easy to "
            "remember): a shorter one can be guessed by a computer trying passphrases on a "
            "copy of the files."
            if new
            else f"Your conversations in {self.db_path.parent} are protected by a passphrase."
        )
        self.intro = QLabel(text)
        self.intro.setWordWrap(True)
        self.intro.setMinimumWidth(self.fontMetrics().averageCharWidth() * 60)  # lines to read
        self.intro.installEventFilter(self)
        layout.addWidget(self.intro)
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
        self.error.setVisible(bool(note))
        self.error.installEventFilter(self)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout.addWidget(buttons)

    def say(self, text: str) -> None:
        """Show a problem under the fields; the dialog grows so every line shows whole."""
        self.error.setText(text)
        self.error.setVisible(bool(text))
        self._fit()

    def _fit(self) -> None:
        """A wrapped label asks for the height its text needs at its width (a top-level
        dialog's layout does not ask by itself), and the dialog grows to it."""
        for label in (self.intro, getattr(self, "error", None)):
            if label is not None and label.isVisible() and label.width() > 0:
                label.setMinimumHeight(label.heightForWidth(label.width()))
        layout = self.layout()
        if layout is not None:
            layout.activate()
        if self.height() < self.minimumSizeHint().height():
            self.resize(self.width(), self.minimumSizeHint().height())

    def _short_confirmed(self, length: int) -> bool:
        """A short passphrase is the person's choice to make, told what it risks."""
        answer = QMessageBox.warning(
            self,
            "chatapp — short passphrase",
            crypto.SHORT_PASSPHRASE.format(length=length, minimum=MIN_LENGTH)
            + "\n\nUse it anyway?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        labels = (getattr(self, "intro", None), getattr(self, "error", None))
        if event.type() == QEvent.Type.Resize and watched in labels:
            self._fit()
        return super().eventFilter(watched, event)

    def try_accept(self) -> None:
        typed = self.field.text()
        if not typed:
            self.say("The passphrase is empty.")
            return
        if self.new:
            if typed != self.again.text():
                self.say("The two passphrases differ; type them again.")
                self.again.clear()
                return
            if len(typed) < MIN_LENGTH and not self._short_confirmed(len(typed)):
                self.field.setFocus()
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
            self.say("Wrong passphrase: nothing was opened or changed. Try again.")
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
