"""Sentence vectors: a passing remark inside a longer user message is found by its meaning."""

import sqlite3
from pathlib import Path

import numpy as np

from chatapp.domain import Role
from chatapp.memory.recall import EmbeddingCache, diluted_sentences, query_vector, recall
from chatapp.memory.service import MemoryService
from chatapp.store import Store, migrations
from chatapp.store.memory_tables import VECTOR_DIM, MemoryTables

REMARK = "By the way, I just planted 12 new tomato saplings today."
TRIP = (
    "I'm planning a two-week trip to Japan in the spring and I need help with the itinerary: "
    "Tokyo first, then Kyoto and Osaka, with a day in Nara to see the deer. "
    f"{REMARK} "
    "Which temples in Kyoto are worth the early start, and should I get a rail pass for the "
    "whole trip?"
)
OTHERS = [
    "I'm thinking of buying a new laptop for video editing, any advice?",
    "Can you recommend a good recipe for vegetable lasagna?",
    "My cat keeps scratching the sofa, what can I do?",
    "What are some good exercises for lower back pain?",
    "I want to learn Spanish in six months, how should I start?",
    "How do I fix a leaking kitchen faucet?",
    "Suggest some podcasts about history.",
    "What should I pack for a weekend hiking trip in the mountains?",
    "How often should I water houseplants like a fern or a pothos?",
    "Which fertilizer is best for a lawn in early autumn?",
    "What flowers attract bees and butterflies to a balcony?",
    "How do I make compost at home without it smelling?",
]


def test_only_the_sentences_a_message_vector_blurs_are_picked() -> None:
    assert REMARK in diluted_sentences(TRIP)
    assert not any(s.startswith("I'm planning") for s in diluted_sentences(TRIP))  # most of it
    assert diluted_sentences("Caroline: Wow, that's great! Thanks so much, Mel!") == []
    assert diluted_sentences("I adopted a rescue dog named Biscuit last week.") == []


def test_a_long_user_message_gets_sentence_vectors_and_a_short_one_none(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    t = store.create_thread()
    long = store.add_message(t.id, Role.USER, TRIP)
    short = store.add_message(t.id, Role.USER, "Thanks, that helps a lot!")
    reply = store.add_message(t.id, Role.ASSISTANT, TRIP)  # the assistant's: never
    service = MemoryService(store, embedder.encode, embedder.name)
    tables = MemoryTables(store)
    first = service.ingest(t.id, reply_limit=0)  # the user's vectors and facts: at once
    assert first.embedded == 2 and first.sentences == 0 and first.replies_waiting
    assert tables.sentence_vectors([long.id, short.id]) == {}
    assert service.embed_later(t.id, 32) == 3  # the reply, then the user's two messages
    assert not service.ingest(t.id).replies_waiting
    got = tables.sentence_vectors([long.id, short.id, reply.id])
    assert len(got[long.id]) == len(diluted_sentences(TRIP)) >= 1
    remark = diluted_sentences(TRIP).index(REMARK)
    assert float(got[long.id][remark] @ embedder.encode_one(REMARK)) > 0.99
    assert got[short.id].shape == (0, VECTOR_DIM)  # looked at: needs none
    assert reply.id not in got


def test_an_older_database_gets_the_table_and_its_messages_are_looked_at_once(
    tmp_path: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "v9.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in migrations.MIGRATIONS[:9]:
        migrations._run_in_transaction(conn, step)
    conn.execute("PRAGMA user_version = 9")
    conn.execute("INSERT INTO threads (id, created_at, updated_at) VALUES (1, 0, 0)")
    conn.execute(
        "INSERT INTO messages (id, thread_id, depth, role, content, created_at, selected_at)"
        " VALUES (1, 1, 0, 'user', ?, 0, 0)",
        (TRIP,),
    )
    whole = embedder.encode_one(TRIP)
    conn.execute(
        "INSERT INTO embeddings (message_id, model, vector) VALUES (1, ?, ?)",
        (embedder.name, whole.tobytes()),
    )
    conn.close()
    store = Store.open(path)
    try:
        tables = MemoryTables(store)
        assert tables.missing_sentence_vectors(1) == [(1, TRIP)]
        report = MemoryService(store, embedder.encode, embedder.name).ingest(1)
        assert report.embedded == 0  # its whole vector was kept
        assert report.sentences == 1 and len(tables.sentence_vectors([1])[1]) >= 1
        assert tables.missing_sentence_vectors(1) == []
        assert MemoryService(store, embedder.encode, embedder.name).ingest(1).sentences == 0
    finally:
        store.close()


def test_sentence_vectors_go_with_an_edit_a_changed_text_and_a_delete(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    t = store.create_thread()
    first = store.add_message(t.id, Role.USER, TRIP)
    store.add_message(t.id, Role.ASSISTANT, "Kyoto's temples are lovely in spring.")
    service = MemoryService(store, embedder.encode, embedder.name)
    service.ingest(t.id)
    tables = MemoryTables(store)
    cache = EmbeddingCache(tables)
    owners, matrix = cache.sentences(t.id)
    ids = cache.get(t.id)[0]
    assert {ids[i] for i in owners} == {first.id}

    edited = store.edit_message(first.id, TRIP.replace("tomato saplings", "basil plants"))
    service.ingest(t.id)
    owners, matrix = cache.sentences(t.id)
    ids = cache.get(t.id)[0]
    assert {ids[i] for i in owners} == {edited.id}  # the old version's are not read
    remark = embedder.encode_one(REMARK)
    assert float((matrix @ remark).max()) < 0.95

    store.update_message(edited.id, content=TRIP)  # a changed text: its vectors are stale
    assert edited.id not in tables.sentence_vectors([edited.id])
    service.ingest(t.id)
    owners, matrix = cache.sentences(t.id)
    assert float((matrix @ remark).max()) > 0.99

    store.delete_message(edited.id)
    assert edited.id not in tables.sentence_vectors([edited.id])
    ids = cache.get(t.id)[0]
    assert edited.id not in ids
    owners, matrix = cache.sentences(t.id)
    assert {ids[i] for i in owners} <= {first.id}


def test_recall_finds_a_passing_remark_the_whole_message_vector_misses(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    """No word of the question is in the remark: only its meaning can find it, and the
    message's one vector is about a trip to Japan."""
    t = store.create_thread()
    target = store.add_message(t.id, Role.USER, TRIP)
    for _ in range(4):
        for line in OTHERS:
            store.add_message(t.id, Role.USER, line)
            store.add_message(t.id, Role.ASSISTANT, "Sure, here are some ideas for that.")
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    question = "What vegetables did I start growing recently?"
    vector = query_vector(embedder.encode_one, question, None)
    assert vector is not None
    tables = MemoryTables(store)

    def rank() -> int:
        hits = recall(store, t.id, question, vector, 10**6, EmbeddingCache(tables))
        return [h.message_id for h in hits].index(target.id)

    with_sentences = rank()
    with store._tx() as conn:
        conn.execute("DELETE FROM sentence_vectors")
    assert with_sentences < 3 and rank() >= 10
    ids, _depths, matrix = EmbeddingCache(tables).get(t.id)
    assert float(matrix[ids.index(target.id)] @ vector) < np.sort(matrix @ vector)[-10]


def test_a_long_message_found_by_a_remark_is_cut_around_that_remark(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    """A message over the excerpt size is cut to the sentences that share the question's
    words; the remark that found it shares none, so the cut takes it too."""
    from chatapp.memory.builder import BuilderParams, ContextBuilder
    from tests.unit.memory.thread_helpers import ask, chatter, day, words

    params = BuilderParams()
    t = store.create_thread()
    itinerary = " ".join(
        f"On day {n} we take the train from {a} to {b} and walk around the old town."
        for n, (a, b) in enumerate(
            [("Tokyo", "Hakone"), ("Hakone", "Kyoto"), ("Kyoto", "Nara"), ("Nara", "Osaka")] * 4,
            start=1,
        )
    )
    long = f"Here is my whole itinerary for Japan. {itinerary} {REMARK} Does it look doable?"
    assert words(long) > params.excerpt_tokens and REMARK in diluted_sentences(long)
    store.add_message(t.id, Role.USER, long, created_at=day(0))
    store.add_message(t.id, Role.ASSISTANT, "It looks doable.", created_at=day(0) + 30)
    chatter(store, t.id, 40, day(2))
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    q = ask(store, t.id, "What vegetables did I start growing recently?", day(5))
    built = ContextBuilder(store, words, embedder.encode_one, params).build(
        t.id, "", q, 1000, now=day(5)
    )
    shown = "\n".join(p.text for p in built.parts if p.kind in ("recall", "recall_new"))
    line = next(x for x in shown.splitlines() if "itinerary for Japan" in x)
    assert REMARK in line
    assert words(line) < words(long)  # cut, not shown whole
