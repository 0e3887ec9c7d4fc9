"""The prompt's layout for llama.cpp's KV cache: a recall block chosen again keeps the lines
the earlier block also showed in place, so the prompt's prefix holds up to them. A real store
and the real embedder; a word-count tokenizer stands in for the model's."""

from __future__ import annotations

from chatapp.domain import Role
from chatapp.memory.builder import BuilderParams, BuiltContext, ContextBuilder
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from tests.unit.memory.thread_helpers import ask, day, words


def a_thread(store: Store) -> int:
    """Six days of talk about films, cooking and work, each on its own day and hour."""
    t = store.create_thread("topics")
    lines = [
        "We watched a film about the sea and liked the music.",
        "I cooked a tomato soup with basil for my sister.",
        "At work the night shift at the hospital was long.",
        "The film festival shows old films about ships.",
        "The soup needed more salt and some bread.",
        "My manager at the hospital moved me to day shifts.",
    ]
    for d in range(6):
        for j, line in enumerate(lines):
            when = day(d, 9 + j)
            store.add_message(t.id, Role.USER, f"{line} (day {d})", created_at=when)
            store.add_message(t.id, Role.ASSISTANT, "Good to hear.", created_at=when + 30)
    return t.id


def block(built: BuiltContext) -> tuple[int, ...]:
    return next(p for p in built.parts if p.kind == "recall").sources


def test_a_block_chosen_again_keeps_what_stays_in_place(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = a_thread(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    # keep_coverage 1.0: the block is chosen again for every message
    builder = ContextBuilder(
        store, words, embedder.encode_one, params=BuilderParams(keep_coverage=1.0, top_share=0.0)
    )
    first = builder.build(
        thread_id,
        "sys",
        ask(store, thread_id, "Which films did we watch?", day(7)),
        250,
        now=day(7),
    )
    second = builder.build(
        thread_id,
        "sys",
        ask(store, thread_id, "Which films and which soup did we talk about?", day(7) + 60),
        250,
        now=day(7) + 60,
    )
    assert not second.recall_kept
    before, after = block(first), block(second)
    stayed = [i for i in before if i in after]
    assert stayed and set(after) != set(before)  # some lines stayed, some changed
    assert after[: len(stayed)] == tuple(stayed)  # in their earlier order, ahead of the new
    assert len(after) > len(stayed)
    new = after[len(stayed) :]
    depths = {m.id: m.depth for m in store.path(thread_id)}
    assert [depths[i] for i in new] == sorted(depths[i] for i in new)
    # the system message is the same up to the first line that did not stay
    shown = first.messages[0].content
    lines = [line for line in shown.split("\n") if line.startswith("- ")]
    same = 0
    while same < len(before) and before[same] in after:
        same += 1
    if same < len(lines):
        upto = shown.index(lines[same])
        assert second.messages[0].content[:upto] == shown[:upto]
    assert second.memory_tokens <= 250


def test_a_kept_block_is_shown_in_its_own_order_and_within_budget(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = a_thread(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(
        store, words, embedder.encode_one, params=BuilderParams(keep_coverage=1.0, top_share=0.0)
    )
    builder.build(
        thread_id,
        "sys",
        ask(store, thread_id, "Which films did we watch?", day(7)),
        250,
        now=day(7),
    )
    mixed = builder.build(
        thread_id,
        "sys",
        ask(store, thread_id, "Films, soup and the hospital shifts?", day(7) + 60),
        250,
        now=day(7) + 60,
    )
    # keep the block from here on: the next build shows it as laid out, days headed per run
    builder.params = BuilderParams(keep_coverage=0.0, top_share=0.0)
    again = builder.build(
        thread_id,
        "sys",
        ask(store, thread_id, "And the films again?", day(7) + 120),
        250,
        now=day(7) + 120,
    )
    assert again.recall_kept and block(again) == block(mixed)
    kept = next(p for p in again.parts if p.kind == "recall")
    headed = [line for line in kept.text.split("\n") if line.startswith("On ")]
    lines = [line for line in kept.text.split("\n") if line.startswith("- ")]
    assert len(lines) == len(block(mixed))
    # the block's counted cost covers each heading it shows, a day headed twice included
    assert kept.tokens >= sum(words(line) for line in headed + lines)
    assert again.memory_tokens <= 250
