"""A message in the recent window keeps the recalled lines it was sent with (on a real store with
the real embedder; a word-count tokenizer stands in for the model's)."""

from __future__ import annotations

import itertools

from chatapp.domain import Message, Role
from chatapp.memory.builder import BuiltContext, ContextBuilder, params_for
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from tests.unit.memory.test_builder import synthetic_weeks
from tests.unit.memory.thread_helpers import ask, day, words

BUDGET = 1000
FILM_QUESTIONS = [
    "What did we say about films?",
    "Which films did we talk about?",
    "And what about the weather and films?",
    "Were any of those films good?",
    "Tell me about films again.",
    *(f"More on films, {i}?" for i in range(6)),
]


def _turns(store: Store, builder: ContextBuilder, thread_id: int, questions: list[str]):  # type: ignore[no-untyped-def]
    """Each question asked and answered in turn, two minutes apart on day 8: (question, build)."""
    out: list[tuple[Message, BuiltContext]] = []
    for i, text in enumerate(questions):
        when = day(8) + 120 * i
        asked = ask(store, thread_id, text, when)
        out.append((asked, builder.build(thread_id, "sys", asked, BUDGET, now=when)))
        store.add_message(
            thread_id, Role.ASSISTANT, f"Answer {i} about films.", created_at=when + 60
        )
    return out


def _first_held(turns):  # type: ignore[no-untyped-def]
    """The first turn that holds what the turn before it was sent with, and that turn."""
    return next(
        (a, b) for a, b in itertools.pairwise(turns) if _kind(b[1], "recall_held") is not None
    )


def _kind(built: BuiltContext, kind: str):  # type: ignore[no-untyped-def]
    return next((p for p in built.parts if p.kind == kind), None)


def test_the_prompt_holds_up_to_the_new_message(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(store, words, embedder.encode_one)
    # (the window's start moves in steps of eight messages, and the lines are dropped when the
    # window grows into their room)
    (_q2, second), (_q3, third) = _first_held(_turns(store, builder, thread_id, FILM_QUESTIONS))
    assert second.window_start == third.window_start and third.recall_kept
    sent = second.messages[-1].content
    assert sent.startswith("(From earlier in our conversation:")  # it carried recalled lines
    # the second prompt, message by message, is where the third begins: llama.cpp reads only the
    # reply and the new message
    assert third.messages[: len(second.messages)] == second.messages
    held = _kind(third, "recall_held")
    assert held is not None
    assert set(held.sources) == set(_kind(second, "recall_new").sources)
    assert held.text in sent and held.tokens > 0
    assert third.memory_tokens <= BUDGET
    # counted in the memory's tokens like every other part
    assert third.memory_tokens == sum(
        p.tokens for p in third.parts if p.kind not in ("system", "message")
    )
    # in the memory panel's words
    from chatapp.ui.memory_panel import _KIND_NAMES

    assert "earlier messages" in _KIND_NAMES["recall_held"]


def test_an_edited_message_is_shown_as_it_reads_now(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(store, words, embedder.encode_one)
    (asked, second), (answered, _third) = _first_held(
        _turns(store, builder, thread_id, FILM_QUESTIONS)
    )
    # changed in place (the store's own guard; the app's edit makes a new version, a new id),
    # then the reply after it made again
    store.update_message(asked.id, content="Which films did we really talk about?")
    again = builder.build(thread_id, "sys", answered, BUDGET, now=answered.created_at)
    assert _kind(again, "recall_held") is None
    shown = [m.content for m in again.messages]
    assert "Which films did we really talk about?" in shown  # plain, not the old text as sent
    assert second.messages[-1].content not in shown


def test_a_new_window_start_drops_them(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(store, words, embedder.encode_one)
    builds = [b for _q, b in _turns(store, builder, thread_id, FILM_QUESTIONS)]
    for before, after in itertools.pairwise(builds):
        held = _kind(after, "recall_held")
        if after.window_start != before.window_start:
            assert held is None  # the window is read again anyway: its room is recall's again
        assert after.memory_tokens <= BUDGET
    assert any(b.window_start != builds[0].window_start for b in builds[1:])
    assert any(_kind(b, "recall_held") is not None for b in builds[1:])


def test_on_a_gpu_nothing_is_held(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(store, words, embedder.encode_one, params=params_for(on_gpu=True))
    builds = [b for _q, b in _turns(store, builder, thread_id, FILM_QUESTIONS[:2])]
    assert all(_kind(b, "recall_held") is None for b in builds)
    assert builds[1].messages[-3].content.endswith("\nWhat did we say about films?")


def test_a_question_not_in_the_thread_gets_all_of_the_turns_room(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    """Asked of the memory alone (not stored, as `bench memory` asks in a row), a message has no
    later turn to keep its lines for: nothing is set aside for them."""
    import dataclasses

    from chatapp.domain import MessageStatus
    from chatapp.memory.builder import BuilderParams

    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    holding = ContextBuilder(store, words, embedder.encode_one)
    plain = ContextBuilder(store, words, embedder.encode_one, params=BuilderParams(hold_sent=False))
    last = store.path(thread_id)[-1]
    topics = [
        "What did we say about films?",
        "Where do I work?",
        "What is my job at the hospital like?",
        "Which city do I live in now?",
        "Did I move to Lisbon?",
    ]
    for i, text in enumerate(topics):
        question = Message(
            -1,
            thread_id,
            last.id,
            Role.USER,
            text,
            day(8) + i,
            MessageStatus.COMPLETE,
            depth=last.depth + 1,
        )
        a = holding.build(thread_id, "sys", question, BUDGET, now=day(8) + i)
        b = plain.build(thread_id, "sys", question, BUDGET, now=day(8) + i)
        assert a.messages == b.messages and dataclasses.replace(a, parts=[]) == dataclasses.replace(
            b, parts=[]
        )
    assert a.recall_kept  # the block was kept: the turn had per-turn room to share
