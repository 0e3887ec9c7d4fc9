"""The model picker above the composer: which model the open thread uses, one click to change.

Like Jan's per-thread model: the thread remembers the model chosen here (the model controller
stores it when the load succeeds) and gets it back when it is opened again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from chatapp.config.model_settings import model_key
from chatapp.engine.gguf_meta import split_parts
from chatapp.errors import StorageError
from chatapp.store import Store

LIBRARY = "library:"  # the last entry: opens the model library instead of choosing


@dataclasses.dataclass(frozen=True)
class Choice:
    ref: str  # a file path or server:<base URL>, as threads name their model
    label: str
    tooltip: str
    problem: str | None = None  # why it cannot be picked (shown, disabled)


def model_files(folders: list[Path]) -> list[Path]:
    """The .gguf files in the models folders (a split model once, by its first part), by name.
    Only names are read: the picker must open at once however large the files are."""
    found: dict[str, Path] = {}
    for folder in folders:
        if not folder.is_dir():
            continue
        try:
            paths = sorted(folder.rglob("*.gguf"))
        except OSError:
            continue
        for path in paths:
            split = split_parts(path)
            first = split[0] if split else path
            found.setdefault(model_key(first), first)
    return sorted(found.values(), key=lambda p: p.name.lower())


def unreadable(files: list[Path]) -> dict[str, str]:
    """Files that are no GGUF model at all (their first four bytes), by model key, with why:
    as cheap as listing, and what the model library calls not readable."""
    from chatapp.engine.gguf_file import check_model_file
    from chatapp.errors import ModelLoadError

    found: dict[str, str] = {}
    for path in files:
        try:
            check_model_file(path)
        except ModelLoadError as exc:
            found[model_key(path)] = exc.message
    return found


def _file_choice(path: Path, builtin: Path | None, problem: str | None) -> Choice:
    is_builtin = builtin is not None and model_key(path) == model_key(builtin)
    label = f"{path.name} (built-in)" if is_builtin else path.name
    if problem is None:
        return Choice(str(path), label, str(path))
    return Choice(str(path), f"{label} — cannot be loaded", f"{path}\n{problem}", problem)


class ModelPicker(QWidget):
    """Signals: chosen(str ref) — the user picked another model for the open thread;
    library_requested() — the user asked for the model library from the list."""

    chosen = Signal(str)
    library_requested = Signal()

    def __init__(self, models: Any, store: Store, jobs: Any, parent: QWidget | None = None) -> None:
        """`models`: the ui.model_controller.ModelController; `jobs`: workers.jobs.Jobs (the
        folders are listed off the GUI thread: a models folder may be a deep tree)."""
        super().__init__(parent)
        self._models = models
        self._store = store
        self._jobs = jobs
        self._files: list[Path] = []
        self._unreadable: dict[str, str] = {}  # model key -> why (not a GGUF file)
        self._thread_id: int | None = None
        self._listing: Any = None  # the running listing job (workers.jobs.Job)
        self._stopped = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Model:")
        self.combo = QComboBox()
        self.combo.setAccessibleName("This thread's model")
        self.combo.setToolTip(
            "The model this thread uses. Choose another to load it for this thread."
        )
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Fixed)
        self.combo.setMaximumWidth(420)
        label.setBuddy(self.combo)
        layout.addWidget(label)
        layout.addWidget(self.combo)
        layout.addStretch(1)
        self.combo.activated.connect(self._picked)
        self.relist()

    # -- what is listed ---------------------------------------------------------

    def relist(self) -> None:
        """Read the models folders again (after a load, or when the library may have changed)."""
        if self._stopped:
            return
        if self._listing is not None:
            self._listing.cancel()  # only the newest listing is shown
        folders = self._models.model_folders()

        def listing(_job: Any) -> tuple[list[Path], dict[str, str]]:
            files = model_files(folders)
            return files, unreadable(files)

        self._listing = self._jobs.run(
            listing, lambda found: self._listed(*found), name="list models"
        )

    def stop(self) -> None:
        """The window closes: a listing that ends later must not read the closed store."""
        self._stopped = True
        if self._listing is not None:
            self._listing.cancel()

    def _listed(self, files: list[Path], bad: dict[str, str]) -> None:
        self._files = files
        self._unreadable = bad
        self.refresh()

    def show_thread(self, thread_id: int | None) -> None:
        self._thread_id = thread_id
        self.refresh()

    def _own(self) -> str | None:
        if self._thread_id is None:
            return None
        try:
            return self._store.thread(self._thread_id).model
        except (StorageError, KeyError):  # gone meanwhile, or unreadable: what is loaded
            return None

    def wanted(self) -> str | None:
        """The open thread's own model; a thread that has none uses what is loaded."""
        chosen = self._models.loading_for(self._thread_id)
        return chosen or self._own() or self._models.loaded_ref

    def choices(self) -> list[Choice]:
        builtin = self._models.builtin_model()
        listed = ([builtin] if builtin is not None else []) + [
            f for f in self._files if builtin is None or model_key(f) != model_key(builtin)
        ]
        choices = [
            _file_choice(
                path,
                builtin,
                self._unreadable.get(model_key(path)) or self._models.load_problem(str(path)),
            )
            for path in listed
        ]
        for entry in self._models.app_settings.endpoints:
            if entry.get("base_url"):
                model = entry.get("model") or "first model"
                name = entry.get("name", "server")
                ref = f"server:{entry['base_url']}"
                choices.append(Choice(ref, f"{model} @ {name}", entry["base_url"]))
        keys = {model_key(c.ref) for c in choices}
        for ref in (self.wanted(), self._models.loaded_ref):  # loaded from elsewhere: listed too
            if ref and model_key(ref) not in keys:
                keys.add(model_key(ref))
                label = ref if ref.startswith("server:") else Path(ref).name
                choices.append(Choice(ref, label, f"{ref}\n(not in the models folders)"))
        return choices

    def refresh(self) -> None:
        """Fill the list and show the open thread's model (no signal: only a user's pick loads)."""
        if self._stopped:
            return
        wanted = self.wanted()
        self.combo.blockSignals(True)
        self.combo.clear()
        current = -1
        for i, choice in enumerate(self.choices()):
            self.combo.addItem(choice.label, choice.ref)
            self.combo.setItemData(i, choice.tooltip, Qt.ItemDataRole.ToolTipRole)
            if choice.problem is not None:  # shown, with why, but not picked by a slip
                item = self.combo.model().item(i)  # type: ignore[attr-defined]
                item.setEnabled(False)
            if wanted and model_key(choice.ref) == model_key(wanted):
                current = i
        if current < 0:
            self.combo.insertItem(0, "No model", "")
            current = 0
        self.combo.insertSeparator(self.combo.count())
        self.combo.addItem("Model library…", LIBRARY)
        self.combo.setCurrentIndex(current)
        self.combo.blockSignals(False)

    # -- choosing -------------------------------------------------------------

    def _picked(self, index: int) -> None:
        ref = self.combo.itemData(index)
        if ref == LIBRARY:
            self.refresh()  # the list goes back to the thread's model
            self.library_requested.emit()
            return
        loaded, own = self._models.loaded_ref, self._own()
        same = loaded is not None and model_key(ref) == model_key(loaded)
        if not ref or (same and (own is None or model_key(own) == model_key(ref))):
            return  # already this thread's model, and loaded
        self.chosen.emit(ref)
