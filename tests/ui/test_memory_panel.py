"""The memory panel on a real store: slots shown, edited, pinned, forgotten and added; summaries
with their ranges; the per-thread switch; what the model saw, part by part, from the real
builder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from chatapp.domain import Role
from chatapp.memory.builder import ContextBuilder
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SlotRow
from chatapp.ui.memory_panel import MemoryPanel
from tests.ui.writes import written


def _key(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def thread(tmp_path: Path):  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "panel.sqlite3")
    tables = MemoryTables(store)
    t = store.create_thread("weeks")
    start = dt.datetime(2026, 3, 2, 9).timestamp()
    ids = []
    for i in range(40):
        role = Role.USER if i % 2 == 0 else Role.ASSISTANT
        text = (
            "I live in Lisbon with my cat Biscuit."
            if i == 0
            else f"Message {i} about gardening and tomatoes."
        )
        ids.append(store.add_message(t.id, role, text, created_at=start + i * 3600).id)
    tables.save_slot(
        SlotRow(
            None,
            t.id,
            "I live in Lisbon.",
            "user",
            _key(1),
            sources=[ids[0]],
            created_at=start,
            updated_at=start,
        )
    )
    tables.save_slot(
        SlotRow(
            None,
            t.id,
            "My cat is Biscuit.",
            "user",
            _key(2),
            sources=[ids[0]],
            created_at=start,
            updated_at=start,
        )
    )
    tables.add_summary(
        t.id, 0, 0, 15, ids[:16], "The user lives in Lisbon and grows tomatoes.", "SmolLM2"
    )
    yield store, tables, t.id
    store.close()


def _texts(widget) -> list[str]:  # type: ignore[no-untyped-def]
    return [widget.item(i).text() for i in range(widget.count())]


def test_slots_and_summaries_are_shown_and_edited(qtbot, thread, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store, tables, thread_id = thread
    panel = MemoryPanel(store)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    assert _texts(panel.slot_list) == ["I live in Lisbon.", "My cat is Biscuit."]
    assert _texts(panel.summary_list) == [
        "Messages 1–16\nThe user lives in Lisbon and grows tomatoes."
    ]

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("I live in Porto now.", True))
    panel.slot_list.setCurrentRow(0)
    with qtbot.waitSignal(panel.slot_edited, timeout=1000) as edited_signal:
        panel.edit_button.click()
        written(qtbot, panel)
    assert edited_signal.args == [thread_id]  # the window asks the memory thread for its new key
    edited = next(s for s in tables.slots(thread_id) if s.text == "I live in Porto now.")
    assert edited.pinned  # the user's own words are kept
    assert not np.any(edited.key)  # Lisbon's key is gone with Lisbon
    assert "I live in Porto now.  (pinned)" in _texts(panel.slot_list)

    panel.slot_list.setCurrentRow(_texts(panel.slot_list).index("My cat is Biscuit."))
    panel.pin_button.click()
    written(qtbot, panel)
    assert all(s.pinned for s in tables.slots(thread_id))
    panel.slot_list.setCurrentRow(_texts(panel.slot_list).index("My cat is Biscuit.  (pinned)"))
    assert panel.pin_button.text() == "Unpin"
    panel.pin_button.click()  # and unpinned again
    written(qtbot, panel)
    assert not next(s for s in tables.slots(thread_id) if s.text == "My cat is Biscuit.").pinned

    panel.slot_list.setCurrentRow(_texts(panel.slot_list).index("My cat is Biscuit."))
    panel.forget_button.click()
    written(qtbot, panel)
    assert [s.text for s in tables.slots(thread_id)] == ["I live in Porto now."]

    monkeypatch.setattr(
        QInputDialog, "getText", lambda *a, **k: ("  I am allergic to nuts.  ", True)
    )
    with qtbot.waitSignal(panel.note_added, timeout=1000) as added:
        panel.add_button.click()
        written(qtbot, panel)
    assert added.args == [
        thread_id,
        "I am allergic to nuts.",
    ]  # the window writes it through memory


def test_the_switch_turns_memory_off_for_the_thread(qtbot, thread) -> None:  # type: ignore[no-untyped-def]
    store, tables, thread_id = thread
    panel = MemoryPanel(store)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    assert panel.enabled_box.isChecked() and tables.memory_enabled(thread_id)
    panel.enabled_box.setChecked(False)
    written(qtbot, panel)
    assert not tables.memory_enabled(thread_id)
    panel.show_thread(None)
    assert not panel.enabled_box.isEnabled() and not panel.add_button.isEnabled()
    panel.show_thread(thread_id)
    assert not panel.enabled_box.isChecked()


def test_the_shared_memory_switch_shows_and_edits_the_shared_slots(
    qtbot, thread, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    store, tables, thread_id = thread
    tables.save_slot(
        SlotRow(None, None, "I am vegetarian.", "user", _key(3), created_at=1.0, updated_at=1.0)
    )
    panel = MemoryPanel(store)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    assert not panel.global_box.isChecked() and not tables.global_memory()  # off by default
    assert "I am vegetarian." not in _texts(panel.slot_list)

    panel.global_box.setChecked(True)

    written(qtbot, panel)
    assert tables.global_memory()
    assert _texts(panel.slot_list) == [
        "I live in Lisbon.",
        "My cat is Biscuit.",
        "About you, in every thread:",
        "I am vegetarian.",
    ]
    assert not panel.slot_list.item(2).flags() & Qt.ItemFlag.ItemIsSelectable  # a heading
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("I am vegan.", True))
    panel.slot_list.setCurrentRow(3)
    panel.edit_button.click()
    written(qtbot, panel)
    assert [(s.text, s.pinned) for s in tables.slots(None)] == [("I am vegan.", True)]
    panel.slot_list.setCurrentRow(3)
    panel.forget_button.click()
    written(qtbot, panel)
    assert tables.slots(None) == [] and len(tables.slots(thread_id)) == 2

    panel.global_box.setChecked(False)

    written(qtbot, panel)
    assert not tables.global_memory()


def test_what_the_model_saw_lists_each_part(qtbot, thread) -> None:  # type: ignore[no-untyped-def]
    store, _tables, thread_id = thread
    panel = MemoryPanel(store)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    question = store.add_message(
        thread_id, Role.USER, "Where do I live, and what is my cat called?"
    )
    builder = ContextBuilder(store, lambda text: len(text.split()) + 1, None)
    now = dt.datetime(2026, 3, 5, 9).timestamp()
    built = builder.build(thread_id, "Be brief.", question, 160, now=now)
    panel.show_context(built, 321, 2048)
    label = panel.context_label.text()
    assert label.startswith("Prompt: 321 of 2048 tokens; memory used")
    assert "older messages were not sent verbatim" in label
    assert "Recall: chosen for this message" in label
    rows = _texts(panel.context_list)
    titles = [r.split(" — ")[0] for r in rows]
    assert titles[0] == "System prompt" and titles[-1] == "Your new message"
    assert (
        "Recalled older messages (kept while the topic holds)" in titles
        and "Recent messages" in titles
    )
    recalled = next(r for r in rows if r.startswith("Recalled older messages"))
    assert (
        "I live in Lisbon with my cat Biscuit." in recalled
    )  # the matching old message, with its count
    assert (
        f"{len(next(p for p in built.parts if p.kind == 'recall').sources)} source message(s)"
        in recalled
    )

    again = builder.build(thread_id, "Be brief.", question, 160, now=now)
    panel.show_context(again, 300, 2048)
    assert "Recall: kept from an earlier turn" in panel.context_label.text()
    panel.show_context(None, 120, 2048)
    assert panel.context_label.text() == "Prompt: 120 of 2048 tokens (recent messages only)."
    assert panel.context_list.count() == 0


def test_a_slot_that_changed_shows_its_history(qtbot, thread) -> None:  # type: ignore[no-untyped-def]
    from chatapp.store.memory_tables import SlotHistory

    store, tables, thread_id = thread
    may = dt.datetime(2026, 5, 3, 10).timestamp()
    home = next(s for s in tables.slots(thread_id) if s.text == "I live in Lisbon.")
    home.history = [SlotHistory(home.text, list(home.sources), home.created_at, may)]
    home.text, home.since, home.attribute = "These days I'm based in Porto.", may, "home"
    tables.save_slot(home)
    panel = MemoryPanel(store)
    qtbot.addWidget(panel)
    panel.show_thread(thread_id)
    shown = next(
        panel.slot_list.item(i)
        for i in range(panel.slot_list.count())
        if panel.slot_list.item(i).text().startswith("These days")
    )
    assert shown.text() == (
        "These days I'm based in Porto.\n    since 3 May 2026\n"
        "    earlier: I live in Lisbon.  (2 March 2026 – 3 May 2026)"
    )
    assert "home" in shown.toolTip() and "1 earlier value(s)" in shown.toolTip()
