"""Summaries with the real default model, in the background, never delaying a reply."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chatapp.domain import ChatMessage, Role
from chatapp.engine.backend import ModelSpec
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.memory import summaries
from chatapp.memory.summaries import SummaryParams
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.workers.engine import EngineController, ReplyRequest
from chatapp.domain import GenerationSettings

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
        None, [ChatMessage("user", question.content)], GenerationSettings(max_tokens=20, temperature=0),
        thread_id=thread_id, message=question,
    )
    with qtbot.waitSignals([engine.finished, engine.summarized], timeout=60000, order="none"):
        assert engine.reply(request)
        assert job.cancel.is_set()  # the reply request stops the summary at once
    assert engine.shutdown(10000)
    store.close()
