"""Settings: the thread's system prompt and sampling, and the app's preferences."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from chatapp.config.settings import FONT_SIZES, AppSettings
from chatapp.domain import GenerationSettings, Thread


def _double(value: float, low: float, high: float, step: float, name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setValue(value)
    box.setAccessibleName(name)
    return box


def _int(value: int, low: int, high: int, name: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setAccessibleName(name)
    return box


class FontSizeBox(QSpinBox):
    """Readable sizes only: "system", then 9 to 24 pt. One step up from "system" gives the
    system's own size (not 1 pt), one step down from 9 pt gives "system" back."""

    SIZES = FONT_SIZES
    SYSTEM = FONT_SIZES[0] - 1  # shown as "system"; value() of the setting is 0 there

    def __init__(self, points: int, system_points: int, name: str = "Font size") -> None:
        super().__init__()
        self._system_points = min(self.SIZES[1], max(self.SIZES[0], system_points))
        self.setRange(self.SYSTEM, self.SIZES[1])
        self.setSpecialValueText("system")
        self.setSuffix(" pt")
        self.setAccessibleName(name)
        self.setValue(points if points >= self.SIZES[0] else self.SYSTEM)

    def stepBy(self, steps: int) -> None:
        if self.value() == self.SYSTEM and steps > 0:
            self.setValue(self._system_points + steps - 1)
        else:
            super().stepBy(steps)

    def points(self) -> int:
        """The setting: 0 for the system's size, else the chosen size."""
        return 0 if self.value() == self.SYSTEM else self.value()


class SamplingFields:
    """The sampling widgets: a thread's own settings and a model's defaults use the same."""

    NAMES = ("temperature", "top_p", "top_k", "min_p", "repeat_penalty", "max_tokens", "seed")

    def __init__(self, s: GenerationSettings, *, seed: bool = True) -> None:
        self.temperature = _double(s.temperature, 0.0, 2.0, 0.05, "Temperature")
        self.top_p = _double(s.top_p, 0.0, 1.0, 0.05, "Top-p")
        self.top_k = _int(s.top_k, 0, 500, "Top-k")
        self.min_p = _double(s.min_p, 0.0, 1.0, 0.01, "Min-p")
        self.repeat_penalty = _double(s.repeat_penalty, 0.5, 2.0, 0.05, "Repeat penalty")
        self.max_tokens = _int(s.max_tokens, 16, 32768, "Maximum reply tokens")
        self.seed: QSpinBox | None = None
        if seed:
            self.seed = _int(-1 if s.seed is None else s.seed, -1, 2**31 - 1, "Seed")
            self.seed.setSpecialValueText("random")

    def add_rows(self, form: QFormLayout) -> None:
        for label, widget in (
            ("Temperature", self.temperature),
            ("Top-p", self.top_p),
            ("Top-k", self.top_k),
            ("Min-p", self.min_p),
            ("Repeat penalty", self.repeat_penalty),
            ("Max reply tokens", self.max_tokens),
            ("Seed", self.seed),
        ):
            if widget is not None:
                form.addRow(label, widget)

    def expose(self, owner: object) -> None:
        """Make the widgets attributes of the dialog too (dialog.temperature...)."""
        for name in self.NAMES:
            setattr(owner, name, getattr(self, name))

    def show(self, s: GenerationSettings) -> None:
        for name in self.NAMES[:-1]:
            getattr(self, name).setValue(getattr(s, name))
        if self.seed is not None:
            self.seed.setValue(-1 if s.seed is None else s.seed)

    def values(self) -> GenerationSettings:
        seed = self.seed.value() if self.seed is not None else -1
        return GenerationSettings(
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            min_p=self.min_p.value(),
            repeat_penalty=self.repeat_penalty.value(),
            max_tokens=self.max_tokens.value(),
            seed=None if seed < 0 else seed,
        )


class SettingsDialog(QDialog):
    """Edits a copy; `thread_values()` and `app_values()` give the result after accept().

    Signals:
        conversion_requested(str): Privacy's encrypt/decrypt/passphrase action, confirmed; the
            target for `convert.run`, done by restarting chatapp
    """

    conversion_requested = Signal(str)

    def __init__(
        self,
        thread: Thread | None,
        app: AppSettings,
        parent: QWidget | None = None,
        *,
        privacy: str | None = None,
        conversions: list[tuple[str, str, str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        layout = QVBoxLayout(self)
        # One tab per part: the three stacked were 770 px tall, more than a 768 px laptop screen.
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        layout.addWidget(self.tabs)
        self._thread = thread
        if thread is not None:
            group = QWidget()
            form = QFormLayout(group)
            title = QLabel(thread.title or "New chat")
            title.setAccessibleName("Thread title")
            title.setTextFormat(Qt.TextFormat.PlainText)
            form.addRow("Thread", title)
            self.system_prompt = QPlainTextEdit(thread.system_prompt)
            self.system_prompt.setAccessibleName("System prompt")
            self.system_prompt.setPlaceholderText("e.g. You are a concise assistant.")
            self.system_prompt.setMaximumHeight(90)
            self.sampling = SamplingFields(thread.settings)
            self.sampling.expose(self)
            form.addRow("System prompt", self.system_prompt)
            self.sampling.add_rows(form)
            self.tabs.addTab(group, "This thread")

        group = QWidget()
        form = QFormLayout(group)
        self.default_model = QLineEdit(app.default_model or "")
        self.default_model.setPlaceholderText("built-in SmolLM2-135M-Instruct")
        self.default_model.setAccessibleName("Default model file")
        self.gpu = QComboBox()
        self.gpu.addItems(["auto", "gpu", "cpu"])
        self.gpu.setCurrentText(app.gpu)
        self.gpu.setAccessibleName("GPU offload")
        self.n_ctx = _int(app.n_ctx, 0, 262144, "Context size")
        self.n_ctx.setSingleStep(256)
        self.n_ctx.setSpecialValueText("automatic per model")
        self.n_ctx.setToolTip("For models without their own context size (Model > Model settings)")
        self.threads = _int(app.threads or 0, 0, 256, "CPU threads")
        self.threads.setSpecialValueText("automatic")
        self.theme = QComboBox()
        self.theme.addItems(["system", "light", "dark"])
        self.theme.setCurrentText(app.theme)
        self.theme.setAccessibleName("Theme")
        from PySide6.QtGui import QGuiApplication

        system_points = QGuiApplication.font().pointSize()
        parent_window = self.parent()
        base = getattr(parent_window, "_base_font", None)
        if base is not None:
            system_points = base.pointSize()  # what "system" means, not the size now in use
        self.font_size = FontSizeBox(app.font_size, system_points)
        for label, widget in (
            ("Default model", self.default_model),
            ("GPU offload", self.gpu),
            ("Context size", self.n_ctx),
            ("CPU threads", self.threads),
            ("Theme", self.theme),
            ("Font size", self.font_size),
        ):
            form.addRow(label, widget)
        self.folders = QListWidget()
        self.folders.setAccessibleName("More models folders")
        self.folders.addItems(app.model_folders)
        self.folders.setMaximumHeight(80)
        folder_buttons = QHBoxLayout()
        add = QPushButton("Add folder…")
        add.clicked.connect(lambda: self.add_folder())
        remove = QPushButton("Remove")
        remove.clicked.connect(self.remove_folder)
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        folder_buttons.addStretch()
        folders = QVBoxLayout()
        folders.addWidget(self.folders)
        folders.addLayout(folder_buttons)
        form.addRow("More models folders", folders)
        self.tabs.addTab(group, "App")
        if privacy:  # how the conversations are kept on disk (issue 21)
            box = QWidget()
            self.privacy = QLabel(privacy)
            self.privacy.setWordWrap(True)
            self.privacy.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            column = QVBoxLayout(box)
            column.addWidget(self.privacy)
            row = QHBoxLayout()
            self.conversion_buttons: dict[str, QPushButton] = {}
            for label, target, what in conversions or []:
                button = QPushButton(label)
                button.setToolTip(what)
                button.clicked.connect(
                    lambda _=False, t=target, w=what: self.confirm_conversion(t, w)
                )
                self.conversion_buttons[target] = button
                row.addWidget(button)
            row.addStretch()
            column.addLayout(row)
            column.addStretch()
            self.tabs.addTab(box, "Privacy")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def confirm_conversion(self, target: str, what: str) -> None:
        """One action: say what will happen, and on Yes save the other tabs as OK would (a
        restart must not drop what was typed there), then ask the window to restart into it."""
        answer = QMessageBox.question(
            self,
            "chatapp",
            f"{what}\n\nWhat you changed in the other tabs is saved first.\n\nGo ahead now?",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.accept()
        self.conversion_requested.emit(target)

    def thread_values(self) -> tuple[str, GenerationSettings] | None:
        if self._thread is None:
            return None
        return self.system_prompt.toPlainText().strip(), self.sampling.values()

    def app_values(self, current: AppSettings) -> AppSettings:
        """`current` with this dialog's fields changed (endpoints, per-model settings kept)."""
        return dataclasses.replace(
            current,
            default_model=self.default_model.text().strip() or None,
            gpu=self.gpu.currentText(),
            n_ctx=self.n_ctx.value(),
            threads=self.threads.value() or None,
            theme=self.theme.currentText(),
            font_size=self.font_size.points(),
            model_folders=[self.folders.item(i).text() for i in range(self.folders.count())],
            endpoints=list(current.endpoints),
            models=dict(current.models),
            last_used=dict(current.last_used),
        )

    def add_folder(self, folder: str | None = None) -> None:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Add a models folder")
        if folder and not self.folders.findItems(folder, Qt.MatchFlag.MatchExactly):
            self.folders.addItem(folder)

    def remove_folder(self) -> None:
        for item in self.folders.selectedItems():
            self.folders.takeItem(self.folders.row(item))


LOAD_FIELDS = ("default_model", "gpu", "gpu_layers", "n_ctx", "threads")


def saved_message(old: AppSettings, new: AppSettings) -> str:
    """What saving changed, said plainly: the note about the next model load only when a
    setting read at load time changed (a new theme applies at once)."""
    if any(getattr(old, name) != getattr(new, name) for name in LOAD_FIELDS):
        return "Settings saved. Model settings apply when a model is next loaded."
    return "Settings saved."
