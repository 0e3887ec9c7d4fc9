"""A property-based fuzzer of both import formats (issue 22).

Files are built from valid ones and then damaged at random (wrong types, missing
keys, extreme numbers, NaN and infinities, loops in ChatGPT's tree, deep nesting,
lone surrogates and control characters). The invariant, for every file:

- either a clear one-line ImportFailed and the database exactly as before,
- or every message of the file is in the database, and `chatapp list`, every
  text export and the window's item models and delegates (the code that aborted
  the window at every start) work on the result without a single error.

The example count is small by default so the test runs in seconds;
CHATAPP_FUZZ=long runs thousands (CHATAPP_FUZZ=500: that many).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings

from chatapp import cli
from chatapp.export import writer
from chatapp.export.importers import ImportFailed, import_with_report
from chatapp.store import Store
from chatapp.timestamps import MAX_TIME, MIN_TIME
from tests.hostile_files import chatapp_files, chatgpt_files, clean, dump

settings.register_profile(
    "import-fuzz-ci",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_LONG = os.environ.get("CHATAPP_FUZZ", "")  # "long", or a number of examples
settings.register_profile(
    "import-fuzz-long",
    max_examples=int(_LONG) if _LONG.isdigit() else 3000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = settings.get_profile("import-fuzz-long" if _LONG else "import-fuzz-ci")

# -- the invariant ---------------------------------------------------------------


def _state(store: Store) -> list[Any]:
    return [
        store._query(f"SELECT * FROM {table} ORDER BY rowid")
        for table in ("threads", "messages", "summaries", "memory_slots")
    ]


def _check(store: Store, path: Path, tmp: Path, qapp: Any) -> list[int] | None:
    before = _state(store)
    try:
        report = import_with_report(store, path)
    except ImportFailed as exc:
        assert exc.message and "\n" not in exc.message, exc.message
        assert _state(store) == before, "a refused file changed the database"
        event("refused")
        return None
    event(f"imported {len(report.thread_ids)} thread(s), {len(report.notes)} note(s)")
    assert cli.main(["list"]) == 0
    for thread_id in report.thread_ids:
        thread = store.thread(thread_id)
        assert (
            MIN_TIME <= thread.created_at <= MAX_TIME and MIN_TIME <= thread.updated_at <= MAX_TIME
        )
        for fmt in ("md", "txt", "html", "json"):
            writer.export_threads(store, [thread_id], fmt, tmp / f"out.{fmt}")
    _draw_window_rows(store, report.thread_ids, qapp)
    return report.thread_ids


def _draw_window_rows(store: Store, thread_ids: list[int], qapp: Any) -> None:
    """The thread list and each transcript drawn as the window draws them, with no error
    caught by the guard (a caught error would have been an abort before)."""
    from PySide6.QtCore import QModelIndex, QRect
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from chatapp.ui import guard
    from chatapp.ui.thread_list import ThreadDelegate, ThreadListModel
    from chatapp.ui.transcript import MessageDelegate, TranscriptModel

    guard._reported.clear()
    image = QImage(600, 400, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    threads = ThreadListModel(store)
    threads.refresh()
    pairs: list[tuple[Any, Any]] = [(threads, ThreadDelegate())]
    for thread_id in thread_ids:
        transcript = TranscriptModel(store)
        transcript.load_thread(thread_id)
        pairs.append((transcript, MessageDelegate()))
    for model, delegate in pairs:
        for row in range(model.rowCount(QModelIndex())):
            index = model.index(row, 0)
            option = QStyleOptionViewItem()
            option.rect = QRect(0, 0, 600, 200)
            delegate.sizeHint(option, index)
            delegate.paint(painter, option, index)
    painter.end()
    assert not guard._reported, guard._reported


@pytest.fixture
def home_store(chatapp_home: Path):  # type: ignore[no-untyped-def]
    s = Store.open(chatapp_home / "chatapp.sqlite3")
    yield s
    s.close()


@PROFILE
@given(doc=chatapp_files())
def test_fuzzed_chatapp_files(home_store: Store, tmp_path: Path, qapp, doc: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "in.json"
    path.write_text(dump(doc), encoding="utf-8")
    created = _check(home_store, path, tmp_path, qapp)
    if created is None:
        return
    for thread, thread_id in zip(doc["threads"], created, strict=True):
        wanted = Counter(clean(m["content"]) for m in thread["messages"])
        got = Counter(
            r[0]
            for r in home_store._query(
                "SELECT content FROM messages WHERE thread_id = ?", (thread_id,)
            )
        )
        assert got == wanted


@PROFILE
@given(case=chatgpt_files())
def test_fuzzed_chatgpt_files(home_store: Store, tmp_path: Path, qapp, case: Any) -> None:  # type: ignore[no-untyped-def]
    conversations, expected = case
    path = tmp_path / "conversations.json"
    text = dump(conversations)
    path.write_text(text, encoding="utf-8")
    created = _check(home_store, path, tmp_path, qapp)
    kept = [texts for texts in expected if texts is not None]
    deep = "[" * 10_000 in text
    if created is None:
        assert deep or not kept, "a file with importable conversations was refused"
        return
    assert not deep
    assert len(created) == len(kept)
    for texts, thread_id in zip(kept, created, strict=True):
        got = Counter(
            r[0]
            for r in home_store._query(
                "SELECT content FROM messages WHERE thread_id = ?", (thread_id,)
            )
        )
        assert got == Counter(texts)
