"""The model library: the built-in model and every GGUF file in the models folders, with
what each one is, read from its header on a background thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QFileSystemWatcher,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from chatapp.config.model_settings import model_key
from chatapp.engine.gguf_meta import GGUFInfo, read_header, scan
from chatapp.errors import ModelLoadError
from chatapp.timestamps import format_local
from chatapp.ui.guard import guarded
from chatapp.workers.jobs import Job, Jobs

COLUMNS = [
    "Name",
    "Architecture",
    "Parameters",
    "Quantization",
    "Size",
    "Trained context",
    "Chat template",
    "Last used",
]
PathRole = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


class ModelTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[GGUFInfo, bool, float | None]] = []  # info, built-in, last used
        self.loaded: tuple[str, str] | None = None  # (model key, device label) of the loaded model
        self.crashed: dict[str, str] = {}  # model key -> why it stopped the model process

    def set_rows(self, rows: list[tuple[GGUFInfo, bool, float | None]]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    @guarded()
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        info, builtin, used = self.rows[index.row()]
        device = self._device(info)
        crashed = self.crashed.get(model_key(info.path)) if info.architecture != "server" else None
        if role == PathRole:
            return info.path
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                info.path
                + ("\n(built-in: cannot be deleted)" if builtin else "")
                + (f"\nloaded now: {device}" if device else "")
                + (
                    f"\nStopped the model process when last loaded ({crashed}); "
                    "not loaded automatically at start."
                    if crashed
                    else ""
                )
            )
        if role == Qt.ItemDataRole.FontRole and device and index.column() == 0:
            font = QFont()
            font.setBold(True)
            return font
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        col = index.column()
        if info.architecture == "server":
            name = info.name + (" · loaded" if device else "")
            return {0: name, 1: "server", 5: f"{info.context_length:,}", 6: "the server's"}.get(
                col, ""
            )
        if col == 0:
            name = Path(info.path).name
            name = f"{name} (built-in)" if builtin else name
            name = f"⚠ {name} · crashed when loaded" if crashed and not device else name
            return f"{name} · loaded on {device}" if device else name
        if col == 1:
            return info.architecture
        if col == 2:
            return info.parameters_label
        if col == 3:
            return info.quantization
        if col == 4:
            return _size(info.file_size) + (f" in {info.parts} parts" if info.parts > 1 else "")
        if col == 5:
            return f"{info.context_length:,}" if info.context_length else "?"
        if col == 6:
            return "yes" if info.has_chat_template else "no (ChatML is used)"
        if col == 7:
            return format_local(used, "%Y-%m-%d", "") if used else ""
        return None

    def _device(self, info: GGUFInfo) -> str | None:
        if self.loaded is None:
            return None
        key = info.path if info.architecture == "server" else model_key(info.path)
        return self.loaded[1] if key == self.loaded[0] else None


def server_row(entry: dict) -> GGUFInfo:
    """A saved endpoint, listed beside the files (its path is server:<base URL>)."""
    model = entry.get("model") or "first model"
    return GGUFInfo(
        path=f"server:{entry['base_url']}",
        name=f"{model} @ {entry.get('name', 'server')}",
        architecture="server",
        parameters=0,
        quantization="",
        file_size=0,
        context_length=int(entry.get("n_ctx", 4096)),
        block_count=0,
        has_chat_template=True,
        vocab_only=False,
        parts=1,
        metadata={},
    )


class ModelLibrary(QDialog):
    """Signals: chosen(str path) when the user picks a model to load; configure(str path) for
    its settings; scanned() after each listing."""

    chosen = Signal(str)
    configure = Signal(str)
    scanned = Signal()

    def __init__(
        self,
        folders: list[Path],
        builtin: Path | None,
        last_used: dict[str, float],
        parent: QWidget | None = None,
        endpoints: list[dict] | None = None,
        loaded: tuple[str, str] | None = None,
        crashed: dict[str, str] | None = None,
        jobs: Jobs | None = None,
    ) -> None:
        """`jobs`: the app's background jobs (a dialog made alone gets its own)."""
        super().__init__(parent)
        self.setWindowTitle("Model library")
        self.resize(900, 420)
        self.folders = folders
        self.builtin = builtin
        self.last_used = last_used
        self.endpoints = endpoints or []
        self.failed: list[tuple[Path, str]] = []
        layout = QVBoxLayout(self)
        self.info = QLabel("Reading model files…")
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        self.model = ModelTableModel(self)
        self.model.loaded = (model_key(loaded[0]), loaded[1]) if loaded else None
        self.model.crashed = dict(crashed or {})
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Models")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        # the name takes what the facts leave: with every column at its default width the
        # built-in model's name lost its "(built-in)" in a 900 px dialog
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self._choose())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._name_buttons())
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.load_button = buttons.addButton("Load", QDialogButtonBox.ButtonRole.AcceptRole)
        self.load_button.clicked.connect(self._choose)
        self.settings_button = buttons.addButton(
            "Settings…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.settings_button.clicked.connect(self._configure)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._name_buttons()
        self._own_jobs = jobs is None
        self._jobs = jobs if jobs is not None else Jobs(self)
        self._scan: Job | None = None
        self.watcher = QFileSystemWatcher([str(f) for f in folders if f.is_dir()], self)
        self._rescan_timer = QTimer(self, singleShot=True, interval=500)
        self.watcher.directoryChanged.connect(lambda _p: self._rescan_timer.start())
        self._rescan_timer.timeout.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Read the headers as a background job; the dialog stays responsive."""

        def job(_job: Job) -> tuple[list[GGUFInfo], list[tuple[Path, str]]]:
            found, failed = scan(self.folders)
            if self.builtin is not None:
                try:
                    found.insert(0, read_header(self.builtin))
                except ModelLoadError as exc:
                    failed.append((self.builtin, exc.message))
            return found, failed

        if self._scan is not None:
            self._scan.cancel()  # an older listing's answer is not wanted
        self._scan = self._jobs.run(job, lambda result: self._show(*result), name="model scan")

    def _show(self, found: list[GGUFInfo], failed: list[tuple[Path, str]]) -> None:
        builtin = str(self.builtin.resolve()) if self.builtin else None
        rows = [
            (i, str(Path(i.path).resolve()) == builtin, self.last_used.get(model_key(i.path)))
            for i in found
        ]
        rows += [
            (server_row(e), False, self.last_used.get(f"server:{e['base_url']}"))
            for e in self.endpoints
            if e.get("base_url")
        ]
        self.model.set_rows(rows)
        self.failed = failed
        folders = ", ".join(str(f) for f in self.folders)
        text = (
            f"{len(found)} model(s). Models folders: {folders} — "
            "put .gguf files there and they appear here "
            "(more folders in Settings)."
        )
        if failed:
            text += "\nNot readable: " + "; ".join(f"{p.name} ({why})" for p, why in failed[:5])
        self.info.setText(text)
        self._name_buttons()
        self.scanned.emit()

    def _selected(self) -> QModelIndex:
        """The row the user selected. Not the current index: the table makes its first row
        current when it gets the focus, which is no choice (Settings… then went to it)."""
        rows = self.table.selectionModel().selectedRows()
        return rows[0] if rows else QModelIndex()

    def _choose(self) -> None:
        index = self._selected()
        if index.isValid():
            self.chosen.emit(self.model.data(index, PathRole))
            self.accept()

    def _settings_path(self) -> str | None:
        """The selected model's file; without a selection the loaded model's (also one loaded
        from outside the models folders), so Settings… works on what is running."""
        index = self._selected()
        if index.isValid():
            return self.model.data(index, PathRole)
        return self.model.loaded[0] if self.model.loaded is not None else None

    def _name_buttons(self) -> None:
        path = self._settings_path()
        server = path is not None and path.startswith("server:")
        self.settings_button.setEnabled(path is not None and not server)
        self.settings_button.setToolTip(
            "A server's model is set up in Model ▸ Connect to a server."
            if server
            else ""
            if path is not None
            else "Select a model, or load one, to change its settings."
        )
        self.load_button.setEnabled(self._selected().isValid())

    def _configure(self) -> None:
        path = self._settings_path()
        if path and not path.startswith("server:"):
            self.configure.emit(path)

    def done(self, result: int) -> None:
        if self._scan is not None:
            self._scan.cancel()  # the dialog is going: its listing has nowhere to go
        if self._own_jobs:
            self._jobs.shutdown(wait=False)
        super().done(result)
