"""Model handling as a new user meets it: sending with no model loaded, choosing the model
the list shows, a thread's model after a restart, files that cannot be loaded, the welcome
text."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt

from chatapp.config.settings import AppSettings
from chatapp.domain import Role
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.store import Store
from tests.ui.test_main_window import type_and_send
from tests.ui.writes import written


def _window(qtbot, engine, tmp_path: Path, spec: ModelSpec | None, store: Store | None = None):  # type: ignore[no-untyped-def]
    from chatapp.ui.main_window import MainWindow

    store = store or Store.open(tmp_path / "s.sqlite3")
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    settings.setValue("quiet_errors", True)
    app_settings = AppSettings.load(tmp_path / "settings.json")
    if spec is not None:
        with qtbot.waitSignal(engine.loaded, timeout=5000):
            window = MainWindow(
                store,
                engine,
                spec,
                settings,
                app_settings=app_settings,
                settings_path=tmp_path / "settings.json",
            )
    else:
        window = MainWindow(
            store,
            engine,
            spec,
            settings,
            app_settings=app_settings,
            settings_path=tmp_path / "settings.json",
        )
    qtbot.addWidget(window)
    window.show()
    return window, store


def _user_messages(store: Store, thread_id: int) -> list[str]:
    return [m.content for m in store.path(thread_id) if m.role == Role.USER]


def _pick(window, label: str) -> None:  # type: ignore[no-untyped-def]
    combo = window.model_picker.combo
    index = [combo.itemText(i) for i in range(combo.count())].index(label)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_a_message_sent_with_no_model_stays_in_the_box_and_is_not_saved(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "alpha.gguf"
    window, store = _window(qtbot, engine, tmp_path, ModelSpec(str(model)))
    window.new_thread()
    written(qtbot, window)
    thread_id = window.current_thread
    errors: list[str] = []
    window.session.error.connect(errors.append)
    with qtbot.waitSignal(engine.unloaded, timeout=5000):
        engine.unload()
    type_and_send(qtbot, window, "Are you there?")
    assert errors and errors[0].startswith("No model is loaded")
    assert _user_messages(store, thread_id) == []  # nothing half-done
    assert window.composer.toPlainText() == "Are you there?"  # kept for the retry
    # the list still names the thread's model; choosing it loads it although it is "shown"
    qtbot.waitUntil(lambda: window.model_picker.combo.currentText() == "alpha.gguf", timeout=5000)
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        _pick(window, "alpha.gguf")
    fake.enqueue(["Yes."])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    assert _user_messages(store, thread_id) == ["Are you there?"]  # once, not twice
    assert window.composer.toPlainText() == ""


def test_a_thread_opens_with_the_model_that_answered_it_after_a_restart(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    builtin, mine = tmp_path / "builtin.gguf", tmp_path / "mycopy.gguf"
    window, store = _window(qtbot, engine, tmp_path, ModelSpec(str(builtin)))
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window.load_path(str(mine))  # for the thread open then (none: the first start)
    window.new_thread()
    written(qtbot, window)
    thread_id = window.current_thread
    fake.enqueue(["Hello."])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "Hi")
    window.close()
    # the restart: the app's start-up model is the built-in one again
    with qtbot.waitSignal(engine.loaded, timeout=5000) as blocker:
        again, _ = _window(qtbot, engine, tmp_path, ModelSpec(str(builtin)), store)
    assert again.current_thread == thread_id
    assert blocker.args[0].path == str(mine)
    qtbot.waitUntil(lambda: again.model_picker.combo.currentText() == "mycopy.gguf", timeout=5000)


def _items(window) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    """The list's labels and whether each can be picked."""
    combo = window.model_picker.combo
    model = combo.model()
    return {combo.itemText(i): model.item(i).isEnabled() for i in range(combo.count())}


def test_the_list_marks_files_that_are_not_models_or_failed_to_load(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.config import paths
    from chatapp.errors import ModelLoadError

    models = paths.models_dir(tmp_path)
    models.mkdir(parents=True)
    good, truncated = models / "good.gguf", models / "truncated.gguf"
    good.write_bytes(b"GGUF")
    truncated.write_bytes(b"GGUF" + b"\0" * 16)
    (models / "notamodel.gguf").write_text("this is not a model\n")
    window, _store = _window(qtbot, engine, tmp_path, ModelSpec(str(good)))
    qtbot.waitUntil(lambda: "notamodel.gguf — cannot be loaded" in _items(window), timeout=5000)
    items = _items(window)
    assert items["notamodel.gguf — cannot be loaded"] is False  # shown, not offered
    assert items["truncated.gguf"] is True and items["good.gguf"] is True
    tip = window.model_picker.combo.itemData(
        list(items).index("notamodel.gguf — cannot be loaded"), Qt.ItemDataRole.ToolTipRole
    )
    assert "not a GGUF model" in tip or "content is not" in tip
    # a file whose load fails is marked from then on (until it changes on disk)
    fake.load_error = ModelLoadError("truncated.gguf could not be loaded: the file is damaged.")
    with qtbot.waitSignal(engine.load_failed, timeout=5000):
        _pick(window, "truncated.gguf")
    qtbot.waitUntil(lambda: "truncated.gguf — cannot be loaded" in _items(window), timeout=5000)
    assert _items(window)["truncated.gguf — cannot be loaded"] is False
    truncated.write_bytes(b"GGUF" + b"\0" * 64)  # downloaded again: offered again
    window.model_picker.relist()
    qtbot.waitUntil(lambda: _items(window).get("truncated.gguf") is True, timeout=5000)


def test_the_welcome_text_names_the_model_in_use(
    qtbot, engine, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    window, _store = _window(qtbot, engine, tmp_path, ModelSpec(str(default_model)))
    assert window.welcome.isVisible()
    assert "built-in model, SmolLM2-135M" in window.welcome.text()
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window.load_path(str(tmp_path / "mycopy.gguf"))
    text = window.welcome.text()
    assert "mycopy" in text and "SmolLM2" not in text
    with qtbot.waitSignal(engine.unloaded, timeout=5000):
        engine.unload()
    assert "No model is loaded" in window.welcome.text()


def test_a_server_that_fails_to_connect_is_not_remembered(qtbot, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    import keyring
    from keyring.backends import fail

    window, _store = _window(qtbot, engine, tmp_path, ModelSpec(str(tmp_path / "a.gguf")))
    window.models.save_settings()
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        window.connect_server()
        dialog = window.model_dialogs.endpoint_dialog
        # what Privacy says when no keyring works: the key is not kept
        assert "no system keyring here" in dialog.remember.text()
        assert "goes to the system keyring" not in dialog.remember.text()
        assert dialog.remember.isChecked()
        dialog.name.setText("My server")
        dialog.url.setText("http://127.0.0.1:9/v1")  # nothing listens there
        dialog.timeout.setValue(2)
        with qtbot.waitSignal(engine.load_failed, timeout=20000):
            dialog.accept()
    finally:
        keyring.set_keyring(previous)
    assert window.app_settings.endpoints == []
    saved = json.loads((tmp_path / "settings.json").read_text())
    assert not saved.get("endpoints")
    labels = [
        window.model_picker.combo.itemText(i) for i in range(window.model_picker.combo.count())
    ]
    assert not any("My server" in label for label in labels)


def test_model_settings_with_a_custom_template_fit_the_screen(qtbot, default_model: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QDialogButtonBox

    from chatapp.config.model_settings import ModelSettings
    from chatapp.engine.gguf_meta import read_header
    from chatapp.ui.model_settings_dialog import CUSTOM_TEMPLATE, ModelSettingsDialog

    dialog = ModelSettingsDialog(
        read_header(default_model),
        ModelSettings(),
        gpu_available=False,
        rpc_available=False,
        free=8 * 2**30,
    )
    qtbot.addWidget(dialog)
    font = dialog.font()
    font.setPointSize(font.pointSize() + 5)  # taller than the 800 px offscreen screen, as the
    dialog.setFont(font)  # normal font is on a 768 px one
    dialog.show()
    dialog.template.setCurrentText(CUSTOM_TEMPLATE)
    qtbot.waitUntil(lambda: dialog.template_text.isVisible(), timeout=2000)
    room = dialog.screen().availableGeometry().height()
    assert dialog._content.sizeHint().height() > room  # the case the dialog must handle
    qtbot.waitUntil(lambda: dialog.height() <= room, timeout=2000)
    assert dialog.frameGeometry().height() <= room
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    bottom = save.mapTo(dialog, save.rect().bottomLeft()).y()
    assert save.isVisible() and bottom < dialog.height()  # Save can be reached
    # what does not fit scrolls, and the last row can be scrolled to
    dialog.scroll.ensureWidgetVisible(dialog.sampling)
    assert dialog.sampling.visibleRegion().boundingRect().height() > 0


def test_the_status_bar_speaks_of_the_shown_thread_and_keeps_its_context_after_a_failure(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window, _store = _window(qtbot, engine, tmp_path, ModelSpec(str(tmp_path / "a.gguf")))
    window.new_thread()
    written(qtbot, window)
    first = window.current_thread
    fake.enqueue(["Paris is the capital of France."])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "What is the capital of France?")
    context, speed = window.context_label.text(), window.speed_label.text()
    assert context.startswith("Context ") and speed.endswith("tokens/s")
    fake.enqueue([RuntimeError("the model process stopped")])  # a reply cut off, no count
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "And of Spain?")
    assert window.context_label.text() == context  # the last count still tells
    window.store.create_thread("another")
    window.refresh_threads(select=window.store.threads()[0].id)
    assert window.current_thread != first
    assert window.speed_label.text() == ""  # not the other thread's speed
    window.refresh_threads(select=first)
    assert window.speed_label.text() == speed


def test_edit_and_resend_with_no_model_says_so_before_the_editing(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Review: the edit dialog closed, then the no-model refusal threw the edited text away."""
    from PySide6.QtWidgets import QApplication

    window, store = _window(qtbot, engine, tmp_path, ModelSpec(str(tmp_path / "alpha.gguf")))
    window.new_thread()
    written(qtbot, window)
    thread_id = window.current_thread
    fake.enqueue(["first"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "old question")
    with qtbot.waitSignal(engine.unloaded, timeout=5000):
        engine.unload()
    shown: list[str] = []
    window.show_error = shown.append  # type: ignore[method-assign]
    window.messages.edit(window.transcript.message_at(0))  # returns: no dialog to wait for
    assert QApplication.activeModalWidget() is None
    assert shown and shown[0].startswith("No model is loaded")
    assert _user_messages(store, thread_id) == ["old question"]
