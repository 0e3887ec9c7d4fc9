"""Summaries with the real default model, in the background, never delaying a reply."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chatapp.domain import ChatMessage, GenerationSettings, Role
from chatapp.engine.backend import ModelSpec
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.memory import summaries
from chatapp.memory.summaries import SummaryParams
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.workers.engine import EngineController, ReplyRequest

pytestmark = pytest.mark.model

CHAT = [
    ("user", "Hi, I'm Ada. I just adopted a cat called Miso."),
    ("assistant", "Congratulations on adopting Miso! How is she settling in?"),
    ("user", "She hides under the sofa, but she loves tuna."),
    ("assistant", "That's normal for a new cat. Give her time and some tuna treats."),
] * 10


def make_thread(store: Store) -> int:
    t = store.create_thread("cat")
    for role, text in CHAT:
        store.add_message(t.id, Role(role), text)
    return t.id


def test_the_default_model_writes_a_usable_summary(tmp_path: Path, default_model: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    thread_id = make_thread(store)
    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model), n_ctx=2048, gpu="cpu"))

    def generate(messages, settings, cancel):  # type: ignore[no-untyped-def]
        return backend.generate(messages, settings, cancel, lambda _t: None).text

    job = summaries.next_job(store, thread_id, SummaryParams(keep_recent=8, span=8))
    assert job is not None
    assert summaries.run_job(store, job, generate, threading.Event(), "SmolLM2") is not None
    row = MemoryTables(store).summaries(thread_id)[0]
    assert len(row.text.split()) >= 5
    # about the chat, not more of it: asked to "summarize", this model went on with the
    # dialogue ("User: …") and made people up
    assert "Miso" in row.text or "cat" in row.text.lower()
    assert not any(
        line.strip().startswith(("User:", "Assistant:")) for line in row.text.splitlines()
    )
    assert not row.text.startswith(("I ", "I'm", "My "))
    assert row.message_ids == [m.id for m in store.path(thread_id, 0, 8)]
    backend.unload()
    store.close()


def test_a_reply_cancels_the_background_summary(qtbot, tmp_path: Path, default_model: Path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "db.sqlite3")
    thread_id = make_thread(store)
    engine = EngineController(LlamaBackend, store=store)
    with qtbot.waitSignal(engine.loaded, timeout=30000):
        engine.load(ModelSpec(str(default_model), n_ctx=2048, gpu="cpu"))
    job = engine.summarize(thread_id)
    question = store.add_message(thread_id, Role.USER, "What is my cat called?")
    request = ReplyRequest(
        None,
        [ChatMessage("user", question.content)],
        GenerationSettings(max_tokens=20, temperature=0),
        thread_id=thread_id,
        message=question,
    )
    with qtbot.waitSignals([engine.finished, engine.summarized], timeout=60000, order="none"):
        assert engine.reply(request)
        assert job.cancel.is_set()  # the reply request stops the summary at once
    assert engine.shutdown(10000)
    store.close()


def test_a_big_enough_model_reads_new_messages_for_facts(
    qtbot, tmp_path: Path, default_model: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.memory import extraction
    from chatapp.memory.embedder import shared_embedder

    store = Store.open(tmp_path / "db.sqlite3")
    thread = store.create_thread("facts")
    message = store.add_message(
        thread.id,
        Role.USER,
        "My name is Ada and I moved to Lisbon last month. I work as a nurse at the city hospital.",
    )
    store.add_message(thread.id, Role.ASSISTANT, "Nice to meet you, Ada!")
    engine = EngineController(LlamaBackend, store=store, embed=shared_embedder().encode_one)
    with qtbot.waitSignal(engine.loaded, timeout=30000):
        engine.load(ModelSpec(str(default_model), n_ctx=2048, gpu="cpu"))

    def reads() -> dict[int, int]:
        return dict(store._query("SELECT message_id, facts FROM fact_reads"))

    # SmolLM2-135M is below the size that is asked: its slots come from the rules alone
    with qtbot.waitSignal(engine.summarized, timeout=60000):
        engine.summarize(thread.id)
    assert reads() == {}

    # asked anyway, it mostly invents a persona: only what the message backs may be kept
    monkeypatch.setattr(extraction, "MIN_PARAMS", 100_000_000)
    with qtbot.waitSignal(engine.summarized, timeout=60000):
        engine.summarize(thread.id)
    assert list(reads()) == [message.id]
    slots = MemoryTables(store).slots(thread.id)
    assert len(slots) <= reads()[message.id]
    for slot in slots:
        assert slot.sources == [message.id]
        assert extraction.parse(slot.text, message.content) == [slot.text]
    assert engine.shutdown(10000)
    store.close()
