"""What users of GPT4All, LM Studio or Jan expect (issue 19's comforts), as they would use it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from chatapp.domain import Role
from chatapp.engine.fake import FakeBackend
from chatapp.store import Store
from chatapp.ui.thread_list import WritingRole
from tests.ui.test_main_window import shown, type_and_send
from tests.ui.writes import written


def _titles(window) -> list[str]:  # type: ignore[no-untyped-def]
    model = window.threads_model
    return [model.thread_at(r).title for r in range(model.rowCount())]


def test_the_delete_key_deletes_the_selected_thread_with_undo(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    for title in ("keep", "drop"):
        window.store.create_thread(title)
    window._refresh_threads(select=window.store.threads()[0].id)
    window.composer.setFocus()
    qtbot.keyClicks(window.composer, "ab")
    qtbot.keyClick(window.composer, Qt.Key.Key_Home)
    qtbot.keyClick(window.composer, Qt.Key.Key_Delete)  # in the composer: deletes a character
    assert window.composer.toPlainText() == "b" and _titles(window) == ["drop", "keep"]
    window.thread_view.setFocus()
    qtbot.keyClick(window.thread_view, Qt.Key.Key_Delete)
    written(qtbot, window)
    assert _titles(window) == ["keep"] and window.undo.button.isVisible()
    qtbot.mouseClick(window.undo.button, Qt.MouseButton.LeftButton)
    written(qtbot, window)
    assert _titles(window) == ["drop", "keep"]


def test_the_trash_shows_dates_and_deletes_for_good_after_asking(
    qtbot, make_window, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialogButtonBox, QListWidget

    window = make_window()
    for title in ("a", "b", "c"):
        t = window.store.create_thread(title)
        window.store.add_message(t.id, Role.USER, f"about {title}")
        window.store.trash_thread(t.id, now=1_700_000_000)  # 14 Nov 2023
    window.show_trash()
    dialog = window.threads.trash_dialog
    listing = dialog.findChild(QListWidget)
    assert listing.count() == 3 and all(
        "deleted 14 Nov 2023" in listing.item(i).text() for i in range(3)
    )
    buttons = {b.text(): b for b in dialog.findChild(QDialogButtonBox).buttons()}
    asked: list[str] = []

    def answer(reply):  # type: ignore[no-untyped-def]
        def ask(_parent, _title, text, *args, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(text)
            return reply

        return ask

    listing.setCurrentRow(0)
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    buttons["Delete forever…"].click()
    assert listing.count() == 3 and len(window.store.threads(trash=True)) == 3  # said No
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    buttons["Delete forever…"].click()
    written(qtbot, window)
    assert "cannot be undone" in asked[-1]
    assert listing.count() == 2 and len(window.store.threads(trash=True)) == 2
    buttons["Empty trash…"].click()
    written(qtbot, window)
    assert "2 thread(s)" in asked[-1]
    assert listing.count() == 0 and window.store.threads(trash=True) == []
    dialog.close()


def test_search_hits_are_highlighted_and_down_reaches_them(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.search_results import HtmlRole, hit_html

    store = Store.open(tmp_path / "ui.sqlite3")
    for title, text in (
        ("Trip", "Lisbon in May"),
        ("Food", "a Lisbon bakery"),
        ("Other", "nothing"),
    ):
        t = store.create_thread(title)
        store.add_message(t.id, Role.USER, text)
    window = make_window(store)
    window.search_box.setFocus()
    qtbot.keyClicks(window.search_box, "lisbon")
    qtbot.waitUntil(
        lambda: window.search_list.isVisible() and window.search_list.count() == 2, timeout=5000
    )
    first = window.search_list.item(0)
    markup = hit_html(first.data(HtmlRole))
    assert "«" not in markup and "background-color" in markup and "<b>" in markup  # title apart
    qtbot.keyClick(window.search_box, Qt.Key.Key_Down)
    assert QApplication.focusWidget() is window.search_list and window.search_list.currentRow() == 0
    qtbot.keyClick(window.search_list, Qt.Key.Key_Down)
    target = window.search_list.currentItem().data(Qt.ItemDataRole.UserRole)[0]
    qtbot.keyClick(window.search_list, Qt.Key.Key_Return)
    assert window._current_thread == target
    window.search_box.setFocus()
    qtbot.keyClick(window.search_box, Qt.Key.Key_Return)  # Enter in the box opens the first hit
    assert window._current_thread == first.data(Qt.ItemDataRole.UserRole)[0]


def test_the_writing_thread_is_marked_and_a_second_send_explains_without_a_dialog(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    fake.delay = 0.02
    window = make_window()
    fake.enqueue([" ".join(["long"] * 200)])
    type_and_send(qtbot, window, "first")
    written(qtbot, window)  # the new chat, then the message and its title, are stored
    assert window.session.busy
    writing = window._current_thread
    model = window.threads_model
    row = model.row_of(writing)
    assert model.data(model.index(row), WritingRole) and model.data(model.index(row)).startswith(
        "✎ "
    )
    other = window.store.create_thread("elsewhere").id
    window._refresh_threads(select=other)
    type_and_send(qtbot, window, "meanwhile")
    assert window.composer.toPlainText() == "meanwhile"  # kept
    assert "being written in “first”" in window.statusBar().currentMessage()
    assert not [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]
    with qtbot.waitSignal(window.session.reply_done, timeout=10000):
        pass
    assert not model.data(model.index(model.row_of(writing)), WritingRole)
    assert not model.data(model.index(model.row_of(writing))).startswith("✎")


def test_the_context_counter_is_the_shown_threads(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.enqueue(["an answer"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "a question of a few words")
    first = window._current_thread
    counted = window.context_label.text()
    assert counted.startswith("Context ") and counted != "Context 0/4096"
    window.store.create_thread("fresh")
    window._refresh_threads(select=window.store.threads()[0].id)
    assert window.context_label.text() == ""  # not the previous thread's number
    window._refresh_threads(select=first)
    assert window.context_label.text() == counted


def test_first_start_says_what_to_do_and_lists_the_shortcuts(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window.welcome.isVisible() and "Load model file" in window.welcome.text()
    assert "fake-model" in window.welcome.text()  # the model loaded, not always the built-in
    fake.enqueue(["hi"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hello")
    assert not window.welcome.isVisible()
    window.new_action.trigger()
    written(qtbot, window)
    assert window.welcome.isVisible()  # an empty new chat says it again
    rows = {what: keys for keys, what in window.shortcuts()}
    assert rows["New thread"] == "Ctrl+N" and rows["Keyboard shortcuts"] == "Ctrl+/"
    assert rows["Send the message"] == "Enter" and "Delete the selected thread" in " ".join(rows)
    window.show_shortcuts()
    from PySide6.QtWidgets import QTableWidget

    table = window._shortcuts_dialog.findChild(QTableWidget)
    assert table.rowCount() == len(rows) and table.item(0, 0).text() == "Enter"
    window._shortcuts_dialog.close()


def test_code_blocks_have_a_copy_button_and_links_open_after_asking(
    qtbot, make_window, fake: FakeBackend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QDesktopServices

    window = make_window()
    fake.enqueue(
        ["See [the docs](https://example.org/guide) and run:\n\n```sh\npip install chatapp\n```\n"]
    )
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "how do I install it?")
    assert shown(window)[0] == ("user", "how do I install it?")
    viewport = window.transcript_view.viewport()
    index = window.transcript.index(1)
    delegate = window.transcript_view.itemDelegate()
    buttons = delegate.code_buttons(window.messages.option(index), index)
    assert [code for _area, code in buttons] == ["pip install chatapp"]
    QGuiApplication.clipboard().setText("")
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=buttons[0][0].center().toPoint())
    assert QGuiApplication.clipboard().text() == "pip install chatapp"

    rect = window.transcript_view.visualRect(index)
    link_pos = next(
        (
            QPoint(x, y)
            for y in range(rect.top(), rect.bottom(), 3)
            for x in range(rect.left(), rect.right(), 3)
            if window.link_at(QPoint(x, y))
        ),
        None,
    )
    assert link_pos is not None and window.link_at(link_pos) == "https://example.org/guide"
    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True
    )
    asked: list[str] = []

    def decline(_parent, _title, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr(QMessageBox, "question", decline)
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=link_pos)
    assert "https://example.org/guide" in asked[-1] and opened == []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=link_pos)
    assert opened == ["https://example.org/guide"]
    assert not window.open_link("file:///etc/passwd") and opened == ["https://example.org/guide"]


def test_a_deleted_threads_draft_stays_with_it(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    for title in ("next", "doomed"):
        window.store.create_thread(title)
    window._refresh_threads(select=window.store.threads()[0].id)
    doomed = window._current_thread
    qtbot.keyClicks(window.composer, "half written")
    window.delete_thread()
    written(qtbot, window)
    assert window._current_thread != doomed and window.composer.toPlainText() == ""
    window.undo_delete()
    written(qtbot, window)
    assert window._current_thread == doomed and window.composer.toPlainText() == "half written"


def test_regenerating_in_the_middle_says_what_happens_first(
    qtbot, make_window, fake: FakeBackend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.enqueue(["one", "two", "one again"])
    for text in ("first", "second"):
        with qtbot.waitSignal(window.session.reply_done, timeout=5000):
            type_and_send(qtbot, window, text)
    asked: list[str] = []

    def answer(reply):  # type: ignore[no-untyped-def]
        def ask(_parent, _title, text, *args, **kwargs):  # type: ignore[no-untyped-def]
            asked.append(text)
            return reply

        return ask

    middle = window.transcript.message_at(1)
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    assert not window.regenerate_message(middle)
    assert "2 message(s) after this reply" in asked[-1] and len(shown(window)) == 4
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        assert window.regenerate_message(middle)
    assert shown(window) == [("user", "first"), ("assistant", "one again")]
    asked.clear()
    last = window.transcript.message_at(1)
    fake.enqueue(["one more"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        assert window.regenerate_message(last)  # the last reply: nothing to say
    assert asked == []


def test_the_memory_panel_shares_the_window_without_squeezing_the_chat_more_than_needed(
    qtbot, make_window
) -> None:  # type: ignore[no-untyped-def]
    """The window keeps its size (walkthrough defect 13: it grew to ~1065 px); where the three
    do not fit, the thread list and the panel give the chat every pixel they can spare."""
    window = make_window()
    screen = window.screen().availableGeometry()
    window.resize(min(700, screen.width() - 100), 500)
    window.move(screen.left(), screen.top())
    before = window.width()
    window.memory_panel.show()
    qtbot.waitUntil(lambda: window.memory_panel.isVisible(), timeout=2000)
    needed = window.splitter.sizes()[0] + window.MIN_CHAT_WIDTH + window.memory_panel.width()
    assert window.width() == before
    if before >= needed + 24:
        assert window.transcript_view.width() >= window.MIN_CHAT_WIDTH - 30
    else:
        panel_min = window.memory_panel.minimumSizeHint().width()
        assert window.splitter.sizes()[0] <= window.SIDEBAR_NARROW
        assert window.memory_panel.width() <= panel_min + 2
        spare = window.width() - window.SIDEBAR_NARROW - panel_min
        assert window.transcript_view.width() >= min(window.MIN_CHAT_WIDTH, spare) - 40


def test_part_of_a_message_can_be_selected_with_the_mouse(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QTextBrowser

    window = make_window()
    fake.enqueue(["The capital of Portugal is **Lisbon**, on the Tagus."])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "capital?")
    viewport = window.transcript_view.viewport()
    index = window.transcript.index(1)
    body = window.transcript_view.visualRect(index).center()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=body)  # a double-click's first half
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=body)
    qtbot.waitUntil(lambda: viewport.findChild(QTextBrowser) is not None, timeout=2000)
    browser = viewport.findChild(QTextBrowser)
    assert browser.isVisible() and browser.isReadOnly()
    assert browser.toPlainText() == "The capital of Portugal is Lisbon, on the Tagus."
    start = browser.cursorRect(browser.textCursor()).center()  # the text's first line
    line = start.y()
    metrics = browser.fontMetrics()
    x_from = metrics.horizontalAdvance("The capital of ") + 1
    x_to = metrics.horizontalAdvance("The capital of Portugal") - 1
    qtbot.mousePress(browser.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x_from, line))
    qtbot.mouseMove(browser.viewport(), QPoint(x_to, line))
    qtbot.mouseRelease(browser.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x_to, line))
    assert browser.textCursor().selectedText() == "Portugal"
    browser.copy()
    assert QGuiApplication.clipboard().text() == "Portugal"
    assert window.store.message(window.transcript.message_at(1).id).content.startswith(
        "The capital"
    )


def test_the_reply_says_the_model_is_reading_a_long_prompt_until_its_first_word(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.transcript import ReadingRole, _header

    fake.delay = 0.4  # the wait before the first word: what reading a long prompt looks like
    window = make_window()
    fake.enqueue(["short answer"])
    paste = " ".join(f"word{i}" for i in range(3000))
    window.composer.setPlainText(paste)
    with qtbot.waitSignal(window.session.reading, timeout=5000) as reading:
        window.send()
    reply_id, tokens = reading.args
    assert tokens >= 3000
    index = window.transcript.index(window.transcript.row_of(reply_id))
    assert index.data(ReadingRole) == tokens
    assert f"reading the conversation, {tokens:,} tokens" in _header(
        window.transcript.message_at(index.row()), tokens
    )
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        pass
    index = window.transcript.index(window.transcript.row_of(reply_id))
    assert index.data(ReadingRole) == 0  # the words came: no more "reading"
