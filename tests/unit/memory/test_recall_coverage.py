"""What the recall room is spent on: the user's own statements against long replies that can
only be shown as an excerpt (real store, real embedder, a word-count tokenizer)."""

from __future__ import annotations

from chatapp.domain import Role
from chatapp.memory.builder import BuilderParams, ContextBuilder
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from tests.unit.memory.thread_helpers import ask, chatter, day, words

STATEMENTS = [
    "I volunteered at the Portland Film Festival last weekend and met some directors.",
    "I just got back from AFI Fest in Los Angeles, the film festival screenings were great.",
    "This spring I went to the Sundance Film Festival with my sister.",
]


def festival_reply(n: int) -> str:
    """A long, chatty reply about film festivals in general: it matches the question's words
    and meaning at least as well as the statements do, but says nothing about the user."""
    sentences = [
        f"Which film festivals to attend depends on what you like, part {n}.",
        "Many people attend film festivals as volunteers, for the panels and workshops.",
        "Screenings at film festivals sell out, so attend the ones you want early.",
        "Some film festivals are about documentaries, others about independent films.",
    ]
    return " ".join(sentences[i % len(sentences)] for i in range(24))


def festival_thread(store: Store) -> tuple[int, list[str]]:
    t = store.create_thread("festivals")
    for d, statement in enumerate(STATEMENTS):
        store.add_message(t.id, Role.USER, statement, created_at=day(d))
        store.add_message(t.id, Role.ASSISTANT, festival_reply(d), created_at=day(d) + 30)
    for j in range(40):
        store.add_message(
            t.id, Role.USER, f"Chatter {j} about the weather and lunch.", created_at=day(6) + j * 60
        )
        store.add_message(
            t.id,
            Role.ASSISTANT,
            f"A reply about lunch number {j}.",
            created_at=day(6) + j * 60 + 30,
        )
    return t.id, STATEMENTS


def test_the_users_statements_come_before_excerpts_of_long_replies(  # type: ignore[no-untyped-def]
    store: Store, embedder
) -> None:
    """The replies rank with the statements, but each shows only an excerpt of itself; the
    statements are shown whole, and in a room too small for all of them and the excerpts,
    the statements are what the room holds (the best hit still goes with the message)."""
    thread_id, statements = festival_thread(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    params = BuilderParams()
    assert words(festival_reply(0)) > params.excerpt_tokens  # shown only as an excerpt
    question = ask(store, thread_id, "Which film festivals did I attend?", day(9))
    builder = ContextBuilder(store, words, embedder.encode_one, params)
    built = builder.build(thread_id, "", question, 230, now=day(9))
    shown = "\n".join(p.text for p in built.parts if p.kind in ("recall", "recall_new"))
    for statement in statements:  # whole (a line may add what a later statement changed)
        assert f"- User: {statement}" in shown, shown
    assert built.memory_tokens <= 230


def test_a_long_best_hit_still_goes_with_the_message(  # type: ignore[no-untyped-def]
    store: Store, embedder
) -> None:
    """Ordering by what a line shows does not drop the very best hit when it is a long reply:
    a question about what the assistant said gets that reply's matching sentences."""
    t = store.create_thread("recipe")
    reply = " ".join(
        [
            "Here is a long answer about many kitchen things.",
            *[f"General kitchen tip number {i} about pans and knives." for i in range(30)],
            "For the classic French omelette, whisk three eggs with a pinch of salt.",
            *[f"More kitchen advice number {i} about ovens." for i in range(20)],
        ]
    )
    store.add_message(t.id, Role.USER, "How do I cook eggs well?", created_at=day(0))
    store.add_message(t.id, Role.ASSISTANT, reply, created_at=day(0) + 30)
    chatter(store, t.id, 40, day(2))
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    question = ask(store, t.id, "How many eggs did you say the French omelette needs?", day(5))
    built = ContextBuilder(store, words, embedder.encode_one).build(
        t.id, "", question, 400, now=day(5)
    )
    shown = "\n".join(p.text for p in built.parts if p.kind in ("recall", "recall_new"))
    assert "whisk three eggs" in shown and built.memory_tokens <= 400, shown
