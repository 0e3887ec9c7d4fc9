"""The defects of a new user's first week (issue 19): each one as the user would meet it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from chatapp.config.settings import AppSettings
from chatapp.domain import Role
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.store import Store
from tests.ui.test_main_window import shown, type_and_send
from tests.ui.writes import written


def test_drafts_survive_quit_and_restart(
    qtbot, make_window, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    drafts = {}
    for text in ("first unsent", "second\nwith two lines", "third ✓"):
        window.store.create_thread(text.split()[0])  # named: a new chat would reuse an unnamed one
        window._refresh_threads(select=window.store.threads()[0].id)
        first, _, rest = text.partition("\n")
        qtbot.keyClicks(window.composer, first.replace(" ✓", ""))
        if rest:  # Shift+Enter, then the second line
            qtbot.keyClick(window.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
            qtbot.keyClicks(window.composer, rest)
        if "✓" in text:
            window.composer.insertPlainText(" ✓")  # keyClicks types ASCII only
        assert window.composer.toPlainText() == text
        drafts[window._current_thread] = text
    window.close()  # Ctrl+Q
    window.store.close()
    again = make_window(Store.open(tmp_path / "ui.sqlite3"))
    for thread_id, text in drafts.items():
        again._refresh_threads(select=thread_id)
        assert again.composer.toPlainText() == text


def test_a_draft_is_saved_while_typing_without_a_quit(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.drafts.timer.setInterval(50)
    window.new_thread()
    written(qtbot, window)
    qtbot.keyClicks(window.composer, "crash-proof")
    qtbot.waitUntil(
        lambda: window.store.draft(window._current_thread) == "crash-proof", timeout=3000
    )
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "")  # Enter sends it
    qtbot.waitUntil(lambda: window.store.draft(window._current_thread) == "", timeout=3000)
    assert shown(window)[0] == ("user", "crash-proof")


def test_the_composer_has_the_focus_when_the_window_appears(qtbot, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.main_window import MainWindow

    store = Store.open(tmp_path / "f.sqlite3")
    t = store.create_thread("yesterday's")
    store.add_message(t.id, Role.USER, "hello")
    settings = QSettings(str(tmp_path / "f.ini"), QSettings.Format.IniFormat)
    settings.setValue("quiet_errors", True)
    settings.setValue("last_thread", t.id)
    window = MainWindow(store, engine, ModelSpec("fake-model.gguf"), settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.composer, timeout=3000)
    # typed at once, while the model is still loading: every key lands in the composer
    qtbot.keyClicks(QApplication.focusWidget(), "typed at once")
    qtbot.waitUntil(lambda: window.session.model_info is not None, timeout=5000)
    window._refresh_threads()  # what a model load or a reply does to the list
    assert window.composer.toPlainText() == "typed at once"
    window.close()
    store.close()


def test_text_typed_before_any_thread_goes_with_the_new_chat(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window._current_thread is None
    qtbot.keyClicks(window.composer, "before a thread")
    window.new_action.trigger()
    written(qtbot, window)
    assert window._current_thread is not None
    assert window.composer.toPlainText() == "before a thread"


def test_ctrl_n_does_not_pile_up_empty_chats(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    for _ in range(4):
        window.new_action.trigger()
    written(qtbot, window)
    assert window.threads_model.rowCount() == 1
    fake.enqueue(["hello back"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hello")
    used = window._current_thread
    window.new_action.trigger()
    window.new_action.trigger()
    written(qtbot, window)
    assert window.threads_model.rowCount() == 2 and window._current_thread != used
    assert window.composer.toPlainText() == ""


def test_theme_dark_and_light_are_applied_at_once(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.settings_path = tmp_path / "settings.json"
    try:
        for theme, dark in (("dark", True), ("light", False), ("dark", True)):
            window.open_settings()
            window._settings_dialog.theme.setCurrentText(theme)
            window._settings_dialog.accept()
            view = window.transcript_view

            def applied(view=view, dark=dark) -> bool:  # type: ignore[no-untyped-def]
                base = view.palette().color(QPalette.ColorRole.Base).lightness()
                return (base < 60) if dark else (base > 200)

            qtbot.waitUntil(applied, timeout=1000)  # the next turn of the event loop
            qtbot.wait(20)  # the repaint
            image = window.grab().toImage()
            lightness = [
                image.pixelColor(x, y).lightness()
                for x in range(0, image.width(), 23)
                for y in range(0, image.height(), 19)
            ]
            mean = sum(lightness) / len(lightness)
            assert (mean < 90) if dark else (mean > 190), (theme, mean)
            text = window.transcript_view.palette().color(window.transcript_view.foregroundRole())
            assert (text.lightness() > 180) if dark else (text.lightness() < 80)
        assert AppSettings.load(tmp_path / "settings.json").theme == "dark"
    finally:
        window.app_settings.theme = "system"
        window.apply_appearance()


def test_the_dark_theme_is_there_after_a_restart(qtbot, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.main_window import MainWindow

    store = Store.open(tmp_path / "t.sqlite3")
    settings = QSettings(str(tmp_path / "t.ini"), QSettings.Format.IniFormat)
    try:
        window = MainWindow(store, engine, None, settings, app_settings=AppSettings(theme="dark"))
        qtbot.addWidget(window)
        assert (
            QGuiApplication.palette().color(QGuiApplication.palette().ColorRole.Window).lightness()
            < 60
        )
        view = window.transcript_view
        qtbot.waitUntil(
            lambda: view.palette().color(QPalette.ColorRole.Base).lightness() < 60, timeout=1000
        )
        window.app_settings.theme = "system"
        window.apply_appearance()
        window.close()
    finally:
        store.close()


def test_font_sizes_are_readable_and_everything_scales(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QStyleOptionViewItem

    window = make_window()
    window.open_settings()
    box = window._settings_dialog.font_size
    assert box.text() == "system"
    box.stepBy(1)
    assert box.value() >= 9  # not 1 pt
    box.setValue(9)
    box.stepBy(-1)
    assert box.text() == "system" and box.points() == 0
    assert (box.minimum(), box.maximum()) == (8, 24) and box.specialValueText() == "system"
    window._settings_dialog.reject()

    fake.enqueue(["a reply"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hi")
    delegate = window.transcript_view.itemDelegate()
    thread_delegate = window.thread_view.itemDelegate()
    heights = {}
    try:
        for size in (9, 24):
            window.app_settings.font_size = size
            window.apply_appearance()
            option = QStyleOptionViewItem()
            option.font = window.transcript_view.font()
            option.rect = window.transcript_view.visualRect(window.transcript.index(1))
            header_font = delegate.header_font(option.font)
            heights[size] = (
                delegate.header_height(option.font),
                delegate.sizeHint(option, window.transcript.index(1)).height(),
                thread_delegate.heading_height(window.thread_view.font()),
                header_font.pointSizeF(),
            )
            from PySide6.QtGui import QFontMetrics

            assert delegate.header_height(option.font) >= QFontMetrics(header_font).height()
    finally:
        window.app_settings.font_size = 0
        window.apply_appearance()
    (header9, row9, heading9, points9), (header24, row24, heading24, points24) = (
        heights[9],
        heights[24],
    )
    assert points24 > points9 * 2.5 and header24 > header9 * 2 and heading24 > heading9 * 2, heights
    assert row24 - row9 >= header24 - header9, heights  # the header's room grows with its font


def test_two_deletes_keep_the_second_undo_for_its_whole_time(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.UNDO_MS = 600
    for title in ("one", "two", "three"):
        window.store.create_thread(title)
    window._refresh_threads(select=window.store.threads()[0].id)
    window.delete_thread()
    qtbot.wait(400)
    window._refresh_threads(select=window.store.threads()[0].id)
    second = window._current_thread
    window.delete_thread()
    qtbot.wait(350)  # past the first delete's 600 ms
    assert window.undo.button.isVisible()
    qtbot.mouseClick(window.undo.button, Qt.MouseButton.LeftButton)
    written(qtbot, window)
    assert window._current_thread == second
    qtbot.waitUntil(lambda: not window.undo.button.isVisible(), timeout=2000)
    window.delete_thread()
    qtbot.waitUntil(lambda: not window.undo.button.isVisible(), timeout=2000)


def _long_thread(store: Store, title: str, n: int = 30) -> int:
    t = store.create_thread(title)
    for i in range(n):
        store.add_message(t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"line {i}\n" * 6)
    return t.id


def test_a_thread_opens_at_its_end_after_a_restart(qtbot, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.main_window import MainWindow

    store = Store.open(tmp_path / "r.sqlite3")
    thread = _long_thread(store, "long")
    settings = QSettings(str(tmp_path / "r.ini"), QSettings.Format.IniFormat)
    settings.setValue("last_thread", thread)
    window = MainWindow(store, engine, None, settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    bar = window.transcript_view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=3000)
    last = window.transcript_view.visualRect(
        window.transcript.index(window.transcript.rowCount() - 1)
    )
    assert last.bottom() <= window.transcript_view.viewport().height() + 2
    window.close()
    store.close()


def test_the_transcript_follows_a_reply_after_coming_back_to_its_thread(
    qtbot, make_window, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "ui.sqlite3")
    first = _long_thread(store, "streaming here")
    other = _long_thread(store, "elsewhere")
    window = make_window(store)
    window._refresh_threads(select=first)
    fake.delay = 0.01
    fake.enqueue([" ".join(f"word{i}" + ("\n" if i % 8 == 0 else "") for i in range(300))])
    type_and_send(qtbot, window, "a long answer please")
    qtbot.waitUntil(lambda: "word20" in shown(window)[-1][1], timeout=5000)
    window._refresh_threads(select=other)
    qtbot.wait(100)
    window._refresh_threads(select=first)
    bar = window.transcript_view.verticalScrollBar()
    with qtbot.waitSignal(window.session.reply_done, timeout=20000):
        pass
    qtbot.waitUntil(lambda: bar.value() == bar.maximum(), timeout=3000)
    assert "word299" in shown(window)[-1][1]
    # scrolled up by the user: the view stays where they are
    fake.enqueue([" ".join(f"more{i}\n" for i in range(200))])
    type_and_send(qtbot, window, "again")
    qtbot.waitUntil(lambda: "more10" in shown(window)[-1][1], timeout=5000)
    bar.setValue(bar.maximum() // 3)
    kept = bar.value()
    with qtbot.waitSignal(window.session.reply_done, timeout=20000):
        pass
    qtbot.wait(50)
    assert bar.value() == kept < bar.maximum()


def test_status_messages_are_not_cut_under_the_labels(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.resize(700, 500)
    window.context_label.setText("Context 1234/8192")
    bar = window.statusBar()
    target = "/tmp/ι/a folder with a long name/another folder/the export of my thread.md"
    bar.showMessage(f"Exported to {target}", 10000)
    label = bar.message
    qtbot.waitUntil(lambda: label.isVisible() and label.width() > 0, timeout=2000)
    shown_text = label.text()
    assert label.toolTip() == f"Exported to {target}" and bar.currentMessage() == label.toolTip()
    assert label.fontMetrics().horizontalAdvance(shown_text) <= label.contentsRect().width()
    assert shown_text.startswith("Exported") and shown_text.endswith("thread.md")  # elided mid
    assert label.geometry().right() < window.context_label.geometry().left()
    assert label.geometry().right() < window.model_label.geometry().left()


def test_an_old_error_goes_after_a_later_success(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.show_error("The export failed: disk full.")
    assert window.statusBar().currentMessage().startswith("⚠")
    fake.enqueue(["fine now"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hello")
    assert not window.statusBar().currentMessage().startswith("⚠")
    window.statusBar().showMessage("Copied.", 2000)  # other messages are left alone
    window._statusbar().clear_error()
    assert window.statusBar().currentMessage() == "Copied."


def test_version_arrows_switch_versions_when_clicked(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QStyleOptionViewItem

    window = make_window()
    fake.enqueue(["answer A", "answer B"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "question")
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.regenerate_action.trigger()
    assert shown(window)[-1] == ("assistant", "answer B")

    def arrows() -> tuple:  # type: ignore[type-arg]
        index = window.transcript.index(1)
        option = QStyleOptionViewItem()
        option.rect = window.transcript_view.visualRect(index)
        option.font = window.transcript_view.font()
        return window.transcript_view.itemDelegate().version_arrows(option, index)

    previous, following = arrows()
    viewport = window.transcript_view.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=following.center().toPoint())
    assert shown(window)[-1] == ("assistant", "answer B")  # already the last: nothing happens
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=previous.center().toPoint())
    written(qtbot, window)
    assert shown(window)[-1] == ("assistant", "answer A")
    previous, following = arrows()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=following.center().toPoint())
    written(qtbot, window)
    assert shown(window)[-1] == ("assistant", "answer B")
    body = window.transcript_view.visualRect(window.transcript.index(1)).center()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=QPoint(body.x(), body.y() + 5))
    assert shown(window)[-1] == ("assistant", "answer B")  # a click elsewhere only selects


@pytest.fixture(autouse=True)
def _system_theme_after():  # type: ignore[no-untyped-def]
    yield
    from chatapp.ui.theme import apply_theme

    app = QGuiApplication.instance()
    if app is not None:
        apply_theme(app, "system")


def test_system_gives_the_platform_its_palette_back(qapp) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.theme import apply_theme

    original = QGuiApplication.palette().color(QPalette.ColorRole.Window).name()
    assert (
        apply_theme(qapp, "dark")
        and QGuiApplication.palette().color(QPalette.ColorRole.Window).name() == "#202124"
    )
    apply_theme(qapp, "system")  # the offscreen platform reports no colour scheme
    assert QGuiApplication.palette().color(QPalette.ColorRole.Window).name() == original
