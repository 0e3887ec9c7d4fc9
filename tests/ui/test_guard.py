"""One bad row never takes the window down (issue 22, item 1): PySide6 aborts or segfaults
on an exception inside data() or paint(); those are caught, logged and shown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtWidgets import QListView

from chatapp.domain import Role
from chatapp.store import Store
from chatapp.ui import guard
from chatapp.ui.thread_list import ThreadDelegate, ThreadListModel
from chatapp.ui.transcript import MessageDelegate, TranscriptModel


def damaged_store(tmp_path: Path) -> Store:
    """Times no import lets through any more, written straight into the database after it
    was opened (the migration that repairs them has run already)."""
    s = Store.open(tmp_path / "d.sqlite3")
    t = s.create_thread("damaged")
    s.add_message(t.id, Role.USER, "hello")
    s.add_message(t.id, Role.ASSISTANT, "there")
    conn = sqlite3.connect(s.db_path)
    conn.execute("UPDATE threads SET updated_at = 1e20, created_at = 'yesterday'")
    conn.execute("UPDATE messages SET created_at = CASE id WHEN 1 THEN -1e12 ELSE 'soon' END")
    conn.commit()
    conn.close()
    return s


def show(qtbot, model, delegate) -> QListView:  # type: ignore[no-untyped-def]
    view = QListView()
    view.setModel(model)
    view.setItemDelegate(delegate)
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    view.grab()  # paints every visible row
    return view


def test_rows_with_damaged_times_are_drawn(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = damaged_store(tmp_path)
    guard._reported.clear()
    threads = ThreadListModel(store)
    threads.refresh()
    show(qtbot, threads, ThreadDelegate())
    transcript = TranscriptModel(store)
    transcript.load_thread(1)
    show(qtbot, transcript, MessageDelegate())
    assert guard._reported == set()  # drawn, not merely survived
    assert threads.data(threads.index(0)) == "damaged"
    store.close()


def test_an_exception_in_paint_is_caught_logged_and_shown_once(
    qtbot, tmp_path: Path, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui import transcript as transcript_module

    store = Store.open(tmp_path / "s.sqlite3")
    t = store.create_thread("t")
    store.add_message(t.id, Role.USER, "one")
    store.add_message(t.id, Role.ASSISTANT, "two")

    def broken(*_args):  # type: ignore[no-untyped-def]
        raise OverflowError("timestamp out of range for platform time_t")

    monkeypatch.setattr(transcript_module, "_header", broken)
    shown: list[str] = []
    guard._reported.clear()
    guard.set_reporter(shown.append)
    try:
        model = TranscriptModel(store)
        model.load_thread(t.id)
        view = show(qtbot, model, MessageDelegate())
        view.grab()
        qtbot.waitUntil(lambda: bool(shown), timeout=2000)
    finally:
        guard.set_reporter(None)
    assert len(shown) == 1 and "timestamp out of range" in shown[0] and "chatapp.log" in shown[0]
    assert any(
        "MessageDelegate.paint failed" in r.getMessage() and r.exc_info for r in caplog.records
    )
    store.close()


@pytest.mark.parametrize("fallback", [None, 7])
def test_the_fallback_is_returned(fallback) -> None:  # type: ignore[no-untyped-def]
    guard._reported.clear()

    @guard.guarded(fallback)
    def data() -> int:
        raise ValueError("bad row")

    assert data() == fallback
