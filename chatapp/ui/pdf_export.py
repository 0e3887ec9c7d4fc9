"""PDF export: the HTML export drawn by Qt's text engine onto paginated A4 pages.

The work is bounded and cancellable. A giant message (50 MB once took over two
minutes and 2 GB) is cut in the PDF with a note saying how much is left out
(the other formats hold all of it); a thread too long for a PDF in total is
refused with a message. Pages are drawn one by one, checking Cancel between
them, into memory: the file is written only at the end, in one atomic step, so
a cancelled or killed export leaves no temporary file behind.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF, QSizeF
from PySide6.QtGui import (
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QTextDocument,
    QTextOption,
)

from chatapp.domain import Message
from chatapp.export import html_format
from chatapp.export.model import read_thread
from chatapp.export.progress import NO_PROGRESS, Progress
from chatapp.export.writer import ExportFailed, resolve_target, write_bytes
from chatapp.store import Store

MESSAGE_LIMIT = 100_000  # characters of one message shown in a PDF
TOTAL_LIMIT = 20_000_000  # characters of a whole PDF (10,000 ordinary messages are ~5 M)


def bounded_contents(messages: list[Message], limit: int = MESSAGE_LIMIT) -> list[str]:
    """The messages' text for the PDF, each giant one cut with a note of what is left out."""
    out = []
    for m in messages:
        text = m.content
        if len(text) > limit:
            rest = len(text) - limit
            text = (
                text[:limit]
                + f"\n\n[… {rest:,} more characters of this message are not in the PDF; "
                "export the thread as HTML, Markdown, text or JSON for all of it.]"
            )
        out.append(text)
    return out


def write_pdf(store: Store, thread_id: int, path: Path, progress: Progress = NO_PROGRESS) -> None:
    """Needs a QGuiApplication (offscreen is fine); writes atomically like the other formats."""
    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        QGuiApplication.instance() or QGuiApplication([])
    resolve_target(path)
    progress.phase(0.0, 0.1)
    export = read_thread(store, thread_id)
    contents = bounded_contents(export.shown)
    total = sum(len(c) for c in contents)
    if total > TOTAL_LIMIT:
        raise ExportFailed(
            f"{path.name}: the thread is too long for a PDF ({total:,} characters; "
            f"a PDF holds up to {TOTAL_LIMIT:,}). "
            "Export it as HTML, Markdown, text or JSON instead. Nothing was written."
        )
    progress.phase(0.1, 0.3)
    html = html_format.render(export, progress, contents=contents, for_print=True)
    progress.phase(0.3, 0.5)
    doc = QTextDocument()
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)  # long unbroken lines
    doc.setDefaultTextOption(option)
    doc.setHtml(html)
    progress.check()

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(export.thread.title or "chatapp thread")
    writer.setCreator("chatapp")
    writer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A4),
            QPageLayout.Orientation.Portrait,
            QMarginsF(15, 15, 15, 15),
        )
    )
    writer.setResolution(96)
    rect = writer.pageLayout().paintRectPixels(writer.resolution())
    width, height = float(rect.width()), float(rect.height())
    doc.setPageSize(QSizeF(width, height))  # the layout keeps lines whole across pages
    pages = doc.pageCount()
    progress.phase(0.5, 1.0)
    painter = QPainter(writer)
    try:
        for page in range(pages):
            progress.at(page, pages)
            if page:
                writer.newPage()
            painter.save()
            painter.translate(0, -page * height)
            doc.drawContents(painter, QRectF(0, page * height, width, height))
            painter.restore()
    finally:
        painter.end()
        del writer  # finishes the PDF in the buffer
        buffer.close()
    if data.isEmpty():
        raise ExportFailed(f"{path} could not be written.")
    write_bytes(path, bytes(data.data()))
    progress.done()
