"""Small defects a new user's walkthrough found (issue 19, first-week polish): each as the user
meets it, with the fake backend and a real store."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QInputDialog

from chatapp.domain import MessageStatus, Role
from chatapp.engine.backend import ChatMessage, GenerationSettings, ReplyResult
from chatapp.engine.fake import FakeBackend
from tests.ui.test_main_window import type_and_send
from tests.ui.writes import written


def _bubble_text(window, message_id: int) -> str:  # type: ignore[no-untyped-def]
    """The text drawn in a message's bubble, as the delegate lays it out."""
    row = window.transcript.row_of(message_id)
    msg = window.transcript.message_at(row)
    delegate = window.transcript_view.itemDelegate()
    return delegate._document(msg, 400, QFont()).toPlainText()


def test_the_window_title_follows_a_rename_and_the_auto_title(
    qtbot, make_window, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    assert window.windowTitle() == "New chat — chatapp"
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "What is the capital of France")
    titled = window.store.thread(window.current_thread).title
    assert titled and titled != "New chat"
    assert window.windowTitle() == f"{titled} — chatapp"  # auto-titled after the first message
    monkeypatch.setattr(QInputDialog, "getText", lambda *_a, **_k: ("Trip to Paris", True))
    window.rename_thread()  # F2
    written(qtbot, window)
    assert window.windowTitle() == "Trip to Paris — chatapp"


def _returns_nothing(fake: FakeBackend) -> None:
    """The model ends at once with no token (an EOS first), as a real model sometimes does."""

    def generate(
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event,
        on_text,  # type: ignore[no-untyped-def]
    ) -> ReplyResult:
        return ReplyResult(
            text="",
            finish_reason="stop",
            prompt_tokens=fake.count_tokens(messages),
            completion_tokens=0,
            seconds=0.01,
            time_to_first_token=0.01,
            tokens_per_second=0.0,
        )

    fake.generate = generate  # type: ignore[method-assign]


def test_an_empty_reply_says_so_and_is_not_drawn_as_waiting(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    _returns_nothing(fake)
    with qtbot.waitSignal(window.session.reply_done, timeout=5000) as done:
        type_and_send(qtbot, window, "hello")
    reply = done.args[0]
    assert reply.role == Role.ASSISTANT and reply.status == MessageStatus.COMPLETE
    assert reply.content == ""
    assert _bubble_text(window, reply.id) == "(empty reply)"
    assert window.store.message(reply.id).completion_tokens == 0  # a count, not NULL


def test_waiting_and_stopped_empty_replies_read_differently(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    thread = window.store.create_thread("t")
    user = window.store.add_message(thread.id, Role.USER, "hi")
    waiting = window.store.add_message(
        thread.id, Role.ASSISTANT, "", parent_id=user.id, status=MessageStatus.STREAMING
    )
    window.refresh_threads(select=thread.id)
    assert _bubble_text(window, waiting.id) == "…"
    window.store.update_message(waiting.id, status=MessageStatus.STOPPED)
    window.transcript.replace_message(window.store.message(waiting.id))
    shown = _bubble_text(window, waiting.id)
    assert "…" not in shown and "stopped" in shown


def test_the_last_prompt_tab_shows_the_shown_threads_own_prompt(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.memory_panel import NO_PROMPT

    window = make_window()
    panel = window.memory_panel
    first = window.store.create_thread("first")
    second = window.store.create_thread("second")
    window.refresh_threads(select=first.id)
    assert panel.context_label.text() == NO_PROMPT
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hello there")
    qtbot.waitUntil(lambda: panel.context_label.text().startswith("Prompt: "), timeout=3000)
    first_prompt = panel.context_label.text()
    window.refresh_threads(select=second.id)
    assert panel.context_label.text() == NO_PROMPT and panel.context_list.count() == 0
    window.refresh_threads(select=first.id)
    assert panel.context_label.text() == first_prompt


def test_the_reading_header_keeps_its_numbers_in_a_narrow_bubble(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFontMetrics

    from chatapp.domain import Message
    from chatapp.ui.transcript import MessageDelegate, _header, fitted_header

    reply = Message(
        id=1,
        thread_id=1,
        parent_id=None,
        role=Role.ASSISTANT,
        content="",
        created_at=1_700_000_000.0,
        status=MessageStatus.STREAMING,
        model="SmolLM2-135M-Instruct.Q4_1",
        version_index=2,
        version_count=2,
    )
    metrics = QFontMetrics(MessageDelegate.header_font(QFont()))
    full = _header(reply, 7900, 4600)
    assert fitted_header(reply, 7900, 4600, metrics, 10_000) == full  # room: nothing changes
    wanted = "4,600 / 7,900 tokens… (Esc stops)"
    for width in (
        int(metrics.horizontalAdvance(full) * 0.8),
        int(metrics.horizontalAdvance(full) * 0.6),
        metrics.horizontalAdvance(f"‹ 2/2 ›  ·  reading {wanted}") + 2,
    ):
        fitted = fitted_header(reply, 7900, 4600, metrics, width)
        assert wanted in fitted, (width, fitted)  # the numbers and how to stop stay readable
        assert metrics.horizontalAdvance(fitted) <= width
    narrowest = fitted_header(reply, 7900, 4600, metrics, 60)
    assert metrics.horizontalAdvance(narrowest) <= 60 and narrowest.endswith("…")


def test_version_arrows_still_work_in_a_narrow_window_with_the_panel_open(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QStyleOptionViewItem

    window = make_window()
    window.new_thread()
    written(qtbot, window)
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hi")
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.regenerate()
    window.memory_panel.show()
    window.resize(700, 600)
    qtbot.wait(50)
    view = window.transcript_view
    row = window.transcript.rowCount() - 1
    option = QStyleOptionViewItem()
    option.initFrom(view)
    option.rect = view.visualRect(window.transcript.index(row))
    arrows = view.itemDelegate().version_arrows(option, window.transcript.index(row))
    assert arrows is not None and arrows[0].right() < arrows[1].left() <= option.rect.right()


def test_busy_notices_quote_a_short_title_fit_the_bar_and_regenerate_asks_no_dialog(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication, QMessageBox

    fake.delay = 0.02
    window = make_window()
    window.resize(960, 680)
    long_title = "Hello! What is the capital of France, and why is it there?"
    writing = window.store.create_thread(long_title)
    window.refresh_threads(select=writing.id)
    fake.enqueue([" ".join(["long"] * 300)])
    type_and_send(qtbot, window, "go on")
    qtbot.waitUntil(lambda: window.session.busy, timeout=5000)
    other = window.store.create_thread("elsewhere")
    user = window.store.add_message(other.id, Role.USER, "hi")
    reply = window.store.add_message(other.id, Role.ASSISTANT, "hello", parent_id=user.id)
    window.refresh_threads(select=other.id)
    errors: list[str] = []
    window.session.error.connect(errors.append)

    type_and_send(qtbot, window, "meanwhile")
    notice = window.statusBar().currentMessage()
    assert "being written in “Hello! What is the capital of…”" in notice
    assert notice.endswith("send it when it ends, or stop it (Esc).")
    label = window.statusBar().message
    qtbot.waitUntil(lambda: label.text() == notice, timeout=2000)  # shown whole, not cut

    window.statusBar().clearMessage()
    window.regenerate()  # Ctrl+R
    assert "regenerate when it ends" in window.statusBar().currentMessage()
    window.statusBar().clearMessage()
    assert window.messages.regenerate(window.store.message(reply.id)) is False  # context menu
    assert "regenerate when it ends" in window.statusBar().currentMessage()
    assert not errors
    assert not [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]

    window.refresh_threads(select=writing.id)  # the notice spoke of the thread left
    assert window.statusBar().currentMessage() == ""
    window.stop_button.click()
    qtbot.waitUntil(lambda: not window.session.busy, timeout=10000)


def test_the_shortcuts_table_fits_without_a_sideways_scrollbar(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QTableWidget

    window = make_window()
    window.show_shortcuts()
    dialog = window._shortcuts_dialog
    qtbot.waitExposed(dialog)
    table = dialog.findChild(QTableWidget)
    assert table.rowCount() > 10
    assert not table.horizontalScrollBar().isVisible()
    assert table.viewport().width() >= table.columnWidth(0) + table.columnWidth(1)
    metrics = table.fontMetrics()
    for row in range(table.rowCount()):
        keys, what = table.item(row, 0).text(), table.item(row, 1).text()
        assert metrics.horizontalAdvance(keys) <= table.columnWidth(0)
        lines = -(-metrics.horizontalAdvance(what) // max(1, table.columnWidth(1) - 8))
        assert table.rowHeight(row) >= lines * metrics.lineSpacing(), what  # wrapped, not cut
    screen = window.screen().availableGeometry()
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()
    if dialog.height() < int(screen.height() * 0.8):  # room for every row: no scrolling at all
        assert table.verticalScrollBar().maximum() == 0
    dialog.close()


def test_saving_settings_says_only_what_applies(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.open_settings()
    dialog = window._settings_dialog
    dialog.theme.setCurrentText("dark" if dialog.theme.currentText() != "dark" else "light")
    dialog.accept()
    assert window.statusBar().currentMessage() == "Settings saved."
    window.open_settings()
    dialog = window._settings_dialog
    dialog.n_ctx.setValue(2048)
    dialog.accept()
    assert window.app_settings.n_ctx == 2048
    assert window.statusBar().currentMessage() == (
        "Settings saved. Model settings apply when a model is next loaded."
    )


def test_an_unticked_check_box_stands_out_in_the_dark_theme(qtbot, qapp) -> None:  # type: ignore[no-untyped-def]
    """Fusion draws the frame in the window colour made darker: on the dark window that was
    the colour of the box itself, and "Share facts about me" unticked vanished."""
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QCheckBox

    from chatapp.ui.theme import apply_theme

    apply_theme(qapp, "dark")
    box = QCheckBox("Share facts about me")
    qtbot.addWidget(box)
    box.ensurePolished()  # a widget takes its class's palette when it is polished
    role = QPalette.ColorRole
    frame = box.palette().color(role.Window).darker(140)
    around = qapp.palette().color(role.Window)  # the panel the box sits on
    inside = box.palette().color(role.Base)
    assert abs(frame.lightness() - around.lightness()) >= 40
    assert abs(frame.lightness() - inside.lightness()) >= 40
    assert box.palette().color(role.WindowText) == qapp.palette().color(role.WindowText)
    apply_theme(qapp, "light")
    light = QCheckBox()
    qtbot.addWidget(light)
    light.ensurePolished()
    assert light.palette().color(role.Window) == qapp.palette().color(role.Window)
