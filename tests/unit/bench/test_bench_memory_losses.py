"""bench memory: where the evidence a context lacks was lost, and when a question is asked."""

from __future__ import annotations

import datetime as dt

from chatapp.bench.memory import _evidence_ranks, _lost, asked_at
from chatapp.domain import Message, MessageStatus, Role
from chatapp.memory.builder import BuiltContext, ContextPart


def message(mid: int, text: str) -> Message:
    return Message(mid, 1, None, Role.USER, text, 0.0, MessageStatus.COMPLETE, depth=mid)


def test_each_missing_evidence_turn_is_put_down_to_one_cause() -> None:
    by_dia = {
        "D1:1": message(1, "I adopted a cat named Pip."),  # carried verbatim
        "D1:2": message(2, "I live in Porto."),  # carried by a slot
        "D1:3": message(3, "A very long reply. " * 20),  # shown as an excerpt
        "D1:4": message(4, "I teach maths now."),  # ranked, no room
        "D1:5": message(5, "My sister is called Ines."),  # not ranked
    }
    parts = [
        ContextPart("slots", "- I live in Porto.", 5, (2,), (7,)),
        ContextPart("recall", "- User: I adopted a cat named Pip.\n- User: A very …", 12, (1, 3)),
    ]
    built = BuiltContext([], parts, 100, 17, recall_ranking=(1, 3, 4))
    context = "\n".join(p.text for p in parts)
    lost = _lost(built, context, list(by_dia), by_dia)
    assert lost == {"excerpted": 0.2, "no room": 0.2, "not ranked": 0.2}
    assert _lost(built, context, ["D1:1", "D1:2"], by_dia) == {}


def test_the_dump_gives_each_evidence_turns_recall_rank() -> None:
    by_dia = {f"D1:{n}": message(n, f"turn {n}") for n in (1, 2, 3)}
    built = BuiltContext([], [], 100, 0, recall_ranking=(7, 3, 9, 1))
    # rank 0 is the best hit; a turn recall did not rank at all has none
    assert _evidence_ranks(built, ["D1:1", "D1:2", "D1:3"], by_dia) == {
        "D1:1": 3,
        "D1:2": None,
        "D1:3": 1,
    }


def test_a_question_is_asked_at_its_date_but_not_before_the_history_ends() -> None:
    end = dt.datetime(2023, 4, 21, 22, 47).timestamp()
    dated = {
        "question": "What did I plant two weeks ago?",
        "question_date": "2023/05/05 (Fri) 16:42",
    }
    assert asked_at(dated, end) == dt.datetime(2023, 5, 5, 16, 42).timestamp()
    early = {**dated, "question_date": "2023/04/20 (Thu) 10:00"}
    assert asked_at(early, end) == end
    assert asked_at({"question": "Where?"}, end) == end  # LoCoMo: no date given
    assert asked_at({**dated, "question_date": "soon"}, end) == end
