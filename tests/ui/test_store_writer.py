"""The store's one writer: writes run in the order asked, off the GUI thread; a newer draft
replaces one still waiting; a real failure reaches on_error and the next write still runs;
a quit waits for what was asked; and a send asked while an import holds the writer in its
bulk transaction lands after it, the window going on meanwhile, nothing lost."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from chatapp.bench.gui import write_chatapp_export as chatapp_export
from chatapp.domain import Role
from chatapp.engine.fake import FakeBackend
from chatapp.store import Store
from chatapp.workers.store_writer import StoreWriter
from tests.ui.writes import written


@pytest.fixture
def writer(qtbot: QtBot):
    w = StoreWriter(wait_ms=100)
    yield w
    w.shutdown()


def test_writes_run_in_the_order_asked_and_answer_on_the_gui_thread(
    qtbot: QtBot, writer: StoreWriter, store: Store
) -> None:
    thread_id = store.create_thread("order").id
    ran_on: list[bool] = []
    answered: list[tuple[str, bool]] = []

    def add(text: str):  # type: ignore[no-untyped-def]
        ran_on.append(threading.current_thread() is threading.main_thread())
        return store.add_message(thread_id, Role.USER, text)

    texts = [f"message {i}" for i in range(30)]
    for text in texts:
        writer.ask(
            add,
            text,
            on_done=lambda m: answered.append(
                (m.content, threading.current_thread() is threading.main_thread())
            ),
        )
    assert not writer.idle  # asked, not waited for
    written(qtbot, writer)
    assert [m.content for m in store.path(thread_id)] == texts  # each after the one before
    assert answered == [(text, True) for text in texts]
    assert ran_on == [False] * 30


def test_a_newer_draft_replaces_one_still_waiting(
    qtbot: QtBot, writer: StoreWriter, store: Store
) -> None:
    thread_id = store.create_thread("draft").id
    other = store.create_thread("other").id
    hold = threading.Event()
    writer.ask(hold.wait, 10)  # the writer is busy: what follows waits in line
    saved: list[str] = []

    def save(tid: int, text: str) -> str:
        saved.append(text)
        store.save_draft(tid, text)
        return text

    answers: list[str] = []
    writer.ask(save, thread_id, "a", on_done=answers.append, coalesce=("draft", thread_id))
    writer.ask(save, other, "kept", on_done=answers.append, coalesce=("draft", other))
    writer.ask(save, thread_id, "ab", on_done=answers.append, coalesce=("draft", thread_id))
    writer.ask(save, thread_id, "abc", on_done=answers.append, coalesce=("draft", thread_id))
    hold.set()
    written(qtbot, writer)
    assert saved == ["abc", "kept"]  # the newest, in the first one's place in the line
    assert answers == ["abc", "kept"]
    assert store.draft(thread_id) == "abc" and store.draft(other) == "kept"


def test_a_locked_database_reaches_on_error_and_the_next_write_still_runs(
    qtbot: QtBot, writer: StoreWriter, tmp_path: Path
) -> None:
    path = tmp_path / "locked.sqlite3"
    store = Store.open(path)
    thread_id = store.create_thread("t").id
    store._conn.execute("PRAGMA busy_timeout = 200")  # not 5 s of waiting here
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the database's write lock
    errors: list[str] = []
    done: list[object] = []
    writer.ask(
        store.add_message,
        thread_id,
        Role.USER,
        "while locked",
        on_done=done.append,
        on_error=errors.append,
    )
    written(qtbot, writer)
    assert done == [] and len(errors) == 1
    assert "locked by another program" in errors[0]  # the store's sentence, not a traceback
    other.execute("ROLLBACK")
    other.close()
    writer.ask(store.add_message, thread_id, Role.USER, "after", on_done=done.append)
    written(qtbot, writer)
    assert [m.content for m in store.path(thread_id)] == ["after"]
    store.close()


def test_a_failed_send_gives_the_text_back(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The window's send while another program locks the database: said, the message taken
    off the transcript, and the text back in the composer (nothing typed is lost)."""
    window = make_window()
    thread_id = window.store.create_thread("t").id
    window.refresh_threads(select=thread_id)
    window.store._conn.execute("PRAGMA busy_timeout = 200")
    other = sqlite3.connect(tmp_path / "ui.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    errors: list[str] = []
    window.session.error.connect(errors.append)
    window.composer.setPlainText("remember the ferry times")
    window.send()
    assert window.composer.toPlainText() == ""  # shown at once, as sent
    assert window.transcript.message_at(0).content == "remember the ferry times"
    written(qtbot, window)
    other.execute("ROLLBACK")
    other.close()
    assert errors and "locked" in errors[0]
    assert window.composer.toPlainText() == "remember the ferry times"
    assert window.transcript.rowCount() == 0 and not window.session.busy
    assert window.store.path(thread_id) == []


def test_flush_waits_until_every_write_is_written_and_answered(
    qtbot: QtBot, writer: StoreWriter, store: Store
) -> None:
    thread_id = store.create_thread("t").id
    slow = threading.Event()
    answered: list[int] = []

    def add(i: int) -> int:
        slow.wait(0.02)
        store.add_message(thread_id, Role.USER, f"m{i}")
        return i

    for i in range(10):
        writer.ask(add, i, on_done=answered.append)
    assert writer.flush(timeout=30)
    assert writer.idle and answered == list(range(10))  # answered too, without an event loop
    assert len(store.path(thread_id)) == 10


def test_call_at_quit_comes_after_what_was_asked_and_nothing_is_lost(
    qtbot: QtBot, store: Store
) -> None:
    writer = StoreWriter()
    thread_id = store.create_thread("t").id
    hold = threading.Event()
    writer.ask(hold.wait, 10)
    writer.ask(store.save_draft, thread_id, "asked first")
    threading.Timer(0.1, hold.set).start()
    # no event loop turns from here on, as at quit
    assert writer.call(store.draft, thread_id) == "asked first"  # waited for it
    assert writer.call(store.save_draft, thread_id, "at quit") is None
    assert writer.shutdown(timeout=10)
    # stopped: what is still asked runs at once on the caller's thread, answers included
    answers: list[object] = []
    writer.ask(store.add_message, thread_id, Role.USER, "after the stop", on_done=answers.append)
    assert [m.content for m in store.path(thread_id)] == ["after the stop"] and answers
    assert writer.call(store.draft, thread_id) == "at quit"
    with pytest.raises(KeyError):
        writer.call(store.message, 10_000)  # an exception comes back to the caller


def test_a_send_during_a_long_import_lands_after_it_and_the_window_goes_on(
    qtbot, make_window, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    store = window.store
    writer = window.writer
    writer._wait_s = 0.05  # told at once here: the import may be short
    waiting: list[bool] = []
    writer.waiting.connect(waiting.append)
    thread_id = store.create_thread("mine").id
    window.refresh_threads(select=thread_id)
    path = chatapp_export(tmp_path / "big.json", threads=3, messages=10_000)
    fake.enqueue(["The ferry leaves at nine."])
    ticks: list[bool] = []  # the event loop's turns while the send waited for the import
    tick = QTimer()
    tick.timeout.connect(lambda: ticks.append(store.bulk_writing))
    with qtbot.waitSignal(window.files.import_done, timeout=120_000) as imported:
        window.run_import(path)
        qtbot.waitUntil(lambda: store.bulk_writing, timeout=60_000)
        window.composer.setPlainText("when does the ferry leave?")
        window.send()  # returns while the import still holds the writer
        assert store.bulk_writing
        shown = window.transcript.message_at(0)
        assert shown.content == "when does the ferry leave?" and shown.id < 0  # shown at once
        assert window.composer.toPlainText() == ""
        tick.start(5)
    assert imported.args[0].startswith("Imported 3 thread"), imported.args
    with qtbot.waitSignal(window.session.reply_done, timeout=30_000) as done:
        pass
    tick.stop()
    assert any(ticks), "the window's event loop did not run while the import wrote"
    assert done.args[0].content == "The ferry leaves at nine."
    mine = store.path(thread_id)
    assert [(m.role.value, m.content) for m in mine] == [
        ("user", "when does the ferry leave?"),
        ("assistant", "The ferry leaves at nine."),
    ]
    imported_ids = [
        m.id for t in store.threads() if t.title.startswith("imported") for m in store.path(t.id)
    ]
    assert len(imported_ids) == 30_000  # nothing of the import lost
    assert mine[0].id > max(imported_ids)  # the send landed after the import's transaction
    assert [m.id for m in (window.transcript.message_at(r) for r in range(2))] == [
        m.id for m in mine
    ]  # the shown message now carries its stored id
    written(qtbot, window)
    assert waiting[0] is True and waiting[-1] is False  # told while it waited, then cleared


def test_a_walk_through_the_window_writes_nothing_on_the_gui_thread(
    qtbot, make_window, fake: FakeBackend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """The static check's runtime twin: every store write made while a person uses the window
    (send, regenerate, versions, rename, pin, draft, delete, undo, memory switch) runs off the
    GUI thread, and only the test's own setup writes on it."""
    import inspect
    import sys

    from PySide6.QtWidgets import QInputDialog, QMessageBox

    from tests.unit.test_arch_gui_writes import write_methods

    window = make_window()
    store = window.store
    on_gui: list[str] = []
    ui = str(Path(sys.modules["chatapp.ui"].__file__).parent)

    def watched(name: str, real):  # type: ignore[no-untyped-def]
        def write(*args, **kwargs):  # type: ignore[no-untyped-def]
            if threading.current_thread() is threading.main_thread():
                frames = [f.filename for f in inspect.stack()[1:]]
                if any(f.startswith(ui) for f in frames):
                    on_gui.append(name)
            return real(*args, **kwargs)

        return write

    for name in write_methods():
        if hasattr(store, name):
            monkeypatch.setattr(store, name, watched(name, getattr(store, name)))
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("renamed", True))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    fake.enqueue(["first answer", "second answer", "third"])
    window.composer.setPlainText("a question")
    with qtbot.waitSignal(window.session.reply_done, timeout=10_000):
        window.send()
    with qtbot.waitSignal(window.session.reply_done, timeout=10_000):
        window.regenerate()
    written(qtbot, window)
    window.switch_version(window.transcript.message_at(1), -1)
    window.rename_thread()
    window.pin_thread(window.current_thread, True)
    window.composer.setPlainText("half a thought")
    window.drafts.save()
    window.memory_panel.enabled_box.setChecked(False)
    written(qtbot, window)
    window.delete_message(window.transcript.message_at(1))
    written(qtbot, window)
    window.delete_thread()
    written(qtbot, window)
    window.undo_delete()
    written(qtbot, window)
    thread = store.threads()[0]
    assert (thread.title, thread.pinned) == ("renamed", True)
    assert store.draft(thread.id) == "half a thought"
    # the shown version was deleted: the other one takes its place
    assert [m.content for m in store.path(thread.id)] == ["a question", "second answer"]
    assert on_gui == []
    window.writer.shutdown()  # the watch itself: a stopped writer writes on the caller's thread
    window.pin_thread(thread.id, False)
    assert on_gui == ["pin_thread"]


def test_a_send_right_after_a_settings_change_uses_the_new_settings(
    qtbot, make_window, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    """The send is prepared on the writer's thread, after what was asked before it: a sampling
    change still waiting its turn (behind an import, here a held writer) is the one used."""
    from chatapp.domain import GenerationSettings

    window = make_window()
    thread_id = window.store.create_thread("t").id
    window.refresh_threads(select=thread_id)
    hold = threading.Event()
    window.writer.ask(hold.wait, 10)
    window.writer.ask(
        window.store.update_thread, thread_id, settings=GenerationSettings(temperature=0.25)
    )
    fake.enqueue(["warm"])
    window.composer.setPlainText("how warm is it?")
    window.send()
    hold.set()
    with qtbot.waitSignal(window.session.reply_done, timeout=10_000):
        pass
    assert fake.sampling[-1].temperature == 0.25
