"""The conversation surface after the second new-user walkthrough: search reaches every
version, deleting a message defaults to No, Esc leaves the search box, Ctrl+Enter sends an edit.
Each with the fake backend and a real store."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from chatapp.engine.fake import FakeBackend
from tests.ui.test_main_window import type_and_send
from tests.ui.writes import written


def shown(window) -> list[str]:  # type: ignore[no-untyped-def]
    t = window.transcript
    return [t.message_at(r).content for r in range(t.rowCount())]


def test_search_finds_an_earlier_reply_and_opening_it_shows_that_version(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    fake.enqueue(["The moon was a mysterious creature.", "Felix the fox ran home."])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "Write a story about a fox.")
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.regenerate_action.trigger()
    assert shown(window)[-1] == "Felix the fox ran home."
    window.search_box.setText("moon")
    qtbot.waitUntil(
        lambda: (
            window.search_list.isVisible()
            and window.search_list.item(0).data(Qt.ItemDataRole.UserRole) is not None
        ),
        timeout=5000,
    )
    item = window.search_list.item(0)
    assert "another version (not the one shown)" in item.text()
    window.search.open_hit(item)
    written(qtbot, window)
    assert shown(window)[-1] == "The moon was a mysterious creature."  # switched to it
    current = window.transcript.message_at(window.transcript_view.currentIndex().row())
    assert current.content.startswith("The moon") and current.version_index == 1


def test_deleting_a_message_asks_with_no_as_the_default(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "keep me")
    message = window.transcript.message_at(0)
    seen: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            seen.append(f"no message box: {box!r}")
            return
        no = box.button(QMessageBox.StandardButton.No)
        seen.append("No" if no is not None and box.defaultButton() is no else "other")
        qtbot.keyClick(box, Qt.Key.Key_Return)  # Enter takes the default

    QTimer.singleShot(0, answer)
    window.messages.delete(message)
    assert seen[-1] == "No"
    assert shown(window)[0] == "keep me"  # Enter did not delete


def test_an_over_long_message_names_its_length_and_leaves_no_failed_bubble(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    errors: list[str] = []
    window.session.error.connect(errors.append)
    long_text = " ".join(["word"] * 5000)  # the fake counts words: 5,000 in a 4,096 context
    window.composer.setPlainText(long_text)
    with qtbot.waitSignal(window.session.reply_done, timeout=10000):
        window.send()
    assert errors and "Your message is too long" in errors[-1]
    assert (
        "5007 tokens" in errors[-1]
    )  # the fake: words + 4 a message + 3 and "4096 tokens" in errors[-1]
    assert "system prompt" not in errors[-1].split("\n")[0]  # none was set: not blamed
    assert shown(window) == [long_text]  # kept in the thread, no empty "failed" reply under it
    path = window.store.path(window.current_thread)
    assert [m.content for m in path] == [long_text]
    assert window.composer.toPlainText() == ""


def test_a_failed_regeneration_brings_back_the_reply_it_would_have_replaced(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.errors import GenerationError

    window = make_window()
    window.new_thread()
    written(qtbot, window)
    fake.enqueue(["first answer", GenerationError("The model failed while replying.")])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "question")
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.regenerate_action.trigger()
    assert shown(window) == ["question", "first answer"]
    assert window.transcript.message_at(1).version_count == 1


def test_a_replys_single_line_breaks_are_kept_in_the_window(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFont

    window = make_window()
    window.new_thread()
    written(qtbot, window)
    fake.enqueue(["Roses are red,\nviolets are blue.\n\n- a list\n- stays"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000) as done:
        type_and_send(qtbot, window, "a poem please")
    msg = window.transcript.message_at(window.transcript.row_of(done.args[0].id))
    doc = window.transcript_view.itemDelegate()._document(msg, 400, QFont())
    lines = doc.toPlainText().split("\n")
    assert lines[:2] == ["Roses are red,", "violets are blue."]  # two lines, not one paragraph
    block = doc.begin()
    while block.isValid() and block.text() != "a list":
        block = block.next()
    assert block.isValid() and block.textList() is not None  # the list is still a list


def _stored_reply(window, text: str, status):  # type: ignore[no-untyped-def]
    from chatapp.domain import Role

    thread = window.store.create_thread("code")
    window.store.add_message(thread.id, Role.USER, "code please")
    reply = window.store.add_message(thread.id, Role.ASSISTANT, text, status=status)
    window.refresh_threads(select=thread.id)
    return window.transcript.message_at(window.transcript.row_of(reply.id))


def test_an_unclosed_code_fence_still_has_its_copy_button(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    from chatapp.domain import MessageStatus
    from chatapp.ui.highlight import code_blocks

    window = make_window()
    text = "Here it is:\n```python\nprint('hi')\nx = 2"
    assert code_blocks(text) == ["print('hi')\nx = 2"]
    assert code_blocks("```python") == [] and code_blocks("```python\n") == []
    assert code_blocks("```\na\n```\ntext") == ["a"]  # a closed one as before
    msg = _stored_reply(window, text, MessageStatus.STOPPED)
    index = window.transcript.index(window.transcript.row_of(msg.id))
    delegate = window.transcript_view.itemDelegate()
    buttons = delegate.code_buttons(window.messages.option(index), index)
    assert [code for _area, code in buttons] == ["print('hi')\nx = 2"]
    copied: list[str] = []
    window.messages.copy = copied.append  # type: ignore[method-assign]
    qtbot.mouseClick(
        window.transcript_view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=buttons[0][0].center().toPoint(),
    )
    assert copied == ["print('hi')\nx = 2"]


def test_a_reply_with_only_an_opening_fence_is_not_blank(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFont

    from chatapp.domain import MessageStatus

    window = make_window()
    delegate = window.transcript_view.itemDelegate()
    for status, said in [
        (MessageStatus.STOPPED, "(stopped before any text)"),
        (MessageStatus.STREAMING, "…"),
    ]:
        msg = _stored_reply(window, "```python", status)
        assert delegate._document(msg, 400, QFont()).toPlainText() == said


def test_esc_in_the_search_box_clears_it_and_returns_to_the_composer(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "find this otter")
    window.activateWindow()
    window.search.focus()
    qtbot.keyClicks(window.search_box, "otter")
    qtbot.waitUntil(lambda: window.search_list.isVisible(), timeout=5000)
    qtbot.keyClick(window.search_box, Qt.Key.Key_Escape)
    assert window.search_box.text() == ""
    assert not window.search_list.isVisible() and window.search_list.count() == 0
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.composer, timeout=2000)
    qtbot.wait(400)  # the search timer, had it been left running, would show results again
    assert not window.search_list.isVisible()


def test_edit_and_resend_sends_with_ctrl_enter(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.message_actions import EditDialog

    window = make_window()
    window.new_thread()
    written(qtbot, window)
    fake.enqueue(["first", "second"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "old question")
    message = window.transcript.message_at(0)
    typed: list[str] = []

    def type_in_dialog() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, EditDialog):
            typed.append(f"no edit dialog: {dialog!r}")
            return
        dialog.editor.selectAll()
        qtbot.keyClicks(dialog.editor, "new question")
        qtbot.keyClick(dialog.editor, Qt.Key.Key_Return)  # Enter: a new line, not send
        qtbot.keyClicks(dialog.editor, "line two")
        typed.append(dialog.text())
        qtbot.keyClick(dialog.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)

    QTimer.singleShot(0, type_in_dialog)
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.messages.edit(message)
    assert typed == ["new question\nline two"]
    assert shown(window) == ["new question\nline two", "second"]
    assert window.transcript.message_at(0).version_count == 2  # the old one is kept


def test_every_streamed_piece_is_stored_before_it_is_shown(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    fake.delay = 0.01  # several of the engine's batches
    fake.enqueue([" ".join(f"w{i}" for i in range(80))])
    checks: list[bool] = []

    def on_text(message_id: int, text: str) -> None:
        # what a hard kill at this moment would leave on disk: everything on screen (the
        # store's writer may already hold a newer piece, never an older one)
        checks.append(window.store.message(message_id).content.startswith(text))

    window.session.reply_text.connect(on_text)
    with qtbot.waitSignal(window.session.reply_done, timeout=10000):
        type_and_send(qtbot, window, "count")
    assert len(checks) >= 3 and all(checks)


def test_what_a_chatgpt_import_left_out_is_listed_whole_in_a_window(
    qtbot, make_window, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import json

    from PySide6.QtWidgets import QPlainTextEdit

    from tests.unit.export.test_import_hostile import conversation, node

    good = conversation(
        {"u": node(None, "user", "hello there", ["a"]), "a": node("u", "assistant", "hi!")},
        title="Kept",
        current_node="a",
    )
    skipped = [{"title": f"Broken {i} " + "long title " * 8} for i in range(12)]
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([good, *skipped]), encoding="utf-8")
    window = make_window(load=False)
    with qtbot.waitSignal(window.files.import_done, timeout=30000) as blocker:
        window.run_import(path)
    assert blocker.args[0].startswith("Imported 1 thread(s)") and "12 thing(s)" in blocker.args[0]
    dialog = window.files.report_dialog
    assert dialog is not None and dialog.isVisible()
    listing = dialog.findChild(QPlainTextEdit).toPlainText().split("\n")
    assert len(listing) == 12  # every one, none cut off
    assert all("was skipped" in line for line in listing)
    assert "Broken 11 " in listing[-1] and listing[-1].endswith("it has no message mapping.")
    assert [t.title for t in window.store.threads()] == ["Kept"]


def test_no_two_items_of_a_menu_share_a_mnemonic(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    import re

    window = make_window(load=False)
    menus = [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    assert len(menus) >= 4
    for menu in menus:
        keys = []
        for action in menu.actions():
            found = re.search(r"&([^&])", action.text())
            if found and action.isVisible():
                keys.append(found.group(1).lower())
        assert len(keys) == len(set(keys)), f"{menu.title()}: {keys}"


def _luminance_contrast(a, b) -> float:  # type: ignore[no-untyped-def]
    """WCAG 2 contrast ratio, computed here rather than with the code under test."""

    def lum(c) -> float:  # type: ignore[no-untyped-def]
        ch = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c.getRgbF()[:3]]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_selected_message_outline_stands_out_in_both_themes(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    """Painted pixels: the outline of the keyboard-selected bubble against the bubble's own
    colour reaches WCAG's 3:1 for non-text marks, on the user's and the model's bubble."""
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyle

    from chatapp.domain import Role
    from chatapp.ui import theme

    window = make_window(load=False)
    thread = window.store.create_thread("t")
    window.store.add_message(thread.id, Role.USER, "my words")
    window.store.add_message(thread.id, Role.ASSISTANT, "its words")
    window.refresh_threads(select=thread.id)
    delegate = window.transcript_view.itemDelegate()
    for dark in (True, False):
        for row in (0, 1):
            index = window.transcript.index(row)
            option = window.messages.option(index)
            option.palette = theme.palette(dark)
            option.rect = QRect(0, 0, 500, option.rect.height())
            option.state |= QStyle.StateFlag.State_Selected
            image = QImage(500, option.rect.height(), QImage.Format.Format_RGB32)
            image.fill(option.palette.color(option.palette.ColorRole.Base))
            painter = QPainter(image)
            delegate.paint(painter, option, index)
            painter.end()
            msg = window.transcript.message_at(row)
            bubble = delegate._bubble_rect(option, msg, False)
            y = int(bubble.center().y())
            fill = image.pixelColor(int(bubble.center().x()), int(bubble.bottom()) - 4)
            edge = max(
                (image.pixelColor(x, y) for x in range(int(bubble.left()), int(bubble.left()) + 4)),
                key=lambda c: _luminance_contrast(c, fill),
            )
            ratio = _luminance_contrast(edge, fill)
            assert ratio >= 3.0, (dark, row, ratio, edge.name(), fill.name())


def test_version_arrows_are_buttons_of_a_usable_size(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    fake.enqueue(["answer A", "answer B"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "question")
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.regenerate_action.trigger()
    index = window.transcript.index(1)
    delegate = window.transcript_view.itemDelegate()
    prev, nxt = delegate.version_arrows(window.messages.option(index), index)
    assert prev.height() >= 24 and nxt.height() >= 24
    assert prev.width() >= 20 and nxt.width() >= 20, (prev, nxt)  # was ~6 px around the glyph
    assert prev.right() <= nxt.left()
    # a click near the edge of ‹, well off the glyph, still switches
    edge = prev.adjusted(2, 2, -2, -2).topLeft().toPoint()
    qtbot.mouseClick(window.transcript_view.viewport(), Qt.MouseButton.LeftButton, pos=edge)
    written(qtbot, window)
    assert shown(window) == ["question", "answer A"]
