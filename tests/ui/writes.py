"""Waiting for the store's writer in UI tests: the GUI thread asks for its writes, so a test
that reads the store after an action waits until what was asked is written and answered."""

from __future__ import annotations

from typing import Any

from chatapp.workers.store_writer import StoreWriter


def written(qtbot: Any, *owners: Any, timeout: int = 10_000) -> None:
    """Wait until every write asked of the writers of `owners` (a window, a memory panel, a
    session, or a StoreWriter) is written and its answer delivered on the GUI thread."""
    writers = [_writer(owner) for owner in owners]
    qtbot.waitUntil(lambda: all(writer.idle for writer in writers), timeout=timeout)


def _writer(owner: Any) -> StoreWriter:
    if isinstance(owner, StoreWriter):
        return owner
    for name in ("writer", "_store_writer"):
        writer = getattr(owner, name, None)
        if isinstance(writer, StoreWriter):
            return writer
    raise TypeError(f"{owner!r} has no store writer")
