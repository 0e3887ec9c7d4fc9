"""The memory panel's Forget can be undone; its changes are written by the memory thread (and
not lost when the app quits right after); it leaves the chat a readable width."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SlotHistory, SlotRow
from chatapp.ui.memory_panel import MemoryPanel
from tests.ui.writes import written


def _key(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def facts(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "panel.sqlite3")
    tables = MemoryTables(store)
    thread = store.create_thread("facts")
    home = SlotRow(
        None,
        thread.id,
        "These days I live in Porto.",
        "user",
        _key(1),
        pinned=True,
        sources=[],
        created_at=100.0,
        updated_at=200.0,
        attribute="home",
        since=200.0,
        history=[SlotHistory("I live in Lisbon.", [], 100.0, 200.0)],
    )
    tables.save_slot(home)
    tables.save_slot(
        SlotRow(None, thread.id, "My cat is Biscuit.", "user", _key(2), created_at=1.0)
    )
    tables.save_slot(SlotRow(None, thread.id, "I grow tomatoes.", "user", _key(3), created_at=1.0))
    yield store, tables, thread.id
    store.close()


def _texts(panel: MemoryPanel) -> list[str]:
    return [panel.slot_list.item(i).text() for i in range(panel.slot_list.count())]


def _select(panel: MemoryPanel, text: str) -> None:
    panel.slot_list.setCurrentRow(
        next(i for i, t in enumerate(_texts(panel)) if t.startswith(text))
    )


def _comparable(slot: SlotRow) -> tuple:
    return (
        slot.text,
        slot.owner,
        slot.pinned,
        slot.sources,
        slot.created_at,
        slot.updated_at,
        slot.attribute,
        slot.since,
        slot.history,
        slot.key.tobytes(),
    )


def test_forget_can_be_undone_with_all_the_fact_held(qtbot, facts) -> None:  # type: ignore[no-untyped-def]
    store, tables, thread_id = facts
    before = sorted(_comparable(s) for s in tables.slots(thread_id))
    panel = MemoryPanel(store)
    qtbot.addWidget(panel)
    panel.show()
    panel.show_thread(thread_id)
    assert not panel.undo_row.isVisible()
    _select(panel, "These days I live in Porto.")
    panel.forget_button.click()
    written(qtbot, panel)
    assert [s.text for s in tables.slots(thread_id)] == ["My cat is Biscuit.", "I grow tomatoes."]
    assert panel.undo_row.isVisible()
    assert panel.undo_label.text() == "Forgotten: \u201cThese days I live in Porto.\u201d"
    _select(panel, "My cat is Biscuit.")
    panel.forget_button.click()
    written(qtbot, panel)
    assert panel.undo_label.text() == "Forgotten: 2 facts"
    assert [s.text for s in tables.slots(thread_id)] == ["I grow tomatoes."]
    panel.undo_button.click()
    written(qtbot, panel)
    assert not panel.undo_row.isVisible()
    assert (
        sorted(_comparable(s) for s in tables.slots(thread_id)) == before
    )  # text, pin, history, key
    assert "These days I live in Porto.  (pinned)" in "\n".join(_texts(panel))
    assert "My cat is Biscuit." in _texts(panel)


def test_one_timer_for_the_shown_undo(qtbot, facts) -> None:  # type: ignore[no-untyped-def]
    store, tables, thread_id = facts
    panel = MemoryPanel(store)
    panel.UNDO_MS = 600
    qtbot.addWidget(panel)
    panel.show()
    panel.show_thread(thread_id)
    _select(panel, "My cat is Biscuit.")
    panel.forget_button.click()
    written(qtbot, panel)
    qtbot.wait(400)
    _select(panel, "I grow tomatoes.")
    panel.forget_button.click()  # restarts the one timer: the first Forget's time no longer counts
    qtbot.wait(400)  # 800 ms after the first Forget
    assert panel.undo_row.isVisible() and panel.undo_label.text() == "Forgotten: 2 facts"
    qtbot.waitUntil(lambda: not panel.undo_row.isVisible(), timeout=2000)
    panel.undo_button.click()  # hidden and emptied: nothing comes back after the time is up
    assert [s.text for s in tables.slots(thread_id)] == ["These days I live in Porto."]


def test_the_panel_writes_on_the_memory_thread(qtbot, facts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from chatapp.workers.memory import MemoryController

    store, tables, thread_id = facts
    memory = MemoryController(store)  # not started: the embedding model is not needed to write
    panel = MemoryPanel(store, writer=memory)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    writers: list[str] = []
    real_save, real_delete = MemoryTables.save_slot, MemoryTables.delete_slot

    def save(self, slot):  # type: ignore[no-untyped-def]
        writers.append(threading.current_thread().name)
        return real_save(self, slot)

    def delete(self, slot_id):  # type: ignore[no-untyped-def]
        writers.append(threading.current_thread().name)
        return real_delete(self, slot_id)

    monkeypatch.setattr(MemoryTables, "save_slot", save)
    monkeypatch.setattr(MemoryTables, "delete_slot", delete)
    _select(panel, "My cat is Biscuit.")
    with qtbot.waitSignal(memory.written, timeout=5000):
        panel.pin_button.click()
        written(qtbot, panel)
    assert "My cat is Biscuit.  (pinned)" in _texts(panel)  # shown again once saved
    _select(panel, "I grow tomatoes.")
    with qtbot.waitSignal(memory.written, timeout=5000):
        panel.forget_button.click()
        written(qtbot, panel)
    assert "I grow tomatoes." not in _texts(panel)
    with qtbot.waitSignal(memory.written, timeout=5000):
        panel.undo_button.click()
        written(qtbot, panel)
    assert "I grow tomatoes." in [s.text for s in tables.slots(thread_id)]
    assert len(writers) == 3 and threading.main_thread().name not in writers
    assert memory.shutdown(5000)


def test_a_change_made_just_before_quitting_is_kept(qtbot, facts) -> None:  # type: ignore[no-untyped-def]
    from chatapp.workers.memory import MemoryController

    store, tables, thread_id = facts
    memory = MemoryController(store)
    panel = MemoryPanel(store, writer=memory)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    memory._thread.quit()  # the memory thread stops before it gets to the change
    assert memory._thread.wait(5000)
    _select(panel, "My cat is Biscuit.")
    panel.forget_button.click()
    written(qtbot, panel)
    assert "My cat is Biscuit." in [s.text for s in tables.slots(thread_id)]
    assert memory.shutdown(5000)
    assert "My cat is Biscuit." not in [s.text for s in tables.slots(thread_id)]


def test_a_write_that_fails_is_said(qtbot, facts, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from chatapp.errors import StorageError
    from chatapp.workers.memory import MemoryController

    store, _tables, thread_id = facts
    memory = MemoryController(store)
    panel = MemoryPanel(store, writer=memory)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)

    def full(self, slot_id):  # type: ignore[no-untyped-def]
        raise StorageError("The disk holding the database is full: the change was not saved.")

    monkeypatch.setattr(MemoryTables, "delete_slot", full)
    _select(panel, "My cat is Biscuit.")
    with qtbot.waitSignal(memory.failed, timeout=5000) as failed:
        panel.forget_button.click()
        written(qtbot, panel)
    assert failed.args[0] == (
        "Forgetting \u201cMy cat is Biscuit.\u201d failed: "
        "The disk holding the database is full: the change was not saved."
    )
    qtbot.waitUntil(lambda: "My cat is Biscuit." in _texts(panel), timeout=2000)  # shown again
    assert memory.shutdown(5000)


@pytest.mark.parametrize("points", [None, 14])
def test_the_panel_leaves_the_chat_a_readable_width(qtbot, qapp, make_window, points) -> None:  # type: ignore[no-untyped-def]
    if points:
        font = qapp.font()
        font.setPointSize(points)
        qapp.setFont(font)
    window = make_window()  # the default size, on the test's 800 px screen
    window.memory_panel.show()
    qtbot.waitUntil(lambda: window.memory_panel.isVisible(), timeout=2000)
    qapp.processEvents()
    readable = 45 * window.transcript_view.fontMetrics().averageCharWidth()
    assert (
        window.memory_panel.minimumSizeHint().width()
        <= 40 * window.fontMetrics().averageCharWidth()
    )
    assert window.transcript_view.width() >= readable, (
        window.transcript_view.width(),
        window.memory_panel.width(),
        window.width(),
    )
    assert window.memory_panel.enabled_box.text() == "Remember this thread"


def test_summary_headings_and_their_text_are_shown_whole(qtbot, facts) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFont, QFontMetrics

    from chatapp.domain import Role

    store, tables, thread_id = facts
    ids = [store.add_message(thread_id, Role.USER, f"message {i}").id for i in range(4)]
    text = (
        "The user lives in Porto, has a cat called Biscuit and grows tomatoes on the balcony. " * 3
    )
    tables.add_summary(thread_id, 0, 0, 3, ids, text.strip(), "SmolLM2")
    panel = MemoryPanel(store)
    qtbot.addWidget(panel)
    panel.resize(260, 500)
    panel.show()
    panel.show_thread(thread_id)
    panel.tabs.setCurrentIndex(1)
    qtbot.waitExposed(panel)
    view = panel.summary_list
    rect = view.visualRect(view.model().index(0, 0))
    width = view.viewport().width() - 8
    bold = QFont(view.font())
    bold.setBold(True)
    body_lines = QFontMetrics(view.font()).boundingRect(
        0, 0, width, 10_000, Qt.TextFlag.TextWordWrap, text.strip()
    )
    assert body_lines.height() > 3 * QFontMetrics(view.font()).lineSpacing()  # it wraps
    assert rect.height() >= body_lines.height() + QFontMetrics(bold).lineSpacing()  # nothing cut


def test_a_pin_and_an_edit_show_at_once_while_the_memory_thread_is_busy(
    qtbot, facts, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QInputDialog

    from chatapp.workers.memory import MemoryController

    store, tables, thread_id = facts
    memory = MemoryController(store)
    panel = MemoryPanel(store, writer=memory)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    gate = threading.Event()
    memory.write(thread_id, "A long update", lambda: gate.wait(10))  # the thread is busy
    _select(panel, "My cat is Biscuit.")
    panel.pin_button.click()
    written(qtbot, panel)
    assert panel.slot_list.currentItem().text() == "My cat is Biscuit.  (pinned)"
    assert panel.pin_button.text() == "Unpin"
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("My cat is Pumpkin.", True))
    panel.edit_button.click()
    written(qtbot, panel)
    assert panel.slot_list.currentItem().text() == "My cat is Pumpkin.  (pinned)"
    assert "My cat is Biscuit." in [s.text for s in tables.slots(thread_id)]  # not written yet
    gate.set()
    qtbot.waitUntil(
        lambda: (
            ("My cat is Pumpkin.", True) in [(s.text, s.pinned) for s in tables.slots(thread_id)]
        ),
        timeout=5000,
    )
    qtbot.waitUntil(lambda: "My cat is Pumpkin.  (pinned)" in _texts(panel), timeout=2000)
    assert memory.shutdown(5000)
