"""Settings: the thread's system prompt and sampling, and the app's preferences."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from chatapp.config.settings import AppSettings
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


class SettingsDialog(QDialog):
    """Edits a copy; `thread_values()` and `app_values()` give the result after accept()."""

    def __init__(self, thread: Thread | None, app: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        layout = QVBoxLayout(self)
        self._thread = thread
        if thread is not None:
            group = QGroupBox(f"This thread: {thread.title or 'New chat'}")
            form = QFormLayout(group)
            self.system_prompt = QPlainTextEdit(thread.system_prompt)
            self.system_prompt.setAccessibleName("System prompt")
            self.system_prompt.setPlaceholderText("e.g. You are a concise assistant.")
            self.system_prompt.setMaximumHeight(90)
            s = thread.settings
            self.temperature = _double(s.temperature, 0.0, 2.0, 0.05, "Temperature")
            self.top_p = _double(s.top_p, 0.0, 1.0, 0.05, "Top-p")
            self.top_k = _int(s.top_k, 0, 500, "Top-k")
            self.min_p = _double(s.min_p, 0.0, 1.0, 0.01, "Min-p")
            self.repeat_penalty = _double(s.repeat_penalty, 0.5, 2.0, 0.05, "Repeat penalty")
            self.max_tokens = _int(s.max_tokens, 16, 32768, "Maximum reply tokens")
            self.seed = _int(-1 if s.seed is None else s.seed, -1, 2**31 - 1, "Seed")
            self.seed.setSpecialValueText("random")
            form.addRow("System prompt", self.system_prompt)
            for label, widget in (
                ("Temperature", self.temperature), ("Top-p", self.top_p), ("Top-k", self.top_k),
                ("Min-p", self.min_p), ("Repeat penalty", self.repeat_penalty),
                ("Max reply tokens", self.max_tokens), ("Seed", self.seed),
            ):
                form.addRow(label, widget)
            layout.addWidget(group)

        group = QGroupBox("App")
        form = QFormLayout(group)
        self.default_model = QLineEdit(app.default_model or "")
        self.default_model.setPlaceholderText("built-in SmolLM2-135M-Instruct")
        self.default_model.setAccessibleName("Default model file")
        self.gpu = QComboBox()
        self.gpu.addItems(["auto", "gpu", "cpu"])
        self.gpu.setCurrentText(app.gpu)
        self.gpu.setAccessibleName("GPU offload")
        self.n_ctx = _int(app.n_ctx, 256, 262144, "Context size")
        self.threads = _int(app.threads or 0, 0, 256, "CPU threads")
        self.threads.setSpecialValueText("automatic")
        self.theme = QComboBox()
        self.theme.addItems(["system", "light", "dark"])
        self.theme.setCurrentText(app.theme)
        self.theme.setAccessibleName("Theme")
        self.font_size = _int(app.font_size, 0, 40, "Font size")
        self.font_size.setSpecialValueText("system")
        for label, widget in (
            ("Default model", self.default_model), ("GPU offload", self.gpu), ("Context size", self.n_ctx),
            ("CPU threads", self.threads), ("Theme", self.theme), ("Font size", self.font_size),
        ):
            form.addRow(label, widget)
        layout.addWidget(group)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def thread_values(self) -> tuple[str, GenerationSettings] | None:
        if self._thread is None:
            return None
        return self.system_prompt.toPlainText().strip(), GenerationSettings(
            temperature=self.temperature.value(),
            top_p=self.top_p.value(),
            top_k=self.top_k.value(),
            min_p=self.min_p.value(),
            repeat_penalty=self.repeat_penalty.value(),
            max_tokens=self.max_tokens.value(),
            seed=None if self.seed.value() < 0 else self.seed.value(),
        )

    def app_values(self, current: AppSettings) -> AppSettings:
        return AppSettings(
            default_model=self.default_model.text().strip() or None,
            gpu=self.gpu.currentText(),
            gpu_layers=current.gpu_layers,
            n_ctx=self.n_ctx.value(),
            threads=self.threads.value() or None,
            theme=self.theme.currentText(),
            font_size=self.font_size.value(),
        )
