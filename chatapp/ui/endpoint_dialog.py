"""Connecting to an OpenAI-compatible server (llama.cpp's server, vLLM, Ollama, LM Studio...)."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from chatapp.engine.remote import Endpoint
from chatapp.workers.jobs import Job, Jobs

log = logging.getLogger("chatapp.ui")
KEYRING_SERVICE = "chatapp"


def load_key(name: str) -> str | None:
    """The endpoint's API key from the system keyring, if there is one."""
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, name)
    except Exception:  # noqa: BLE001 (no keyring package or no backend: keys live for the session only)
        return None


def keyring_works() -> bool:
    """A real system keyring is here (not keyring's fail or null backend, which accept
    nothing or drop what they are given): the same test Settings ▸ Privacy makes."""
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 (no keyring package or no backend)
        return False
    module = type(backend).__module__
    failing = module.startswith(("keyring.backends.fail", "keyring.backends.null"))
    return not failing and getattr(backend, "priority", 1) > 0


def save_key(name: str, key: str) -> bool:
    if not keyring_works():
        log.info("no system keyring; the API key is kept for this session only")
        return False
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, name, key)
        return True
    except Exception as exc:  # noqa: BLE001 (any keyring failure: keep the key for the session)
        log.info("no system keyring (%s); the API key is kept for this session only", exc)
        return False


class EndpointDialog(QDialog):
    """Signals: models_listed(list[str], str error) after "List the server's models"."""

    models_listed = Signal(object, str)

    def __init__(
        self, saved: list[dict], parent: QWidget | None = None, jobs: Jobs | None = None
    ) -> None:
        """`jobs`: the app's background jobs (a dialog made alone gets its own)."""
        super().__init__(parent)
        self.setWindowTitle("Connect to a server")
        self.saved = saved
        form = QFormLayout(self)
        self.choice = QComboBox()
        self.choice.addItem("New endpoint")
        for entry in saved:
            self.choice.addItem(entry.get("name", "server"))
        self.choice.currentIndexChanged.connect(self._fill)
        self.name = QLineEdit("My server")
        self.url = QLineEdit("http://127.0.0.1:8080/v1")
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.lineEdit().setPlaceholderText("empty: the server's first model")
        self.list_button = QPushButton("List the server's models")
        self.list_button.clicked.connect(self.list_models)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.list_button)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Server status")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("optional")
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(1, 3600)
        self.timeout.setValue(60)
        self.n_ctx = QSpinBox()
        self.n_ctx.setRange(256, 1_048_576)
        self.n_ctx.setValue(4096)
        self.remember = QCheckBox(
            "Remember this endpoint once it connects (the key goes to the system keyring)"
            if keyring_works()
            else "Remember this endpoint once it connects (no system keyring here: the key is "
            "kept for this session only)"
        )
        self.remember.setChecked(True)
        for label, widget in (
            ("Saved", self.choice),
            ("Name", self.name),
            ("Base URL", self.url),
            ("Model", self.model),
            ("API key", self.key),
            ("Timeout (s)", self.timeout),
            ("Context size", self.n_ctx),
            ("", self.remember),
        ):
            widget.setAccessibleName(label or "Remember")
            form.addRow(label, model_row if widget is self.model else widget)
        form.addRow("", self.status)
        self._own_jobs = jobs is None
        self._jobs = jobs if jobs is not None else Jobs(self)
        self._listing: Job | None = None
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Connect")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _fill(self, index: int) -> None:
        if index <= 0:
            return
        entry = self.saved[index - 1]
        self.name.setText(entry.get("name", ""))
        self.url.setText(entry.get("base_url", ""))
        self.model.setEditText(entry.get("model", ""))
        self.timeout.setValue(float(entry.get("timeout", 60)))
        self.n_ctx.setValue(int(entry.get("n_ctx", 4096)))
        self.key.setText(load_key(entry.get("name", "")) or "")

    def endpoint(self) -> Endpoint:
        return Endpoint(
            name=self.name.text().strip() or "server",
            base_url=self.url.text().strip(),
            model=self.model.currentText().strip(),
            api_key=self.key.text() or None,
            timeout=self.timeout.value(),
            n_ctx=self.n_ctx.value(),
        )

    def list_models(self) -> None:
        """Ask the server for its models on a background thread (a slow server never freezes
        the window); the list fills the Model box."""
        from chatapp.engine.remote import RemoteBackend

        endpoint = self.endpoint()
        self.list_button.setEnabled(False)
        self._set_status(f"Asking {endpoint.base_url} for its models…")

        self._listing = self._jobs.run(
            lambda _job: RemoteBackend().models(endpoint),
            lambda models: self._show_models(models, ""),
            lambda error: self._show_models([], error),
            name="The list of the server's models",
        )

    def _show_models(self, models: list[str], error: str) -> None:
        self.list_button.setEnabled(True)
        if error:
            self._set_status(error)
        else:
            typed = self.model.currentText()
            self.model.clear()
            self.model.addItems(models)
            self.model.setEditText(typed if typed in models else models[0])
            self._set_status(f"{len(models)} model(s) on this server.")
        self.models_listed.emit(models, error)

    def _set_status(self, text: str) -> None:
        """Show the line and grow the dialog until it fits: a top-level dialog keeps its size
        when a wrapped label gains lines, so a long server error was cut top and bottom."""
        self.status.setText(text)
        layout = self.layout()
        layout.invalidate()
        layout.activate()
        needed = layout.totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def done(self, result: int) -> None:
        if self._listing is not None:
            self._listing.cancel()  # the dialog is going: the list has nowhere to go
        if self._own_jobs:
            self._jobs.shutdown(wait=False)
        super().done(result)

    def entry(self) -> dict:
        ep = self.endpoint()
        return {
            "name": ep.name,
            "base_url": ep.base_url,
            "model": ep.model,
            "timeout": ep.timeout,
            "n_ctx": ep.n_ctx,
        }
