"""Defects a review found in the merged work of issues 19 and 22, each shown failing first."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtWidgets import QListView, QListWidget, QStyleOptionViewItem, QWidget

from chatapp.domain import Role, SearchHit
from chatapp.store import Store
from chatapp.ui import guard
from chatapp.ui import thread_list as thread_list_module
from chatapp.ui.search_results import SearchHitDelegate, hit_html, hit_item
from chatapp.ui.thread_list import ThreadDelegate, ThreadListModel
from chatapp.ui.transcript import MessageDelegate, TranscriptModel
from tests.ui.writes import written

DAMAGED = SearchHit(1, "Trip", 1, Role.USER, 1e20, "about \x02Lisbon\x03 in May")


def test_a_search_hit_with_a_damaged_time_is_drawn(qtbot) -> None:  # type: ignore[no-untyped-def]
    assert "unknown date" in hit_html(DAMAGED) and "Lisbon" in hit_html(DAMAGED)
    guard._reported.clear()
    listing = QListWidget()
    listing.setItemDelegate(SearchHitDelegate(listing))
    listing.addItem(hit_item(DAMAGED))
    qtbot.addWidget(listing)
    listing.resize(400, 200)
    listing.show()
    listing.grab()
    assert guard._reported == set()  # drawn, not merely survived


def test_the_search_delegate_survives_a_failure(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*_args):  # type: ignore[no-untyped-def]
        raise OverflowError("timestamp out of range")

    monkeypatch.setattr(SearchHitDelegate, "_document", broken)
    guard._reported.clear()
    listing = QListWidget()
    listing.setItemDelegate(SearchHitDelegate(listing))
    listing.addItem(hit_item(DAMAGED))
    qtbot.addWidget(listing)
    listing.show()
    listing.grab()  # the painter stays balanced too (a Qt warning would fail the test)
    assert {where for where, _ in guard._reported} == {
        "SearchHitDelegate.sizeHint",
        "SearchHitDelegate.paint",
    }


def test_the_selectable_copy_survives_a_failure(qtbot, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "s.sqlite3")
    t = store.create_thread("t")
    store.add_message(t.id, Role.USER, "one")
    model = TranscriptModel(store)
    model.load_thread(t.id)
    delegate = MessageDelegate()

    def broken(*_args):  # type: ignore[no-untyped-def]
        raise OverflowError("timestamp out of range")

    monkeypatch.setattr(MessageDelegate, "_shown_document", broken)
    guard._reported.clear()
    parent = QWidget()
    qtbot.addWidget(parent)
    option = QStyleOptionViewItem()
    index = model.index(0)
    assert delegate.createEditor(parent, option, index) is None
    editor = QWidget(parent)
    delegate.updateEditorGeometry(editor, option, index)
    assert {where for where, _ in guard._reported} == {
        "MessageDelegate.createEditor",
        "MessageDelegate.updateEditorGeometry",
    }
    store.close()


def test_a_failed_heading_paint_leaves_the_painter_balanced(
    qtbot, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "s.sqlite3")
    store.create_thread("t")
    model = ThreadListModel(store)
    model.refresh()

    def broken(*_args):  # type: ignore[no-untyped-def]
        raise ValueError("bad heading")

    monkeypatch.setattr(thread_list_module, "QRect", broken)
    guard._reported.clear()
    view = QListView()
    view.setModel(model)
    view.setItemDelegate(ThreadDelegate())
    qtbot.addWidget(view)
    view.show()
    view.grab()  # "Painter ended with N saved states" would fail the test
    assert {where for where, _ in guard._reported} == {"ThreadDelegate.paint"}
    store.close()


def test_the_trash_survives_a_damaged_time_and_keeps_the_title_apart(
    qtbot, make_window, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

    window = make_window()
    title = "Plans  —  deleted soon"  # the old split on "  —  " cut this title short
    t = window.store.create_thread(title)
    window.store.trash_thread(t.id)
    conn = sqlite3.connect(window.store.db_path)
    conn.execute("UPDATE threads SET deleted_at = 1e20")
    conn.commit()
    conn.close()
    window.show_trash()
    dialog = window.threads.trash_dialog
    listing = dialog.findChild(QListWidget)
    assert listing.count() == 1 and "unknown date" in listing.item(0).text()
    asked: list[str] = []

    def ask(_parent, _title, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", ask)
    listing.setCurrentRow(0)
    buttons = {b.text(): b for b in dialog.findChild(QDialogButtonBox).buttons()}
    buttons["Delete forever…"].click()
    assert f"“{title}”" in asked[0]
    dialog.close()


def test_a_draft_whose_write_failed_is_written_later(qtbot, make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]

    window = make_window()
    store = window.store
    thread_id = store.create_thread("plans").id
    other = store.create_thread("other").id
    window._refresh_threads(select=thread_id)
    fail_the_first_draft_write(monkeypatch, store)
    qtbot.keyClicks(window.composer, "unsent words")
    window.drafts.save()  # the write fails (by the store's writer: the window does not wait)
    qtbot.waitUntil(lambda: "could not be saved yet" in window.statusBar().currentMessage())
    assert store.draft(thread_id) == ""
    window._refresh_threads(select=other)  # switching away tries it again
    qtbot.waitUntil(lambda: store.draft(thread_id) == "unsent words", timeout=3000)
    window._refresh_threads(select=thread_id)
    assert window.composer.toPlainText() == "unsent words"


def fail_the_first_draft_write(monkeypatch, store) -> list[int]:  # type: ignore[no-untyped-def]
    """The next draft write fails as a full disk would; the ones after it work. Returns the
    list of failures still to come (empty once the failing write has happened)."""
    from chatapp.errors import StorageError

    real_save = store.save_draft
    failures = [1]

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        if failures:
            failures.pop()
            raise StorageError("The disk is full.")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(store, "save_draft", flaky)
    return failures


def test_a_failed_draft_is_written_at_quit(qtbot, make_window, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]

    window = make_window()
    store = window.store
    thread_id = store.create_thread("plans").id
    window._refresh_threads(select=thread_id)
    failures = fail_the_first_draft_write(monkeypatch, store)
    qtbot.keyClicks(window.composer, "unsent words")
    window.drafts.save()
    # the write has failed (a job that had not started yet would be dropped by the quit)
    qtbot.waitUntil(lambda: not failures, timeout=5000)
    window.close()
    store.close()
    assert Store.open(tmp_path / "ui.sqlite3").draft(thread_id) == "unsent words"


def test_text_typed_without_a_thread_is_not_overwritten_by_a_stored_draft(
    qtbot, make_window
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window._current_thread is None
    qtbot.keyClicks(window.composer, "typed first")
    thread_id = window.store.create_thread("kept").id
    window.store.save_draft(thread_id, "stored draft")
    window.drafts.texts[thread_id] = "stored draft"
    window._refresh_threads(select=thread_id)
    assert window._current_thread == thread_id
    assert window.composer.toPlainText() == "stored draft\ntyped first"
    qtbot.waitUntil(lambda: window.store.draft(thread_id) == "stored draft\ntyped first")


def test_text_typed_without_a_thread_survives_quit(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window._current_thread is None
    qtbot.keyClicks(window.composer, "typed, then Ctrl+Q")
    window.close()
    window.store.close()
    again = make_window(Store.open(tmp_path / "ui.sqlite3"))
    assert again.composer.toPlainText() == "typed, then Ctrl+Q"
    assert list(again.store.drafts().values()) == ["typed, then Ctrl+Q"]


def test_an_added_extension_asks_before_replacing_a_file(
    qtbot, make_window, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    window = make_window()
    t = window.store.create_thread("exported")
    window.store.add_message(t.id, Role.USER, "hello")
    window._refresh_threads(select=t.id)
    existing = tmp_path / "report.html"
    existing.write_text("my own report")
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda *a, **k: (str(tmp_path / "report"), "Web page (*.html)"),
    )
    asked: list[str] = []

    def answer(reply):  # type: ignore[no-untyped-def]
        def ask(_parent, _title, text, *args, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(text)
            return reply

        return ask

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    window.export_thread()
    assert "report.html" in asked[-1] and "Replace" in asked[-1]
    assert existing.read_text() == "my own report"  # said No: untouched
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(window.files.export_done, timeout=20000) as blocker:
        window.export_thread()
    assert blocker.args[1] == "" and existing.read_bytes().startswith(b"<!DOCTYPE html>")
    assert len(asked) == 2


def test_undo_does_not_claim_to_restore_a_thread_deleted_for_good(
    qtbot, make_window, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialogButtonBox, QMessageBox

    window = make_window()
    for title in ("stays", "doomed"):
        window.store.create_thread(title)
    window._refresh_threads(select=window.store.threads()[0].id)
    doomed = window._current_thread
    window.delete_thread()
    written(qtbot, window)
    assert window.undo.button.isVisible()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.show_trash()
    dialog = window.threads.trash_dialog
    dialog.findChild(QListWidget).setCurrentRow(0)
    buttons = {b.text(): b for b in dialog.findChild(QDialogButtonBox).buttons()}
    buttons["Delete forever…"].click()
    written(qtbot, window)
    dialog.close()
    assert not window.undo.button.isVisible()  # nothing left to undo
    window.undo_delete()  # (a shortcut or a stale click) says nothing was restored
    written(qtbot, window)
    assert window.statusBar().currentMessage() != "Thread restored."
    assert [t.title for t in window.store.threads()] == ["stays"]
    # purged behind the window's back (Empty trash elsewhere): Undo says so
    window.store.create_thread("second")
    window._refresh_threads(select=window.store.threads()[0].id)
    window.delete_thread()
    written(qtbot, window)
    window.store.purge_trash(days=0, now=2e9)
    window.undo_delete()
    written(qtbot, window)
    assert "deleted for good" in window.statusBar().currentMessage()
    assert doomed not in [t.id for t in window.store.threads()]


def test_a_reused_new_chat_starts_now(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import time

    store = Store.open(tmp_path / "ui.sqlite3")
    old = store.create_thread(now=time.time() - 40 * 86400)
    window = make_window(store)
    before = time.time()
    window.new_thread()
    written(qtbot, window)
    assert window._current_thread == old.id  # reused, not another empty thread
    thread = window.store.thread(old.id)
    assert thread.created_at >= before and thread.updated_at >= before
    assert (
        window.threads_model.data(window.threads_model.index(0), thread_list_module.GroupRole)
        == "Today"
    )


def test_the_users_own_messages_show_what_was_typed(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFont

    store = Store.open(tmp_path / "s.sqlite3")
    t = store.create_thread("t")
    typed = ["line one\nline two", "2*3*4", "<b>hi</b> &amp;", "**bold** stays Markdown"]
    shown_as = ["line one\nline two", "2*3*4", "<b>hi</b> &amp;", "bold stays Markdown"]
    messages = [store.add_message(t.id, Role.USER, text) for text in typed]
    delegate = MessageDelegate()
    for msg, expected in zip(messages, shown_as, strict=True):
        assert delegate._document(msg, 400, QFont()).toPlainText() == expected
    store.close()


def test_a_mouse_move_lays_out_once_and_code_blocks_are_parsed_once(
    qtbot, make_window, fake, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    from chatapp.ui import transcript as transcript_module
    from tests.ui.test_main_window import type_and_send

    parsed: list[str] = []
    real = transcript_module.code_blocks
    monkeypatch.setattr(
        transcript_module, "code_blocks", lambda text: parsed.append(text) or real(text)
    )
    window = make_window()
    fake.enqueue(["See https://example.org and:\n\n```python\nprint(1)\n```\n"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "code?")
    window.transcript_view.grab()
    parsed_before = len(parsed)
    delegate = window.transcript_view.itemDelegate()
    link_calls: list[int] = []
    real_link_at = delegate.link_at
    monkeypatch.setattr(delegate, "link_at", lambda *a: link_calls.append(1) or real_link_at(*a))
    viewport = window.transcript_view.viewport()
    rect = window.transcript_view.visualRect(window.transcript.index(1))
    for step in range(5):
        window.transcript_view.grab()  # paints ask for the Copy buttons each time
        pos = QPointF(rect.left() + 40 + step, rect.top() + 30)
        move = QMouseEvent(
            QEvent.Type.MouseMove,
            pos,
            viewport.mapToGlobal(pos),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        window.messages.eventFilter(viewport, move)
    assert len(link_calls) == 5  # one hit test per move (was two)
    assert parsed_before >= 1 and len(parsed) == parsed_before  # no parse per paint or move
