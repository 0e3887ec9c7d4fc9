"""Writing exports to files, atomically (a temporary file, then a rename).

The target is checked first: an export replaces a regular file or makes a new
one, and nothing else. A device (/dev/full), a folder, a pipe or a socket is
refused (as root, `-o /dev/full` once replaced the device node with a PDF). A
symbolic link is followed deliberately: the file it points to is replaced and
the link stays, as editors do.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path

from chatapp.atomic import write_bytes_atomic
from chatapp.errors import UserFacingError
from chatapp.export import FORMATS, html_format, json_format, text_formats
from chatapp.export.model import read_thread
from chatapp.export.progress import NO_PROGRESS, Progress
from chatapp.store import Store

TEXT_FORMATS = {"md": "Markdown", "json": "JSON", "html": "HTML", "txt": "plain text"}
_ALIASES = {"htm": "html", "markdown": "md", "text": "txt"}


class ExportFailed(UserFacingError):
    """The file could not be written; no partial file was left."""


def choose_format(path: str | Path, chosen: str | None) -> tuple[str, Path]:
    """The format of an export and its file: the typed extension when it names a known
    format (`x.html` is HTML whatever filter was selected); otherwise the chosen filter's
    format, whose extension is added."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    suffix = _ALIASES.get(suffix, suffix)
    if suffix in FORMATS:
        return suffix, path
    fmt = chosen if chosen in FORMATS else "md"
    return fmt, path.with_name(f"{path.name}.{fmt}")


def resolve_target(path: Path) -> Path:
    """The file an export replaces or creates: `path`, or the file a symlink at `path`
    points to; ExportFailed for anything that is not a regular file or a new name."""
    path = Path(path)
    target = Path(os.path.realpath(path))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        if not target.parent.is_dir():
            raise ExportFailed(f"{path} could not be written: the folder does not exist.") from None
        return target
    except OSError as exc:
        raise ExportFailed(f"{path} could not be written: {_reason(exc)}.") from exc
    if stat.S_ISDIR(info.st_mode):
        raise ExportFailed(f"{path} is a folder; choose a file name for the export.")
    if not stat.S_ISREG(info.st_mode):
        raise ExportFailed(
            f"{path} is not a regular file (a device, pipe or socket); choose a file name "
            "for the export. Nothing was written."
        )
    return target


def _reason(exc: OSError) -> str:
    return {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.EFBIG: "the disk is full for this file (it is over the file-size limit)",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.EROFS: "the disk is read-only",
        errno.ENOENT: "the folder does not exist",
        errno.ELOOP: "the path is a loop of symbolic links",
    }.get(exc.errno or 0, exc.strerror or str(exc))


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


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically, to the checked target; errors name the output file, not the database."""
    target = resolve_target(path)
    try:
        write_bytes_atomic(target, data)
    except OSError as exc:
        raise ExportFailed(
            f"{path} could not be written: {_reason(exc)}. No partial file was left."
        ) from exc


def write(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


PdfWriter = Callable[[Store, int, Path, Progress], None]


def export_threads(
    store: Store,
    thread_ids: list[int],
    fmt: str,
    path: Path,
    progress: Progress = NO_PROGRESS,
    pdf: PdfWriter | None = None,
) -> None:
    """Write the export; ExportCancelled (and no file) when `progress.cancel` is set meanwhile.

    A PDF is drawn by Qt, which this package never imports: the caller on the Qt side passes
    its writer as `pdf` (chatapp.ui.pdf_export.write_pdf)."""
    resolve_target(Path(path))  # refuse a device or a folder before any work
    if fmt == "pdf":
        if pdf is None:
            raise ValueError("a PDF export needs the Qt side's writer (pdf=write_pdf)")
        pdf(store, thread_ids[0], Path(path), progress)
        return
    text = render(store, thread_ids, fmt, progress)
    progress.phase(0.9, 1.0)
    write(Path(path), text)
    progress.done()
