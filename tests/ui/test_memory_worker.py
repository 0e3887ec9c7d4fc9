"""The memory thread's worker keeps the user's notes whatever the state of the embedding
model: written while it loads, written without a key when it cannot be loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.workers.memory import EmbedderHolder, MemoryWorker


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store.open(tmp_path / "notes.sqlite3")
    yield s
    s.close()


def test_a_note_written_while_the_model_loads_is_kept(qtbot, store) -> None:  # type: ignore[no-untyped-def]
    thread = store.create_thread("t")
    worker = MemoryWorker(store, EmbedderHolder())
    worker.add_note(thread.id, "My sister is called Eva.", True)  # before the model is ready
    assert MemoryTables(store).slots(thread.id) == []
    with qtbot.waitSignal(worker.ingested, timeout=60_000):
        worker.warm_up()
    (slot,) = MemoryTables(store).slots(thread.id)
    assert slot.text == "My sister is called Eva." and slot.pinned
    assert np.linalg.norm(slot.key) == pytest.approx(1.0, abs=1e-3)


def test_without_the_model_a_note_is_kept_and_gets_its_key_later(qtbot, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import chatapp.memory.embedder as embedder_module

    thread = store.create_thread("t")
    worker = MemoryWorker(store, EmbedderHolder())
    worker.add_note(thread.id, "I am allergic to nuts.", True)

    def broken() -> None:
        raise RuntimeError("The embedding model is not installed")

    monkeypatch.setattr(embedder_module, "shared_embedder", broken)
    with qtbot.waitSignal(worker.unavailable, timeout=5000) as failed:
        worker.warm_up()
    assert "could not be loaded" in failed.args[0]
    worker.add_note(thread.id, "I work nights.", True)  # after the failure: written at once
    slots = MemoryTables(store).slots(thread.id)
    assert [s.text for s in slots] == ["I am allergic to nuts.", "I work nights."]
    assert all(s.pinned and not np.any(s.key) for s in slots)

    monkeypatch.undo()  # a later session has the model: the next ingest gives the notes their keys
    embedder = embedder_module.shared_embedder()
    MemoryService(store, embedder.encode, embedder.name).ingest(thread.id)
    keys = [s.key for s in MemoryTables(store).slots(thread.id)]
    assert all(np.linalg.norm(k) == pytest.approx(1.0, abs=1e-3) for k in keys)
    assert float(keys[0] @ embedder.encode_one("I am allergic to nuts.")) > 0.99


def test_a_note_the_database_refuses_is_reported_with_its_text(qtbot, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import chatapp.memory.embedder as embedder_module

    thread = store.create_thread("t")
    worker = MemoryWorker(store, EmbedderHolder())

    def broken() -> None:
        raise RuntimeError("no model")

    monkeypatch.setattr(embedder_module, "shared_embedder", broken)
    with qtbot.waitSignal(worker.unavailable, timeout=5000):
        worker.warm_up()
    with store._tx() as conn:  # as a full disk or a locked database would
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON memory_slots"
            " BEGIN SELECT RAISE(ABORT, 'disk is full'); END"
        )
    with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
        worker.add_note(thread.id, "My passport number ends in 42.", True)
    assert "My passport number ends in 42." in failed.args[0] and "disk is full" in failed.args[0]


def test_a_long_history_catches_up_its_replies_after_the_users_messages(  # type: ignore[no-untyped-def]
    qtbot, store, monkeypatch
) -> None:
    """An imported history: the user's messages (and facts) are embedded by the ingest, the
    assistant's replies in steps queued behind it, and the worker says when all are in."""
    import chatapp.workers.memory as worker_module
    from chatapp.domain import Role

    monkeypatch.setattr(worker_module, "CATCH_UP", 3)
    thread = store.create_thread("t")
    for i in range(8):
        store.add_message(thread.id, Role.USER, f"Question {i}: what about the garden?")
        store.add_message(thread.id, Role.ASSISTANT, f"Answer {i}: plant beans in row {i}.")
    worker = MemoryWorker(store, EmbedderHolder())
    with qtbot.waitSignal(worker.ready, timeout=60_000):
        worker.warm_up()
    tables = MemoryTables(store)
    reports: list[object] = []
    worker.ingested.connect(lambda _tid, report: reports.append(report))
    worker.ingest(thread.id)
    assert len(reports) == 1 and reports[0].embedded == 8 + 3 and reports[0].replies_waiting
    assert len(tables.missing_embeddings(thread.id, user=False)) == 8 - 3
    assert tables.missing_embeddings(thread.id, user=True) == []
    qtbot.waitUntil(lambda: len(reports) == 2, timeout=60_000)
    assert reports[1] is None and tables.missing_embeddings(thread.id) == []
    assert tables.embedding_count(thread.id) == 16
