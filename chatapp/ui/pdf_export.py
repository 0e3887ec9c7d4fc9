"""PDF export: the HTML export drawn by Qt's text engine onto paginated A4 pages."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import QGuiApplication, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from chatapp.export import html_format
from chatapp.export.model import read_thread
from chatapp.export.progress import NO_PROGRESS, Progress
from chatapp.export.writer import ExportFailed
from chatapp.store import Store


def write_pdf(store: Store, thread_id: int, path: Path, progress: Progress = NO_PROGRESS) -> None:
    """Needs a QGuiApplication (offscreen is fine); writes atomically like the other formats."""
    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        QGuiApplication.instance() or QGuiApplication([])
    progress.phase(0.0, 0.2)
    export = read_thread(store, thread_id)
    progress.phase(0.2, 0.5)
    html = html_format.render(export, progress)
    progress.phase(0.5, 0.7)
    doc = QTextDocument()
    doc.setHtml(html)
    progress.phase(0.7, 1.0)  # Qt lays out and prints in one call: the last step cannot be cancelled
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExportFailed(f"{path} could not be written: {exc.strerror or exc}.") from exc
    os.close(fd)
    try:
        writer = QPdfWriter(tmp)
        writer.setTitle(export.thread.title or "chatapp thread")
        writer.setCreator("chatapp")
        writer.setPageLayout(
            QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait, QMarginsF(15, 15, 15, 15))
        )
        writer.setResolution(96)
        layout = writer.pageLayout()
        rect = layout.paintRectPixels(writer.resolution())
        doc.setPageSize(QSizeF(rect.width(), rect.height()))
        doc.print_(writer)
        del writer  # finishes the file
        if os.path.getsize(tmp) == 0:
            raise ExportFailed(f"{path} could not be written.")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
        progress.phase(1.0, 1.0)
    except OSError as exc:
        raise ExportFailed(f"{path} could not be written: {exc.strerror or exc}. No partial file was left.") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
