"""The context builder on a real store with the real embedder (a word-count tokenizer stands in
for the model's, so the property test can run many cases quickly)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.domain import Message, MessageStatus, Role
from chatapp.memory.builder import BuilderParams, ContextBuilder, params_for
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.words import CLAUSE
from tests.unit.memory.thread_helpers import ask, chatter, day, words


def synthetic_weeks(store: Store) -> int:
    """A multi-day thread: facts on day 1, a contradiction on day 5, chatter between."""
    t = store.create_thread("weeks")
    script = {
        0: [
            "My name is Ada and I live in Berlin.",
            "I work as a nurse at the children's hospital.",
        ],
        4: ["Big news: I moved to Lisbon last weekend."],
    }
    for d in range(8):
        for i, line in enumerate(script.get(d, [])):
            store.add_message(t.id, Role.USER, line, created_at=day(d, 9 + i))
            store.add_message(
                t.id, Role.ASSISTANT, "That is good to know.", created_at=day(d, 9 + i) + 30
            )
        for j in range(12):
            store.add_message(
                t.id,
                Role.USER,
                f"Day {d} chatter {j} about the weather and films.",
                created_at=day(d, 12) + j * 60,
            )
            store.add_message(
                t.id,
                Role.ASSISTANT,
                f"A reply about films and weather number {j}.",
                created_at=day(d, 12) + j * 60 + 30,
            )
    return t.id


def test_multi_day_facts_reach_the_context(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    slots = [s.text for s in MemoryTables(store).slots(thread_id)]
    assert "I moved to Lisbon last weekend." in slots
    assert "My name is Ada." in slots
    assert not any("live in Berlin" in s for s in slots)  # replaced by the move
    question = ask(store, thread_id, "Which city do I live in now, and what is my job?", day(8))
    builder = ContextBuilder(store, words, embedder.encode_one)
    built = builder.build(thread_id, "You are kind.", question, 300, now=day(8))
    text = "\n".join(m.content for m in built.messages)
    assert "Lisbon" in text and "nurse" in text
    assert built.memory_tokens <= 300
    kinds = [p.kind for p in built.parts]
    assert (
        kinds[0] == "system" and kinds[-1] == "message" and "slots" in kinds and "recent" in kinds
    )
    recalled = next((p for p in built.parts if p.kind == "recall"), None)
    if recalled is not None:
        assert "On Sunday 1 March 2026" in recalled.text or "days ago" in recalled.text
    assert "Today is Monday 9 March 2026." in built.messages[0].content
    assert built.left_out["recent"] > 0  # most of the thread was not sent verbatim


def test_parts_carry_their_sources(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    question = ask(store, thread_id, "Where do I work?", day(8))
    built = ContextBuilder(store, words, embedder.encode_one).build(
        thread_id, "", question, 250, now=day(8)
    )
    contents = {m.id: m.content for m in store.path(thread_id)}
    for part in built.parts:
        if part.kind in ("recall", "recall_new", "recent"):
            for source in part.sources:
                assert contents[source] in part.text


def test_memory_off_is_a_plain_recent_window(store: Store) -> None:
    thread_id = synthetic_weeks(store)
    question = ask(store, thread_id, "Where do I live?", day(8))
    built = ContextBuilder(store, words, None).build(
        thread_id, "sys", question, 120, now=day(8), memory=False
    )
    assert [p.kind for p in built.parts] == ["system", "recent", "message"]
    assert built.memory_tokens <= 120


def test_a_short_thread_goes_in_whole(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    t = store.create_thread()
    for i in range(3):
        store.add_message(t.id, Role.USER, f"question {i} " + "long words " * 40)
        store.add_message(t.id, Role.ASSISTANT, f"answer {i} " + "long reply " * 60)
    q = ask(store, t.id, "and now?", day(1))
    built = ContextBuilder(store, words, embedder.encode_one).build(t.id, "", q, 2000, now=day(1))
    assert [p.kind for p in built.parts] == ["recent", "message"]
    assert len(built.messages) == 8  # the date line, six messages verbatim, the new one
    assert built.messages[0].content.startswith("Today is")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lengths=st.lists(st.integers(min_value=0, max_value=120), min_size=1, max_size=60),
    budget=st.integers(min_value=0, max_value=800),
    system=st.text(max_size=40),
)
def test_memory_never_exceeds_its_budget(
    store: Store, lengths: list[int], budget: int, system: str
) -> None:
    t = store.create_thread()
    for i, n in enumerate(lengths):
        store.add_message(
            t.id,
            Role.USER if i % 2 == 0 else Role.ASSISTANT,
            " ".join(["w"] * n),
            created_at=day(i % 20),
        )
    q = ask(store, t.id, "what did we say about w?", day(25))
    builder = ContextBuilder(store, words, None)
    built = builder.build(t.id, system, q, budget, now=day(25))
    assert built.memory_tokens <= budget
    assert (
        sum(
            p.tokens
            for p in built.parts
            if p.kind in ("slots", "summary", "recall", "recall_new", "recent")
        )
        <= budget
    )
    assert built.messages[-1].role == "user" and built.messages[-1].content.endswith(q.content)
    # the same builder again with less room: a recall block kept from the first build fits or goes
    smaller = builder.build(t.id, system, q, budget // 2, now=day(25))
    assert smaller.memory_tokens <= budget // 2


def test_recall_dedupes_against_the_recent_window(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    q = ask(store, thread_id, "films and weather", day(8))
    built = ContextBuilder(store, words, embedder.encode_one).build(
        thread_id, "", q, 400, now=day(8)
    )
    recent = next(p for p in built.parts if p.kind == "recent")
    recalled = [i for p in built.parts if p.kind in ("recall", "recall_new") for i in p.sources]
    assert recalled and not set(recent.sources) & set(recalled)
    assert len(set(recalled)) == len(recalled)  # the kept block and the per-turn part do not repeat
    assert max(store.message(i).depth for i in recalled) < min(
        store.message(i).depth for i in recent.sources
    )


def _system_up_to_summary(built) -> str:  # type: ignore[no-untyped-def]
    """The system message's start: prompt, date, kept excerpts (what must hold for the cache)."""
    return (
        built.messages[0].content.split("Summary of the earlier")[0].split("What you know about")[0]
    )


def test_the_recall_block_is_kept_while_the_topic_holds(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(store, words, embedder.encode_one)
    first = builder.build(
        thread_id,
        "sys",
        ask(store, thread_id, "What did we say about films?", day(8)),
        400,
        now=day(8),
    )
    assert not first.recall_kept and first.recall_coverage is not None
    # a fresh choice passes its own keep rule (its two blocks head their days twice, so < 100%)
    assert builder.params.keep_coverage <= first.recall_coverage <= 1.0
    kept = next(p for p in first.parts if p.kind == "recall")
    assert "Excerpts from earlier in this conversation:" in first.messages[0].content
    assert kept.text in first.messages[0].content  # in the system message, before the recent window
    store.add_message(
        thread_id, Role.ASSISTANT, "We talked about films a lot.", created_at=day(8) + 10
    )
    second = builder.build(
        thread_id,
        "sys",
        ask(store, thread_id, "Which films did we talk about?", day(8) + 20),
        400,
        now=day(8) + 20,
    )
    assert second.recall_kept and second.recall_coverage >= builder.params.keep_coverage
    assert next(p for p in second.parts if p.kind == "recall").sources == kept.sources
    assert _system_up_to_summary(second) == _system_up_to_summary(first)  # llama.cpp reuses it
    assert second.memory_tokens <= 400
    # the best matches for the new message come with the message (some may be in the block too)
    added = next(p for p in second.parts if p.kind == "recall_new")
    assert added.text in second.messages[-1].content
    best = builder.build(thread_id, "sys", store.path(thread_id)[-1], 400, now=day(8) + 20)
    assert set(next(p for p in best.parts if p.kind == "recall_new").sources) == set(
        added.sources
    )  # stable


def test_a_new_topic_brings_what_it_needs(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(store, words, embedder.encode_one)
    builder.build(
        thread_id,
        "",
        ask(store, thread_id, "Tell me about the weather and films.", day(8)),
        300,
        now=day(8),
    )
    job = builder.build(
        thread_id, "", ask(store, thread_id, "Where do I work?", day(8) + 60), 300, now=day(8) + 60
    )
    text = "\n".join(m.content for m in job.messages)
    assert "nurse at the children's hospital" in text  # kept or not, the best match is shown
    assert job.recall_coverage is not None and job.recall_coverage >= builder.params.keep_coverage


def test_the_block_is_chosen_again_below_the_coverage(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    strict = ContextBuilder(
        store, words, embedder.encode_one, params=BuilderParams(keep_coverage=1.0)
    )
    films = strict.build(
        thread_id,
        "",
        ask(store, thread_id, "Tell me about the weather and films.", day(8)),
        300,
        now=day(8),
    )
    job = strict.build(
        thread_id, "", ask(store, thread_id, "Where do I work?", day(8) + 60), 300, now=day(8) + 60
    )
    assert not job.recall_kept
    block = next(p for p in job.parts if p.kind == "recall").sources
    assert (
        block != next(p for p in films.parts if p.kind == "recall").sources
    )  # chosen for the new topic
    assert (
        "nurse" in next(p for p in job.parts if p.kind == "recall_new").text
    )  # the best, with the message


def test_a_kept_message_edited_away_is_not_shown_again(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    service = MemoryService(store, embedder.encode, embedder.name)
    service.ingest(thread_id)
    # nothing set apart for the message itself, so the best match lands in the kept block
    builder = ContextBuilder(store, words, embedder.encode_one, params=BuilderParams(top_share=0.0))
    first = builder.build(
        thread_id, "", ask(store, thread_id, "What do I do for work?", day(8)), 300, now=day(8)
    )
    nurse = next(m for m in store.path(thread_id) if "nurse" in m.content)
    assert nurse.id in next(p for p in first.parts if p.kind == "recall").sources
    store.edit_message(
        nurse.id, "I work as a baker."
    )  # a new version: the thread goes on from there
    for j in range(
        40
    ):  # long enough again for recall, so the kept block is checked, not just dropped
        store.add_message(
            thread_id, Role.USER, f"Later chatter {j} about films.", created_at=day(9) + j * 60
        )
        store.add_message(
            thread_id,
            Role.ASSISTANT,
            f"Later reply {j} about films.",
            created_at=day(9) + j * 60 + 30,
        )
    service.ingest(thread_id)
    question = ask(store, thread_id, "What do I do for work?", day(10))
    again = builder.build(thread_id, "", question, 300, now=day(10))
    assert again.left_out["recent"] > 0 and not again.recall_kept  # recall ran, and chose afresh
    text = "\n".join(m.content for m in again.messages)
    assert "nurse" not in text and "I work as a baker." in text


def _unused(_: Message, __: MessageStatus) -> None:  # keep imports honest for type checkers
    pass


def test_on_a_gpu_recall_is_chosen_for_every_message(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    builder = ContextBuilder(store, words, embedder.encode_one, params=params_for(on_gpu=True))
    builder.build(
        thread_id,
        "",
        ask(store, thread_id, "Tell me about the weather and films.", day(8)),
        300,
        now=day(8),
    )
    job = builder.build(
        thread_id, "", ask(store, thread_id, "Where do I work?", day(8) + 60), 300, now=day(8) + 60
    )
    assert not job.recall_kept
    assert (
        "nurse" in next(p for p in job.parts if p.kind == "recall_new").text
    )  # the best, with the message


LONG_REPLY = " ".join(
    [f"Here is general advice number {i} about keeping a tidy home office." for i in range(40)][:20]
    + ["The blue notebook with the tax papers is in the attic drawer."]
    + [f"More general advice number {i} about desks, lamps and chairs." for i in range(40)][:20]
)


def test_a_long_recalled_message_is_cut_to_what_matches(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    """A long reply would fill the recall room alone: it is cut to its first sentence and the
    sentences that match, and a kept block shows it as it was cut, turn after turn."""
    t = store.create_thread("long")
    store.add_message(
        t.id,
        Role.USER,
        "Where should I keep the blue notebook with my tax papers?",
        created_at=day(0),
    )
    store.add_message(t.id, Role.ASSISTANT, LONG_REPLY, created_at=day(0) + 30)
    chatter(store, t.id, 30, day(2))
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    params = BuilderParams(excerpt_tokens=60, cut_tokens=60)
    builder = ContextBuilder(store, words, embedder.encode_one, params)
    assert words(LONG_REPLY) > 400  # more than the whole memory budget below

    first = builder.build(
        t.id,
        "",
        ask(store, t.id, "Where is the blue notebook with the tax papers?", day(5)),
        400,
        now=day(5),
    )
    shown = "\n".join(p.text for p in first.parts if p.kind in ("recall", "recall_new"))
    line = next(x for x in shown.splitlines() if x.startswith("- Assistant: Here is"))
    # the start, then the matching sentence with the sentences around it, in their order
    assert line.startswith(
        "- Assistant: Here is general advice number 0 about keeping a tidy home office. … "
    )
    assert (
        "advice number 19 about keeping a tidy home office. "
        "The blue notebook with the tax papers is in the attic drawer. "
        "More general advice number 0" in line
    )
    assert line.endswith(" …") and "advice number 7 " not in line
    assert words(line) <= 60 + 1 and first.memory_tokens <= 400

    store.add_message(t.id, Role.ASSISTANT, "It is in the attic drawer.", created_at=day(5) + 10)
    second = builder.build(
        t.id,
        "",
        ask(store, t.id, "And my tax papers, where are they?", day(5) + 20),
        400,
        now=day(5) + 20,
    )
    if second.recall_kept:  # the block as it was shown, not cut again for the new question
        # (its last lines may give way to the grown window: the rest is shown as before)
        shown = _system_up_to_summary(second)
        assert "- " in shown and _system_up_to_summary(first).startswith(shown)
    assert "attic drawer" in "\n".join(
        p.text for p in second.parts if p.kind in ("recall", "recall_new")
    )


def test_a_message_over_the_excerpt_size_is_cut_to_a_sentence_or_two(  # type: ignore[no-untyped-def]
    store: Store, embedder
) -> None:
    """By default a message under excerpt_tokens is shown whole, and a longer one only as the
    cut_tokens around its matching sentence: a chatty reply costs what that sentence does."""
    params = BuilderParams()
    assert params.cut_tokens is not None and params.cut_tokens < params.excerpt_tokens
    t = store.create_thread("long")
    medium = " ".join(["The blue notebook is safe."] * ((params.excerpt_tokens - 20) // 5))
    store.add_message(t.id, Role.USER, medium, created_at=day(0))
    store.add_message(t.id, Role.ASSISTANT, LONG_REPLY, created_at=day(0) + 30)
    chatter(store, t.id, 40, day(2))
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    q = ask(store, t.id, "Where is the blue notebook with the tax papers?", day(5))
    built = ContextBuilder(store, words, embedder.encode_one, params).build(
        t.id, "", q, 1000, now=day(5)
    )
    shown = "\n".join(p.text for p in built.parts if p.kind in ("recall", "recall_new"))
    assert f"- User: {medium}" in shown.splitlines()
    line = next(x for x in shown.splitlines() if x.startswith("- Assistant: Here is"))
    assert "The blue notebook with the tax papers is in the attic drawer." in line
    assert words(line) <= params.cut_tokens + 4 < words(LONG_REPLY)  # "- Assistant:" and the "…"s
    assert built.memory_tokens <= 1000


def test_a_message_without_sentences_is_cut_at_a_word() -> None:
    from chatapp.memory.builder import _cut, _Piece, _stems

    def pieces(text: str) -> list[_Piece]:
        return [_Piece(t, _stems(t), words(t) + 1) for t in CLAUSE.split(text) if t.strip()]

    text = " ".join(f"word{i}" for i in range(500))  # pasted data: no sentence ends
    cut, bound = _cut(pieces(text), {"word4"}, 50, words)
    assert cut.startswith("word0 word1 ") and cut.endswith(" …") and words(cut) <= bound <= 50
    cut, bound = _cut(pieces(LONG_REPLY), _stems("Where is the notebook, in the attic?"), 60, words)
    assert "attic drawer" in cut and words(cut) <= bound <= 60 + 2


def test_a_damaged_embedding_is_skipped_and_made_again(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    service = MemoryService(store, embedder.encode, embedder.name)
    service.ingest(thread_id)
    nurse = next(m for m in store.path(thread_id) if "nurse" in m.content)
    with store._tx() as conn:  # a torn write, or a vector of another size
        conn.execute(
            "UPDATE embeddings SET vector = ? WHERE message_id = ?", (b"\0" * 100, nurse.id)
        )
    builder = ContextBuilder(store, words, embedder.encode_one)
    question = ask(store, thread_id, "Where do I work?", day(9))
    built = builder.build(
        thread_id, "", question, 400, now=day(9)
    )  # it failed on every reply before
    assert built.parts
    assert [mid for mid, _t in MemoryTables(store).missing_embeddings(thread_id)][:1] == [nurse.id]
    service.ingest(thread_id)
    ids, _depths, matrix = MemoryTables(store).embeddings(thread_id)
    assert nurse.id in ids and matrix.shape[1] == 384


def test_a_damaged_slot_is_still_shown_and_keyed_again(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id = synthetic_weeks(store)
    service = MemoryService(store, embedder.encode, embedder.name)
    service.ingest(thread_id)
    tables = MemoryTables(store)
    nurse = next(s for s in tables.slots(thread_id) if "nurse" in s.text)
    with store._tx() as conn:  # a torn key and a mangled list of sources
        conn.execute(
            "UPDATE memory_slots SET key = ?, sources = '[12, oops' WHERE id = ?",
            (b"\0" * 10, nurse.id),
        )
    question = ask(store, thread_id, "Where do I work?", day(9))
    built = ContextBuilder(store, words, embedder.encode_one).build(
        thread_id, "", question, 400, now=day(9)
    )
    assert any("nurse" in p.text for p in built.parts if p.kind == "slots")
    service.ingest(thread_id)  # the next ingest gives it its key again
    key = next(s.key for s in tables.slots(thread_id) if s.id == nurse.id)
    assert float(key @ embedder.encode_one(nurse.text)) > 0.99


def test_slots_that_fit_are_all_shown_and_when_they_compete_the_attended_go_first(
    store: Store,
    embedder,  # type: ignore[no-untyped-def]
) -> None:
    """A cooking question with few facts known: the allergy goes in, though its embedding is
    no closer to cooking than the cello's. When they do not all fit, the one the message
    attends to goes first and the others take what room is left: one slot too many drops
    one, not all but the attended (a question the keys read poorly, "What does he do in his
    free time these days?", attended to a home said "these days" and lost the hobby)."""
    t = store.create_thread()
    facts = [
        "I am allergic to peanuts.",
        "I play the cello.",
        "My favourite food is pasta.",
        "I work as a nurse.",
    ]
    for i, fact in enumerate(facts):
        store.add_message(t.id, Role.USER, fact, created_at=day(0, 9 + i))
        store.add_message(t.id, Role.ASSISTANT, "Noted.", created_at=day(0, 9 + i) + 30)
    for j in range(40):
        store.add_message(
            t.id,
            Role.USER if j % 2 == 0 else Role.ASSISTANT,
            f"Chatter {j} about the weather.",
            created_at=day(1) + j,
        )
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    assert len(MemoryTables(store).slots(t.id)) == len(facts)
    question = ask(store, t.id, "What should I cook for dinner tonight?", day(2))

    def slot_lines(budget: int) -> list[str]:
        built = ContextBuilder(store, words, embedder.encode_one).build(
            t.id, "", question, budget, now=day(2)
        )
        return [line for p in built.parts if p.kind == "slots" for line in p.text.splitlines()]

    assert sorted(slot_lines(300)) == sorted(f"- {fact}" for fact in facts)  # cap 36 words: all fit
    some = slot_lines(200)  # cap 24 words: the four lines take 27
    assert "- My favourite food is pasta." in some and len(some) == len(facts) - 1
    assert sum(words(line) + 1 for line in some) <= 24


def test_a_long_thread_counts_what_it_shows_not_all_it_ranks(store: Store) -> None:
    """Recall ranks up to 300 messages of a long thread and shows a few: a build counts the
    tokens of those it may show (each count can be a tokenizer run or a server request),
    and its parts still keep to the budget."""
    t = store.create_thread("long replies")
    for i in range(240):
        store.add_message(
            t.id, Role.USER, f"Tell me about the garden, part {i}.", created_at=day(i % 20)
        )
        reply = " ".join(
            f"Sentence {j} of reply {i} is about the garden and its roses." for j in range(30)
        )
        store.add_message(t.id, Role.ASSISTANT, reply, created_at=day(i % 20) + 30)
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return words(text)

    q = ask(store, t.id, "What did you say about the garden roses?", day(25))
    built = ContextBuilder(store, count, None).build(t.id, "", q, 600, now=day(25))
    recalled = [i for p in built.parts if p.kind in ("recall", "recall_new") for i in p.sources]
    ranked = len(recalled) + built.left_out.get("recall", 0)
    assert recalled and ranked >= 200
    assert len(counted) < ranked // 2
    assert sum(p.tokens for p in built.parts if p.kind != "message") <= 600
    for part in built.parts:
        if part.kind in ("recall", "recall_new"):
            assert words(part.text) <= part.tokens + 2 * len(part.sources)


@settings(max_examples=200, deadline=None)
@given(text=st.text(), extra=st.lists(st.text(min_size=1, max_size=6), max_size=5))
def test_a_word_test_agrees_with_the_words_of_a_text(text: str, extra: list[str]) -> None:
    from chatapp.memory.builder import _Words
    from chatapp.memory.recall import words as word_set

    found = word_set(text)
    test = _Words(text)
    for word in [*found, *extra, *(w.lower() for w in extra)]:
        assert (word in test) == (word in found)


def test_a_cut_starts_at_the_remark_when_the_first_sentence_leaves_it_no_room() -> None:
    """A passing remark behind a long first sentence that shares no word with the question: the
    cut shows the remark (after a "…"), not the first sentence alone; when both fit, the cut
    still starts with the first sentence."""
    from chatapp.memory.builder import _cut, _Piece, _stems

    first = (
        "I have been experimenting with different camera angles and lighting techniques "
        "and have noticed a big difference in the overall look and feel of my footage."
    )
    remark = "By the way, I volunteered at the Portland Film Festival last month."
    text = f"{first} {remark} It was fun."
    pieces = [_Piece(t, _stems(t), words(t) + 1) for t in CLAUSE.split(text) if t.strip()]
    wanted = _stems("How many film festivals did I attend?")
    cut, bound = _cut(pieces, wanted, 20, words)
    assert cut.startswith("… By the way, I volunteered at the Portland Film Festival")
    assert "camera angles" not in cut and words(cut) <= bound <= 20 + 4
    roomy, _ = _cut(pieces, wanted, 60, words)
    assert roomy.startswith(first) and remark in roomy


def test_a_cut_counts_only_the_sentences_it_weighs() -> None:
    """Sentences are counted when a cut needs them: the same cut as counting all of them first,
    for fewer counts."""
    from chatapp.memory.builder import _cut, _Piece, _stems

    texts = [t for t in CLAUSE.split(LONG_REPLY) if t.strip()]
    counted: list[str] = []

    def count(text: str) -> int:
        counted.append(text)
        return words(text)

    wanted = _stems("Where is the notebook, in the attic?")
    eager = _cut([_Piece(t, _stems(t), words(t) + 1) for t in texts], wanted, 60, words)
    loose = _cut(
        [_Piece(t, _stems(t), None, count, words(t) // 2) for t in texts], wanted, 60, words
    )
    assert loose == eager and "attic drawer" in eager[0] and len(counted) <= len(texts)
    counted.clear()  # with guesses that are right, only the sentences shown are counted
    tight = _cut(
        [_Piece(t, _stems(t), None, count, words(t) + 1) for t in texts], wanted, 60, words
    )
    assert tight == eager and 0 < len(counted) < len(texts) // 4
    assert all(c in eager[0] for c in counted)


def _summarised_weeks(store: Store, embedder) -> int:  # type: ignore[no-untyped-def]
    """synthetic_weeks with one rolling summary over its first day."""
    thread_id = synthetic_weeks(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    first_day = [m for m in store.path(thread_id) if m.created_at < day(1)]
    MemoryTables(store).add_summary(
        thread_id,
        0,
        first_day[0].depth,
        first_day[-1].depth,
        [m.id for m in first_day],
        "Ada, a nurse in Berlin, chatted about films and the weather.",
        "m",
    )
    return thread_id


def test_summaries_step_aside_while_recall_fills_its_room(  # type: ignore[no-untyped-def]
    store: Store, embedder
) -> None:
    """Every summarised message can still be recalled verbatim: the summary gets only the
    room recall leaves, so a question recall answers in full shows no summary."""
    thread_id = _summarised_weeks(store, embedder)
    q = ask(store, thread_id, "What did we say about films and the weather?", day(8))
    builder = ContextBuilder(store, words, embedder.encode_one)
    built = builder.build(thread_id, "", q, 300, now=day(8))
    recalled = sum(p.tokens for p in built.parts if p.kind in ("recall", "recall_new"))
    assert recalled > 0
    assert "summary" not in [p.kind for p in built.parts]
    assert built.left_out["summary"] == 1
    assert "Summary of the earlier" not in built.messages[0].content
    assert built.memory_tokens <= 300


def test_a_summary_fills_the_room_recall_leaves(  # type: ignore[no-untyped-def]
    store: Store, embedder
) -> None:
    """Few short messages before a recent window of long ones: recall shows them all and
    leaves room, and the summary of them is shown in it, within the budget."""
    t = store.create_thread()
    for d in range(3):
        store.add_message(t.id, Role.USER, f"Day {d}: a walk by the river.", created_at=day(d))
        store.add_message(t.id, Role.ASSISTANT, "Lovely.", created_at=day(d) + 30)
    for j in range(3):
        store.add_message(t.id, Role.USER, " ".join(["chatter"] * 800), created_at=day(5) + j * 60)
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    first = store.path(t.id)[:6]
    text = "Three days of river walks."
    MemoryTables(store).add_summary(t.id, 0, 0, 5, [m.id for m in first], text, "m")
    q = ask(store, t.id, "Where did I walk?", day(9))
    built = ContextBuilder(store, words, embedder.encode_one).build(t.id, "", q, 2000, now=day(9))
    recalled = {i for p in built.parts if p.kind in ("recall", "recall_new") for i in p.sources}
    assert {m.id for m in first} <= recalled
    summary = next(p for p in built.parts if p.kind == "summary")
    assert summary.text.endswith(text) and summary.sources == tuple(m.id for m in first)
    assert "Summary of the earlier conversation:" in built.messages[0].content
    assert built.memory_tokens <= 2000


def test_the_lower_bound_stays_under_the_default_models_count(  # type: ignore[no-untyped-def]
    store: Store, default_model
) -> None:
    """A fill passes over a hit whose lower bound exceeds the room left, uncounted: with the
    real tokenizer the bound (words, or bytes over twice the bytes per token) must never be
    over the count, or a line that fits is lost. Chat, code, numbers, links and other scripts,
    before and after the byte guess starts (500 tokens counted)."""
    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.llama_backend import LlamaBackend

    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model), n_ctx=1024, gpu="cpu"))
    try:
        builder = ContextBuilder(store, backend.count_text_tokens)
        texts = [
            "- User: Tell me about the garden, part 5.",
            "On Monday 2 March 2026 (3 weeks ago):",
            "I've completed 20 videos of Corey Schafer's series so far!",
            "def f(x): return {'a': [1, 2, 3], 'b': x ** 2}  # squares",
            "See https://example.org/a/b?c=1&d=2 or call +351 912 345 678.",
            "Ich wohne jetzt in Köln, früher in München. Ça va très bien, merci.",
            "東京に住んでいます。 Москва — столица России. مرحبا بكم",
            "a b c d e f g h i j k l m n o p",
            "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
            LONG_REPLY,
        ]
        for round_ in range(2):
            for text in texts:
                bound = builder.lower_bound(text)
                assert bound <= builder.count_text(text), (round_, text[:40])
            assert round_ == 1 or builder.lower_bound("a b c") == 3
            while builder._counted_tokens < 500:
                builder.count_text(LONG_REPLY)
    finally:
        backend.unload()
