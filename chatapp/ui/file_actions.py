"""File ▸ Export and Import: ask for a file, run the work as a background job with
progress and Cancel, and report back; the window stays responsive meanwhile."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QPlainTextEdit,
    QProgressDialog,
    QVBoxLayout,
)

from chatapp.workers.jobs import Job

if TYPE_CHECKING:
    from chatapp.export.importers import ImportReport
    from chatapp.ui.main_window import MainWindow


class FileActions(QObject):
    """Signals: export_done(str, str), import_done(str, str): a message, or an error;
    export_progress(float), emitted from the export's own thread."""

    export_done = Signal(str, str)
    import_done = Signal(str, str)
    export_progress = Signal(float)

    FILTERS: ClassVar[dict[str, str]] = {
        "md": "Markdown (*.md)",
        "html": "Web page (*.html)",
        "pdf": "PDF (*.pdf)",
        "json": "chatapp JSON (*.json)",
        "txt": "Plain text (*.txt)",
    }

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self._dialog: QProgressDialog | None = None
        self._import_notes: list[str] = []
        self.report_dialog: QDialog | None = None  # the last import's list of what was left out
        self.export_cancel: threading.Event | None = None
        self.export_done.connect(self._on_done)
        self.import_done.connect(self._on_done)
        self.export_progress.connect(self._on_progress)

    def export_thread(self) -> None:
        window = self._window
        if window.current_thread is None:
            window.show_error("Choose a thread to export first.")
            return
        thread = window.store.thread(window.current_thread)
        name = re.sub(r"[^\w\- ]+", "", thread.title or "chat").strip()[:60] or "chat"
        path, chosen = QFileDialog.getSaveFileName(
            window,
            "Export thread (the exported file is not encrypted)",
            str(Path.home() / f"{name}.md"),
            ";;".join(self.FILTERS.values()),
        )
        if path:
            from chatapp.export.writer import choose_format

            # the typed extension wins (x.html is HTML under any filter), else the filter's
            chosen_fmt = next((k for k, v in self.FILTERS.items() if v == chosen), None)
            fmt, target = choose_format(path, chosen_fmt)
            if (
                target != Path(path)
                and target.exists()
                and not window.confirm(
                    "Replace file",
                    f"“{target.name}” already exists in {target.parent}. "
                    "Replace it with this export?",
                )
            ):
                return  # the dialog confirmed another name; this one was never asked about
            self.run_export([thread.id], fmt, target)

    def export_all(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self._window,
            "Export all threads (the exported file is not encrypted)",
            str(Path.home() / "chatapp-threads.json"),
            self.FILTERS["json"],
        )
        if path:
            self.run_export([t.id for t in self._window.store.threads()], "json", Path(path))

    def run_export(self, thread_ids: list[int], fmt: str, path: Path) -> None:
        """On a background job with its own read connection, with progress and Cancel."""
        from chatapp.export.progress import Progress
        from chatapp.export.writer import export_threads
        from chatapp.ui.pdf_export import write_pdf

        store = self._window.store
        self._window.notice(f"Exporting to {path.name}…", 0)
        progress = Progress(self.export_progress.emit)
        dialog = QProgressDialog(f"Exporting to {path.name}…", "Cancel", 0, 100, self._window)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(400)  # quick exports show no dialog
        dialog.setAutoClose(True)
        dialog.canceled.connect(progress.cancel.set)
        self._dialog = dialog
        self.export_cancel = progress.cancel

        def work(job: Job) -> str:
            reader = store.reader()
            try:
                export_threads(reader, thread_ids, fmt, path, progress, pdf=write_pdf)
            finally:
                reader.close()
            return f"Exported to {path}"

        self._window.jobs.run(
            work,
            lambda message: self.export_done.emit(message, ""),
            lambda error: self.export_done.emit("", error),
            name=f"The export to {path}",
        )

    def import_threads(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._window,
            "Import threads",
            str(Path.home()),
            "chatapp or ChatGPT export (*.json);;All files (*)",
        )
        if path:
            self.run_import(Path(path))

    def run_import(self, path: Path) -> None:
        from chatapp.export.importers import import_with_report

        store, memory = self._window.store, self._window.memory
        self._window.notice(f"Importing {path.name}…", 0)

        def work(job: Job) -> ImportReport:
            # through the store's one writer, in one transaction; the window's reads meanwhile
            # are served beside it (Store.import_threads)
            return import_with_report(store, path)

        def done(report: ImportReport) -> None:
            self._import_notes = list(report.notes)  # listed whole in a window (_on_done)
            text = f"Imported {len(report.thread_ids)} thread(s) from {path.name}"
            if report.notes:
                text += f"; {len(report.notes)} thing(s) left out or changed: see the list."
            self.import_done.emit(text if report.notes else report.message(path.name), "")
            for thread_id in report.thread_ids:
                if memory is not None:
                    memory.ingest(thread_id)  # memory is built in the background

        self._window.jobs.run(
            work,
            done,
            lambda error: self.import_done.emit("", error),
            name=f"The import of {path.name}",
        )

    @Slot(float)
    def _on_progress(self, fraction: float) -> None:
        dialog = self._dialog
        if dialog is not None and not dialog.wasCanceled():
            dialog.setValue(int(fraction * 100))

    @Slot(str, str)
    def _on_done(self, message: str, error: str) -> None:
        if self._dialog is not None:
            self._dialog.reset()
            self._dialog = None
        notes, self._import_notes = self._import_notes, []
        if error:
            self._window.show_error(error)
        else:
            self._window.notice(message, 10000)  # replaces an earlier error too
            self._window.refresh_threads()
            if notes:
                self.show_report(message, notes)

    def show_report(self, message: str, notes: list[str]) -> None:
        """What an import left out or changed, every line of it, in a window that stays until
        closed (a status-bar line was cut off and gone after ten seconds)."""
        dialog = QDialog(self._window)
        dialog.setWindowTitle("Import: what was left out")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        listing = QPlainTextEdit("\n".join(notes))
        listing.setReadOnly(True)
        listing.setAccessibleName("What was left out or changed")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        label = QLabel(f"{message}\nEverything else was imported.")
        label.setWordWrap(True)
        layout.addWidget(label)
        layout.addWidget(listing)
        layout.addWidget(buttons)
        dialog.resize(560, 320)
        self.report_dialog = dialog
        dialog.open()  # not blocking: the window stays usable
