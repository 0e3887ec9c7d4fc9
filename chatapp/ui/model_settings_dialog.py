"""Settings of one model file: context size (with the memory it will take), offload, threads,
batch, flash attention, chat template, RPC servers and the sampling its threads start from."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from chatapp.config.model_settings import ModelSettings
from chatapp.domain import GenerationSettings
from chatapp.engine import memory_estimate
from chatapp.engine.gguf_meta import GGUFInfo
from chatapp.engine.templates import NAMED
from chatapp.ui.settings_dialog import SamplingFields, _int

OFFLOAD_LABELS = [
    ("", "As in the app's settings"),
    ("auto", "Automatic (all layers on the GPU when there is one)"),
    ("all", "All layers on the GPU"),
    ("layers", "Some layers on the GPU"),
    ("cpu", "CPU only"),
]
FRAME_ALLOWANCE = 48  # px: a title bar and borders, which the screen's free area includes
MIN_SCROLL = 200  # px: the settings area never shrinks below a few rows
OWN_TEMPLATE, CUSTOM_TEMPLATE = "The model's own", "Custom (Jinja)…"
SAMPLE = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "Hello"},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": "How are you?"},
]


def check_template(text: str) -> str | None:
    """None when the Jinja template renders a sample chat in the sandbox; else why not."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    try:
        formatter = Jinja2ChatFormatter(template=text, eos_token="</s>", bos_token="<s>")
        result = formatter(messages=SAMPLE)
    except Exception as exc:  # noqa: BLE001 (syntax errors, sandbox refusals, type errors)
        return f"{type(exc).__name__}: {exc}"
    if "Hello" not in result.prompt:
        return "it does not write the messages' content"
    return None


class ModelSettingsDialog(QDialog):
    """Edits a copy; `values()` gives the result after accept(). `gpu_available` decides what
    the offload choices say; `free` is the free memory in bytes (None: unknown)."""

    def __init__(
        self,
        info: GGUFInfo,
        current: ModelSettings,
        *,
        gpu_available: bool,
        rpc_available: bool,
        free: int | None,
        builtin: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.info = info
        self.free = free
        self.setWindowTitle(f"Model settings: {Path(info.path).name}")
        outer = QVBoxLayout(self)
        # everything but the buttons scrolls: with a custom template the form is taller than
        # a 768 px screen, and Save went off its bottom
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._content = QWidget()
        layout = QVBoxLayout(self._content)
        layout.setContentsMargins(0, 0, 0, 0)
        self.scroll.setWidget(self._content)
        outer.addWidget(self.scroll, 1)
        about = QLabel(
            f"<b>{Path(info.path).name}</b>{' (built-in)' if builtin else ''}<br>"
            f"{info.architecture}, {info.parameters_label} parameters, {info.quantization}, "
            f"{memory_estimate.gib(info.file_size)}, trained context {info.context_length:,} tokens"
        )
        about.setWordWrap(True)
        layout.addWidget(about)

        load = QGroupBox(
            "Loading (applies when the model is next loaded; a loaded model is reloaded)"
        )
        form = QFormLayout(load)
        self.auto_ctx = memory_estimate.auto_context(info, free)
        self.n_ctx = _int(current.n_ctx, 0, max(info.context_length, 262144), "Context size")
        self.n_ctx.setSingleStep(256)
        self.n_ctx.setSpecialValueText(f"automatic ({self.auto_ctx:,})")
        self.memory = QLabel()
        self.memory.setWordWrap(True)
        self.memory.setAccessibleName("Memory estimate")
        self.memory.installEventFilter(self)
        self.offload = QComboBox()
        self.offload.setAccessibleName("GPU offload")
        for value, label in OFFLOAD_LABELS:
            self.offload.addItem(label, value)
        self.offload.setCurrentIndex(max(0, self.offload.findData(current.offload)))
        self.gpu_layers = _int(current.gpu_layers, 0, max(1, info.block_count + 1), "GPU layers")
        self.gpu_note = QLabel(
            ""
            if gpu_available
            else "This llama.cpp build has no GPU support: models run on the CPU."
        )
        self.threads = _int(current.n_threads, 0, 256, "CPU threads")
        self.threads.setSpecialValueText("as in the app's settings")
        self.batch = _int(current.n_batch, 32, 8192, "Batch size")
        self.flash = QCheckBox("Use flash attention (faster, less memory on most GPUs)")
        self.flash.setChecked(current.flash_attn)
        self.template = QComboBox()
        self.template.setAccessibleName("Chat template")
        self.template.addItems([OWN_TEMPLATE, *NAMED, CUSTOM_TEMPLATE])
        self.template_text = QPlainTextEdit()
        self.template_text.setAccessibleName("Custom chat template")
        self.template_text.setPlaceholderText("{% for message in messages %}…{% endfor %}")
        self.template_text.setMaximumHeight(110)
        if not current.chat_template:
            self.template.setCurrentText(OWN_TEMPLATE)
        elif current.chat_template.lower() in NAMED:
            self.template.setCurrentText(current.chat_template.lower())
        else:
            self.template.setCurrentText(CUSTOM_TEMPLATE)
            self.template_text.setPlainText(current.chat_template)
        self.rpc = QLineEdit(current.rpc_servers)
        self.rpc.setAccessibleName("RPC servers")
        self.rpc.setPlaceholderText("host:port, host:port  (ggml-rpc-server on other machines)")
        if not rpc_available:
            self.rpc.setToolTip(
                "This llama.cpp build has no RPC support; see the README to build one."
            )
        for label, widget in (
            ("Context size", self.n_ctx),
            ("Memory", self.memory),
            ("GPU offload", self.offload),
            ("GPU layers", self.gpu_layers),
            ("", self.gpu_note),
            ("CPU threads", self.threads),
            ("Batch size", self.batch),
            ("", self.flash),
            ("Chat template", self.template),
            ("", self.template_text),
            ("RPC servers", self.rpc),
        ):
            form.addRow(label, widget)
        layout.addWidget(load)

        self.sampling = QGroupBox("Default sampling for threads using this model")
        self.sampling.setCheckable(True)
        self.sampling.setChecked(current.sampling is not None)
        self.sampling.setToolTip("Used by threads whose sampling settings were never changed.")
        sform = QFormLayout(self.sampling)
        self.sampling_fields = SamplingFields(
            current.generation() or GenerationSettings(), seed=False
        )
        self.sampling_fields.expose(self)
        self.sampling_fields.add_rows(sform)
        layout.addWidget(self.sampling)

        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b")
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        self.reset_button = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        self.reset_button.setText("Reset to defaults")
        self.reset_button.clicked.connect(lambda: self.show_values(ModelSettings()))
        outer.addWidget(buttons)
        self.n_ctx.valueChanged.connect(self._update)
        self.batch.valueChanged.connect(self._update)
        self.offload.currentIndexChanged.connect(self._update)
        self.template.currentTextChanged.connect(self._update)
        self._update()

    def show_values(self, value: ModelSettings) -> None:
        self.n_ctx.setValue(value.n_ctx)
        self.offload.setCurrentIndex(max(0, self.offload.findData(value.offload)))
        self.gpu_layers.setValue(value.gpu_layers)
        self.threads.setValue(value.n_threads)
        self.batch.setValue(value.n_batch)
        self.flash.setChecked(value.flash_attn)
        self.template.setCurrentText(OWN_TEMPLATE)
        self.template_text.clear()
        self.rpc.setText(value.rpc_servers)
        self.sampling.setChecked(value.sampling is not None)
        self.sampling_fields.show(GenerationSettings())
        self.error.clear()

    def _update(self) -> None:
        n_ctx = self.n_ctx.value() or self.auto_ctx
        est = memory_estimate.estimate(self.info, n_ctx, self.batch.value())
        text = f"Needs {est.describe()}"
        if self.free is not None:
            text += f"; {memory_estimate.gib(self.free)} free now"
            if est.total > self.free and self.offload.currentData() in ("cpu", ""):
                text += ". ⚠ More than the free memory: chatapp will ask before loading it."
        if self.info.context_length and n_ctx > self.info.context_length:
            text += (
                f"\nLonger than the trained context ({self.info.context_length:,}): "
                "replies may degrade."
            )
        self.memory.setText(text)
        self._fit_memory()
        self.gpu_layers.setEnabled(self.offload.currentData() == "layers")
        self.template_text.setVisible(self.template.currentText() == CUSTOM_TEMPLATE)
        self._fit_screen()

    def _fit_screen(self) -> None:
        """As tall as the content where the screen has room, else as tall as the screen
        allows (the rest scrolls); as wide as the content, without a horizontal bar."""
        self._content.adjustSize()
        content = self._content.sizeHint()
        screen = self.screen() or QGuiApplication.primaryScreen()
        room = screen.availableGeometry().height() if screen is not None else content.height()
        chrome = self.sizeHint().height() - self.scroll.sizeHint().height()
        frame = FRAME_ALLOWANCE  # the window's title bar and borders, drawn by the system
        self.scroll.setMinimumHeight(max(MIN_SCROLL, min(content.height(), room - chrome - frame)))
        bar = self.scroll.verticalScrollBar().sizeHint().width()
        self.scroll.setMinimumWidth(content.width() + bar)
        self.setMaximumHeight(max(room - frame, MIN_SCROLL + chrome))

    def _fit_memory(self) -> None:
        """The form gives a wrapped label one line's height when its text grows after the
        dialog was laid out (the estimate's second line was cut at its top): the label asks
        for the height its text needs at its width, and the dialog grows to it."""
        label = self.memory
        if label.width() > 0:
            label.setMinimumHeight(label.heightForWidth(label.width()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.memory and event.type() == QEvent.Type.Resize:
            self._fit_memory()  # laid out (or narrower): the lines its width needs
        return super().eventFilter(watched, event)

    def values(self) -> ModelSettings:
        choice = self.template.currentText()
        template = (
            ""
            if choice == OWN_TEMPLATE
            else (self.template_text.toPlainText().strip() if choice == CUSTOM_TEMPLATE else choice)
        )
        sampling = None
        if self.sampling.isChecked():
            sampling = self.sampling_fields.values().to_dict()
        return ModelSettings(
            n_ctx=self.n_ctx.value(),
            offload=self.offload.currentData(),
            gpu_layers=self.gpu_layers.value(),
            n_threads=self.threads.value(),
            n_batch=self.batch.value(),
            flash_attn=self.flash.isChecked(),
            chat_template=template,
            rpc_servers=self.rpc.text().strip(),
            sampling=sampling,
        )

    def problem(self) -> str | None:
        """Why the values cannot be saved, or None."""
        from chatapp.engine.rpc import parse_servers
        from chatapp.engine.templates import resolve_template

        value = self.values()
        if self.template.currentText() == CUSTOM_TEMPLATE and not value.chat_template:
            return "Write the custom template, or choose another."
        template = resolve_template(value.chat_template)
        if template is not None and (why := check_template(template)):
            return f"The chat template cannot be used: {why}"
        try:
            parse_servers(value.rpc_servers)
        except ValueError as exc:
            return f"RPC servers: {exc}."
        return None

    def _accept(self) -> None:
        why = self.problem()
        if why:
            self.error.setText(why)
            return
        self.accept()
