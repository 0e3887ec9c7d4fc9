"""Evidence per token: bench memory says where a context's recall tokens go, read from a real
build (a real SQLite store, the real builder; a word count stands in for the tokenizer)."""

from __future__ import annotations

import re

from chatapp.bench.memory import _recall_spend
from chatapp.domain import Role
from chatapp.memory.builder import _LETTER, BuilderParams, ContextBuilder, _sentences
from chatapp.store import Store
from tests.unit.memory.thread_helpers import ask, day, words


def test_the_recall_tokens_are_split_into_headings_prefixes_notes_and_text(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    store = Store.open(tmp_path / "density.sqlite3")
    try:
        t = store.create_thread("garden")
        for d in range(6):
            store.add_message(
                t.id, Role.USER, f"On day {d} I planted tomatoes.\nThey grow.", created_at=day(d)
            )
            store.add_message(
                t.id,
                Role.ASSISTANT,
                "Films aside, here is more. Tomatoes like sun. They want water daily. "
                "Stake them early. Pick them red. The garden will thank you.",
                created_at=day(d) + 30,
            )
            for j in range(10):
                store.add_message(
                    t.id, Role.USER, f"Chatter {d}.{j} about films.", created_at=day(d, 14) + j
                )
        question = ask(store, t.id, "What did I plant in the garden?", day(9))
        builder = ContextBuilder(
            store, words, params=BuilderParams(recent_share=0.05, excerpt_tokens=16, cut_tokens=10)
        )
        built = builder.build(t.id, "", question, 400, now=day(9))
        spend = _recall_spend(built, words)
        recalled = [p for p in built.parts if p.kind in ("recall", "recall_new")]
        lines = [x for p in recalled for x in p.text.split("\n")]
        headed = [x for x in lines if x.startswith("On ") and x.endswith("):")]
        shown = [x for x in lines if x.startswith("- ")]
        # a message's own line break is no heading: it goes on with its line
        continued = [x for x in lines if x not in headed and x not in shown]
        assert continued and spend["lines"] == len(shown) >= 6
        assert spend["headings"] == len(headed) >= 2
        assert spend["tokens"] == sum(words(x) + 1 for x in lines)
        # each shown line pays its "- User:" prefix: words() counts it 3, and the newline 1
        assert spend["prefix_tokens"] == 4 * spend["lines"]
        # the rest is the lines' own words (words() counts a line's prefix 3, its newline 1)
        texts = [x.split(":", 1)[1] for x in shown]
        assert spend["text_tokens"] == sum(len(x.split()) for x in texts) + sum(
            words(x) + 1 for x in continued
        )
        assert spend["heading_tokens"] == sum(words(x) + 1 for x in headed)
        # the long replies are cut to excerpts, and each "…" they show is counted
        assert spend["ellipses"] == sum(x.count("…") for x in texts) > 0
        assert spend["note_tokens"] == 0
    finally:
        store.close()


def test_a_piece_without_letters_is_no_sentence_of_its_own() -> None:
    reply = (
        "Here are three series you may like:\n1. **Red Dwarf**: a sci-fi comedy.\n"
        "2. Discworld, by Pratchett.\n3.\n**The Hitchhiker's Guide** again!\n\n---\n- 42"
    )
    pieces = _sentences(reply)
    assert all(_LETTER.search(p) for p in pieces)
    assert pieces[1].startswith("1. ") and pieces[-1].startswith("3. **The")
    assert pieces[-1].endswith("again! --- - 42")  # trailing marks join the last sentence
    assert " ".join(pieces).split() == reply.split()  # nothing is lost
    assert _sentences("1. 2. 3.") == ["1. 2. 3."] and _sentences("") == [""]


def test_a_cut_of_a_numbered_reply_shows_no_bare_numbers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(tmp_path / "list.sqlite3")
    try:
        t = store.create_thread("books")
        items = " ".join(
            f"{i}. The book number {i} is about {'sailing boats' if i == 5 else 'cooking'}."
            for i in range(1, 9)
        )
        reply = store.add_message(
            t.id, Role.ASSISTANT, f"Some books for you. {items} Enjoy them.", created_at=day(0)
        )
        builder = ContextBuilder(
            store, words, params=BuilderParams(excerpt_tokens=30, cut_tokens=23)
        )
        line, _cost = builder._excerpt(reply, day(3), lambda: {"saili", "boats"})
        assert "sailing boats" in line and "…" in line
        assert not re.search(r"\b\d+\. …", line), line  # a bare "6." before a gap
    finally:
        store.close()
