"""Writing exports to files, atomically (a temporary file, then a rename)."""

from __future__ import annotations

import errno
from pathlib import Path

from chatapp.atomic import write_text_atomic
from chatapp.errors import UserFacingError
from chatapp.export import html_format, json_format, text_formats
from chatapp.export.model import read_thread
from chatapp.export.progress import NO_PROGRESS, Progress
from chatapp.store import Store

TEXT_FORMATS = {"md": "Markdown", "json": "JSON", "html": "HTML", "txt": "plain text"}


class ExportFailed(UserFacingError):
    """The file could not be written; no partial file was left."""


def render(store: Store, thread_ids: list[int], fmt: str, progress: Progress = NO_PROGRESS) -> str:
    progress.phase(0.0, 0.3)
    exports = []
    for n, thread_id in enumerate(thread_ids):
        exports.append(read_thread(store, thread_id))
        progress.step(n * 2000, len(thread_ids) * 2000)
    progress.phase(0.3, 0.9)
    if fmt == "json":
        return json_format.render(exports)
    if len(exports) != 1:
        raise ValueError("only JSON holds several threads in one file")
    if fmt == "md":
        return text_formats.render_markdown(exports[0], progress)
    if fmt == "txt":
        return text_formats.render_text(exports[0], progress)
    if fmt == "html":
        return html_format.render(exports[0], progress)
    raise ValueError(f"unknown format {fmt!r}")


def write(path: Path, text: str) -> None:
    try:
        write_text_atomic(Path(path), text)
    except OSError as exc:
        reason = {
            errno.ENOSPC: "the disk is full",
            errno.EACCES: "permission denied",
            errno.EROFS: "the disk is read-only",
            errno.ENOENT: "the folder does not exist",
        }.get(exc.errno or 0, exc.strerror or str(exc))
        raise ExportFailed(f"{path} could not be written: {reason}. No partial file was left.") from exc


def export_threads(
    store: Store, thread_ids: list[int], fmt: str, path: Path, progress: Progress = NO_PROGRESS
) -> None:
    """Write the export; ExportCancelled (and no file) when `progress.cancel` is set meanwhile."""
    if fmt == "pdf":
        from chatapp.ui.pdf_export import write_pdf  # drawn by Qt

        write_pdf(store, thread_ids[0], Path(path), progress)
        return
    text = render(store, thread_ids, fmt, progress)
    progress.phase(0.9, 1.0)
    write(Path(path), text)
    progress.phase(1.0, 1.0)
