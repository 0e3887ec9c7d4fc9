"""The window with a scripted backend: send, stream, stop, versions, persistence, errors."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from chatapp.domain import MessageStatus, Role
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.errors import ModelLoadError
from chatapp.store import Store
from tests.ui.writes import written


def shown(window) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    model = window.transcript
    return [
        (m.role.value, m.content) for m in (model.message_at(r) for r in range(model.rowCount()))
    ]


def type_and_send(qtbot, window, text: str) -> None:  # type: ignore[no-untyped-def]
    window.composer.setFocus()
    qtbot.keyClicks(window.composer, text)
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)


def test_send_streams_a_reply_and_saves_it(
    qtbot, make_window, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.enqueue(["Paris is the capital of France."])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "What is the capital of France?")
    assert shown(window) == [
        ("user", "What is the capital of France?"),
        ("assistant", "Paris is the capital of France."),
    ]
    assert window.composer.toPlainText() == ""
    thread = window.store.threads()[0]
    assert thread.title == "What is the capital of France?"
    saved = window.store.path(thread.id)
    assert saved[1].status == MessageStatus.COMPLETE and saved[1].model == "fake-model"
    assert "Context" in window.context_label.text()


def test_shift_enter_makes_a_new_line_and_empty_text_is_not_sent(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert not window.send_button.isEnabled()
    qtbot.keyClicks(window.composer, "line one")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.composer, "line two")
    assert window.composer.toPlainText() == "line one\nline two"
    assert window.send_button.isEnabled()
    window.composer.setPlainText("   ")
    qtbot.keyClick(window.composer, Qt.Key.Key_Return)
    assert window.store.threads() == [] or shown(window) == []


def test_stop_keeps_the_partial_reply(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    fake.delay = 0.02
    window = make_window()
    fake.enqueue([" ".join(["tok"] * 400)])
    type_and_send(qtbot, window, "talk a lot")
    qtbot.waitUntil(
        lambda: (
            window.stop_button.isVisible() and len(shown(window)) == 2 and bool(shown(window)[1][1])
        ),
        timeout=5000,
    )
    with qtbot.waitSignal(window.session.reply_done, timeout=5000) as blocker:
        qtbot.keyClick(window.composer, Qt.Key.Key_Escape)
    message = blocker.args[0]
    assert message.status == MessageStatus.STOPPED
    assert 0 < len(message.content.split()) < 400
    assert not window.stop_button.isVisible() and window.send_button.isVisible()
    assert window.store.message(message.id).content == message.content


def test_sending_while_a_reply_streams_loses_nothing(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    fake.delay = 0.02
    window = make_window()
    fake.enqueue([" ".join(["busy"] * 300), "second answer"])
    type_and_send(qtbot, window, "first")
    qtbot.waitUntil(lambda: len(shown(window)) == 2 and "busy" in shown(window)[1][1], timeout=5000)
    window.composer.setPlainText("second")
    window.send()
    assert window.composer.toPlainText() == "second"  # the draft is kept
    assert len(shown(window)) == 2
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.session.stop()
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.send()
    assert [c for _r, c in shown(window)][2:] == ["second", "second answer"]


def test_regenerate_keeps_the_old_reply_as_a_version(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.enqueue(["first try", "second try"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hello")
    with qtbot.waitSignal(window.session.reply_done, timeout=5000) as blocker:
        window.regenerate_action.trigger()
    assert shown(window)[-1] == ("assistant", "second try")
    assert blocker.args[0].version_count == 2
    first = window.store.versions(blocker.args[0].id)[0]
    assert window.store.message(first).content == "first try"


def test_threads_persist_across_restarts(
    qtbot, make_window, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.enqueue(["I remember."])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "Remember me")
    window.close()
    window.store.close()
    again = make_window(Store.open(tmp_path / "ui.sqlite3"))
    assert shown(again) == [("user", "Remember me"), ("assistant", "I remember.")]


def test_drafts_are_kept_per_thread(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    first = window._current_thread
    window.composer.setPlainText("draft for the first")
    window.new_thread()
    written(qtbot, window)
    assert window.composer.toPlainText() == ""
    row = window.threads_model.row_of(first)
    window.thread_view.setCurrentIndex(window.threads_model.index(row))
    assert window.composer.toPlainText() == "draft for the first"


def test_closing_mid_reply_keeps_what_was_shown(
    qtbot, make_window, fake: FakeBackend, engine
) -> None:  # type: ignore[no-untyped-def]
    fake.delay = 0.02
    window = make_window()
    fake.enqueue([" ".join(["partial"] * 500)])
    type_and_send(qtbot, window, "go")
    qtbot.waitUntil(
        lambda: len(shown(window)) == 2 and shown(window)[1][1].count("partial") >= 3, timeout=5000
    )
    window.close()
    assert engine.shutdown(3000)
    thread = window.store.threads()[0]
    reply = window.store.path(thread.id)[1]
    assert reply.status == MessageStatus.STOPPED
    assert reply.content.count("partial") >= 3


def test_bad_model_is_reported_and_the_app_goes_on(
    qtbot, make_window, fake: FakeBackend, engine
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.load_error = ModelLoadError(
        "half.gguf could not be loaded: the file is damaged or incomplete."
    )
    with qtbot.waitSignal(engine.load_failed, timeout=5000):
        window.load_model(ModelSpec("half.gguf"))
    assert "damaged" in window.statusBar().currentMessage()
    assert "fake-model" in window.model_label.text()  # the previous model stays
    fake.enqueue(["still here"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "are you there?")
    assert shown(window)[-1] == ("assistant", "still here")


def test_status_bar_shows_model_and_device(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    assert window.model_label.text() == "fake-model · CPU, 1 threads"


def test_long_thread_opens_lazily(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "ui.sqlite3")
    t = store.create_thread("long")
    for i in range(300):
        store.add_message(t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"message {i}")
    window = make_window(store)
    assert window.transcript.rowCount() == 50
    assert window.transcript.message_at(49).content == "message 299"
    window.transcript_view.verticalScrollBar().setValue(0)
    qtbot.waitUntil(lambda: window.transcript.rowCount() == 100, timeout=3000)
    assert window.transcript.message_at(0).content == "message 200"


def test_item_models_pass_the_model_tester(
    qtbot, qtmodeltester, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.enqueue(["a reply"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hi")
    qtmodeltester.check(window.threads_model)
    qtmodeltester.check(window.transcript)


def test_search_finds_a_message_in_another_thread_and_jumps_to_it(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "ui.sqlite3")
    target = store.create_thread("Travel plans")
    ids = [
        store.add_message(target.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"filler {i}").id
        for i in range(120)
    ]
    store.update_message(ids[3], content="I am moving to Lisbon in May")
    other = store.create_thread("Other")
    store.add_message(other.id, Role.USER, "nothing to see")
    window = make_window(store)
    window.search_box.setText("lisbon")
    qtbot.waitUntil(
        lambda: window.search_list.isVisible() and window.search_list.count() == 1, timeout=5000
    )
    item = window.search_list.item(0)
    from chatapp.ui.search_results import HtmlRole, hit_html

    assert item.text() == "Travel plans\nI am moving to Lisbon in May"
    assert ">Lisbon</span> in May" in hit_html(item.data(HtmlRole))  # the hit is highlighted
    window.search.open_hit(item)
    assert window._current_thread == target.id
    current = window.transcript_view.currentIndex()
    assert window.transcript.message_at(current.row()).id == ids[3]  # older page loaded on demand
    window.search_box.clear()
    qtbot.waitUntil(lambda: not window.search_list.isVisible(), timeout=5000)


def test_switch_versions_and_edit_and_resend(qtbot, make_window, fake: FakeBackend) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.enqueue(["answer A", "answer B", "answer to the edit"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "question")
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.regenerate_action.trigger()
    reply = window.transcript.message_at(1)
    assert (reply.content, reply.version_index, reply.version_count) == ("answer B", 2, 2)
    window.switch_version(reply, -1)
    written(qtbot, window)
    assert shown(window) == [("user", "question"), ("assistant", "answer A")]
    user = window.transcript.message_at(0)
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        window.session.edit_and_resend(user.id, "question, edited")
    assert shown(window) == [("user", "question, edited"), ("assistant", "answer to the edit")]
    edited = window.transcript.message_at(0)
    assert (edited.version_index, edited.version_count) == (2, 2)
    window.switch_version(edited, -1)
    written(qtbot, window)
    assert shown(window) == [("user", "question"), ("assistant", "answer A")]


def test_export_and_import_from_the_window(
    qtbot, make_window, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import json

    window = make_window()
    fake.enqueue(["An **answer**"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "A question")
    thread_id = window._current_thread
    for fmt in ("md", "html", "json", "txt", "pdf"):
        target = tmp_path / f"out.{fmt}"
        with qtbot.waitSignal(window.files.export_done, timeout=10000) as blocker:
            window.run_export([thread_id], fmt, target)
        assert blocker.args[1] == "" and target.stat().st_size > 0
    data = json.loads((tmp_path / "out.json").read_text())
    assert [m["content"] for m in data["threads"][0]["messages"]] == ["A question", "An **answer**"]
    with qtbot.waitSignal(window.files.import_done, timeout=10000) as blocker:
        window.run_import(tmp_path / "out.json")
    assert blocker.args[0].startswith("Imported 1 thread")
    assert window.threads_model.rowCount() == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with qtbot.waitSignal(window.files.import_done, timeout=10000) as blocker:
        window.run_import(bad)
    assert "not valid JSON" in blocker.args[1]
    assert "not valid JSON" in window.statusBar().currentMessage()


def test_delete_thread_with_undo_and_pin(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    first = window._current_thread
    window.store.rename_thread(first, "keep me")
    window.new_thread()
    written(qtbot, window)
    second = window._current_thread
    window.pin_thread(first, True)
    written(qtbot, window)
    assert window.threads_model.thread_at(0).id == first
    window._refresh_threads(select=second)
    window.delete_action.trigger()
    written(qtbot, window)
    assert [
        window.threads_model.thread_at(r).id for r in range(window.threads_model.rowCount())
    ] == [first]
    assert window.undo.button.isVisible()
    qtbot.mouseClick(window.undo.button, Qt.MouseButton.LeftButton)
    written(qtbot, window)
    assert window._current_thread == second
    assert window.threads_model.rowCount() == 2


def test_trash_dialog_restores_a_deleted_thread(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    gone = window._current_thread
    window.store.rename_thread(gone, "old plans")
    window.delete_thread()
    written(qtbot, window)
    assert window.threads_model.rowCount() == 0
    window.show_trash()
    dialog = window.threads.trash_dialog
    from PySide6.QtWidgets import QDialogButtonBox, QListWidget

    listing = dialog.findChild(QListWidget)
    assert listing.count() == 1 and listing.item(0).text().startswith("old plans  —  deleted ")
    listing.setCurrentRow(0)
    restore = next(b for b in dialog.findChild(QDialogButtonBox).buttons() if b.text() == "Restore")
    qtbot.mouseClick(restore, Qt.MouseButton.LeftButton)
    written(qtbot, window)
    assert window.threads_model.rowCount() == 1 and listing.count() == 0
    dialog.close()


def test_a_damaged_database_offers_the_latest_backup(qtbot, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    from chatapp import app
    from chatapp.store import backup

    root = tmp_path / "home"
    root.mkdir()
    db = root / "chatapp.sqlite3"
    s = Store.open(db)
    t = s.create_thread("precious")
    s.add_message(t.id, Role.USER, "do not lose me")
    s.close()
    backup.backup_now(db, root / "backups")
    db.write_bytes(b"garbage" * 1000)
    asked: list[str] = []

    def answer_yes(_parent, _title, text, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer_yes)
    store = app.open_store_interactively(root)
    assert "damaged" in asked[0] and "Restore the latest backup" in asked[0]
    assert [m.content for m in store.path(1)] == ["do not lose me"]
    store.close()
    kept = [
        p for p in root.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))
    ]
    assert kept and kept[0].read_bytes() == b"garbage" * 1000


def test_thread_and_app_settings_are_saved(
    qtbot, make_window, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.config.settings import AppSettings

    window = make_window()
    window.settings_path = tmp_path / "settings.json"
    window.new_thread()
    written(qtbot, window)
    window.open_settings()
    dialog = window._settings_dialog
    dialog.system_prompt.setPlainText("Answer like a pirate.")
    dialog.temperature.setValue(0.2)
    dialog.seed.setValue(42)
    dialog.gpu.setCurrentText("cpu")
    dialog.font_size.setValue(15)
    dialog.accept()
    written(qtbot, window)
    thread = window.store.thread(window._current_thread)
    assert thread.system_prompt == "Answer like a pirate."
    assert thread.settings.temperature == 0.2 and thread.settings.seed == 42
    saved = AppSettings.load(tmp_path / "settings.json")
    assert saved.gpu == "cpu" and saved.font_size == 15
    assert window.transcript_view.font().pointSize() == 15
    fake.enqueue(["Arr"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hello")
    sent = fake.prompts[-1]
    assert sent[0].role == "system" and "Answer like a pirate." in sent[0].content


def test_a_long_export_shows_progress_and_can_be_cancelled(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import random

    from chatapp.bench.store import fill

    store = Store.open(tmp_path / "ui.sqlite3")
    fill(store, 2, 40_010, 40_000, random.Random(1))
    window = make_window(store)
    fractions: list[float] = []
    cancel_at: list[float] = [0.3]

    def report(fraction: float) -> None:
        # on the export's own thread (a direct connection), so Cancel lands mid-render however
        # slowly the GUI thread runs: polling from here raced a busy machine's whole export
        fractions.append(fraction)
        if cancel_at and fraction > cancel_at[0]:
            window.files.export_cancel.set()  # what the dialog's Cancel button does

    window.files.export_progress.connect(report, Qt.ConnectionType.DirectConnection)
    target = tmp_path / "long.md"
    with qtbot.waitSignal(window.files.export_done, timeout=60000) as blocker:
        window.run_export([1], "md", target)
    assert "cancelled" in blocker.args[1]
    assert not target.exists() and not list(tmp_path.glob(".long.md*"))
    fractions.clear()
    cancel_at.clear()
    with qtbot.waitSignal(window.files.export_done, timeout=60000) as blocker:
        window.run_export([1], "md", target)
    assert blocker.args[1] == "" and target.stat().st_size > 1_000_000
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_threads_are_grouped_by_recency_with_pinned_on_top(
    qtbot, qtmodeltester, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import time as _time

    from chatapp.ui.thread_list import GroupRole

    store = Store.open(tmp_path / "ui.sqlite3")
    now = _time.time()
    for title, age_days in (
        ("old", 90),
        ("last week", 4),
        ("yesterday", 1),
        ("today", 0),
        ("pinned", 200),
    ):
        t = store.create_thread(title, now=now - age_days * 86400)
        if title == "pinned":
            store.pin_thread(t.id)
    window = make_window(store)
    model = window.threads_model
    rows = [
        (model.data(model.index(r)), model.data(model.index(r), GroupRole))
        for r in range(model.rowCount())
    ]
    assert rows == [
        ("pinned", "Pinned"),
        ("today", "Today"),
        ("yesterday", "Yesterday"),
        ("last week", "Previous 7 days"),
        ("old", "Older"),
    ]
    qtmodeltester.check(model)


def test_delete_a_message_after_confirming(
    qtbot, make_window, fake: FakeBackend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    window = make_window()
    fake.enqueue(["first answer", "second answer"])
    for text in ("one", "two"):
        with qtbot.waitSignal(window.session.reply_done, timeout=5000):
            type_and_send(qtbot, window, text)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    window.delete_message(window.transcript.message_at(2))
    assert len(shown(window)) == 4
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.delete_message(window.transcript.message_at(2))
    written(qtbot, window)
    assert shown(window) == [("user", "one"), ("assistant", "first answer")]


def test_model_library_lists_builtin_and_folder_models(
    qtbot, qtmodeltester, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from chatapp.ui.model_library import ModelLibrary, PathRole

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(default_model, folder / "mine.Q4_1.gguf")
    (folder / "broken.gguf").write_text("not a model")
    library = ModelLibrary(
        [folder],
        default_model,
        {},
        None,
        endpoints=[{"name": "lab", "base_url": "http://127.0.0.1:9/v1", "model": "big"}],
    )
    qtbot.addWidget(library)
    with qtbot.waitSignal(library.scanned, timeout=10000):
        pass
    model = library.model
    names = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
    assert names == [f"{default_model.name} (built-in)", "mine.Q4_1.gguf", "big @ lab"]
    library.show()
    qtbot.waitExposed(library)
    width = library.table.fontMetrics().horizontalAdvance(names[0])
    assert library.table.columnWidth(0) > width  # "(built-in)" is not cut off
    assert (
        model.data(model.index(2, 1)) == "server"
        and model.data(model.index(2, 0), PathRole) == "server:http://127.0.0.1:9/v1"
    )
    assert model.data(model.index(1, 2)) == "134.5M" and model.data(model.index(1, 6)) == "yes"
    assert (
        "broken.gguf (broken.gguf ends in .gguf, but its content is not a GGUF model.)"
        in library.info.text()
    )
    qtmodeltester.check(model)
    with qtbot.waitSignal(library.scanned, timeout=10000):
        shutil.copy(default_model, folder / "new-arrival.gguf")  # the folder is watched
    assert model.rowCount() == 4
    chosen: list[str] = []
    library.chosen.connect(chosen.append)
    library.table.setCurrentIndex(model.index(1, 0))
    library.load_button.click()
    assert chosen and chosen[0] == model.data(model.index(1, 0), PathRole)


def test_connect_to_a_server_that_fails_keeps_neither_the_endpoint_nor_its_key(
    qtbot, make_window, engine, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import json

    window = make_window()
    window.settings_path = tmp_path / "settings.json"
    window.connect_server()
    dialog = window.model_dialogs.endpoint_dialog
    dialog.name.setText("lab")
    dialog.url.setText("http://127.0.0.1:9/v1")
    dialog.key.setText("secret-key-value")
    # the fake backend factory is not used for servers
    with (
        qtbot.waitSignal(engine.loaded, timeout=10000) as blocker,
        qtbot.waitSignal(engine.load_failed, timeout=10000) as failed,
    ):
        dialog.accept()
    assert "Nothing answers" in failed.args[0]
    assert blocker.args[0].name == "fake-model"  # the previous model came back
    # saved once it connects (walkthrough: a failed server was listed); a server that does
    # is saved without its key: tests/ui/test_servers_tls_keys.py
    saved = (tmp_path / "settings.json").read_text()
    assert not json.loads(saved).get("endpoints")
    assert "secret-key-value" not in saved


def test_each_thread_keeps_its_model(qtbot, make_window, fake: FakeBackend, engine) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.new_thread()
    written(qtbot, window)
    first = window._current_thread
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window._load_path("alpha.gguf")
    written(qtbot, window)
    assert window.store.thread(first).model == "alpha.gguf"
    window.new_thread()
    written(qtbot, window)
    second = window._current_thread
    assert window.store.thread(second).model is None  # a new thread uses what is loaded
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window._load_path("beta.gguf")
    written(qtbot, window)
    assert window.store.thread(second).model == "beta.gguf"
    with qtbot.waitSignal(engine.loaded, timeout=5000) as blocker:
        window._refresh_threads(select=first)
    assert blocker.args[0].path == "alpha.gguf" and fake.info.path == "alpha.gguf"
    fake.enqueue(["from alpha"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000) as done:
        type_and_send(qtbot, window, "hi")
    assert done.args[0].model == "alpha"


def test_the_last_threads_model_is_loaded_at_start(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QSettings

    from chatapp.ui.main_window import MainWindow

    store = Store.open(tmp_path / "s.sqlite3")
    t = store.create_thread("own model", model="gamma.gguf")
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    settings.setValue("last_thread", t.id)
    settings.setValue("quiet_errors", True)
    with qtbot.waitSignal(engine.loaded, timeout=5000) as blocker:
        window = MainWindow(store, engine, ModelSpec("default.gguf"), settings)
    qtbot.addWidget(window)
    qtbot.wait(200)
    assert blocker.args[0].path == "gamma.gguf" and fake.loads == 1
    window.close()


def test_a_disk_that_fills_while_a_reply_streams_is_told_once(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    import chatapp.ui.session as session_module
    from chatapp.errors import StorageError

    fake.delay = 0.01
    window = make_window()
    errors: list[str] = []
    window.session.error.connect(errors.append)
    fake.enqueue([" ".join(["word"] * 150)])
    real_update = window.store.update_message
    full = {"on": False}

    def update(*args, **kwargs):  # type: ignore[no-untyped-def]
        if full["on"]:
            raise StorageError("The disk holding the database is full: the change was not saved.")
        return real_update(*args, **kwargs)

    window.store.update_message = update  # type: ignore[method-assign]
    session_module.SAVE_SECONDS, saved = 0.05, session_module.SAVE_SECONDS
    try:
        type_and_send(qtbot, window, "talk")
        qtbot.waitUntil(
            lambda: len(shown(window)) == 2 and "word" in shown(window)[1][1], timeout=5000
        )
        full["on"] = True
        qtbot.wait(400)  # several throttled saves fail meanwhile
        full["on"] = False
        with qtbot.waitSignal(window.session.reply_done, timeout=10000) as done:
            pass
    finally:
        session_module.SAVE_SECONDS = saved
    assert len([e for e in errors if "disk" in e]) == 1
    stored = window.store.message(done.args[0].id)
    assert stored.content.split() == ["word"] * 150  # nothing that was shown is lost
