import numpy as np
import pytest

from chatapp.domain import Role
from chatapp.memory.facts import candidates, owner_of
from chatapp.memory.recall import (
    EmbeddingCache,
    focused_text,
    lexical_query,
    query_vector,
    recall,
    words,
)
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables


def test_fact_candidates() -> None:
    got = [
        c.text for c in candidates("Hi! My name is Ada and I live in Berlin. What time is it?", 1)
    ]
    assert got == ["My name is Ada.", "I live in Berlin."] or set(got) == {
        "My name is Ada.",
        "I live in Berlin.",
    }
    assert candidates("ok thanks", 1) == []
    assert candidates("Is it raining in Paris?", 1) == []
    habits = (
        "I drive a red Fiat. I speak Portuguese and German. I collect vinyl records. "
        "I run a small bakery."
    )
    assert len(candidates(habits, 1)) == 4
    assert candidates("I read your answer. I think so.", 1) == []
    vague = "I'd love to check them out. I want them to experience it. I love that one!"
    assert candidates(vague, 1) == []
    assert [c.text for c in candidates("I love it in Lisbon. I have two cats.", 1)] == [
        "I love it in Lisbon.",
        "I have two cats.",
    ]
    # said to the listener: nothing about the user to keep (a name one talks to is not a specific)
    to_listener = (
        "I hope you're okay. I love that you chose pottery for your art. "
        "I'm glad you are on my side, Gina."
    )
    assert candidates(to_listener, 1) == []
    assert [c.text for c in candidates("I told you my sister lives in Porto.", 1)] == [
        "I told you my sister lives in Porto."
    ]
    # a word capitalised after a colon is no name: nothing specific here to remember
    assert candidates("Update: It was so special to me.", 1) == []
    assert owner_of("My sister Eva lives in Porto.") == "sister"
    assert owner_of("I like tea.") == "user"


def test_lexical_query_drops_stop_words() -> None:
    assert lexical_query("What did I say about the violin?") == '"say" OR "violin"'
    assert lexical_query("?!") == ""


def test_focused_text_leaves_out_the_words_most_messages_share() -> None:
    recent = [words(f"Melanie: line {i} about trains") for i in range(40)]
    assert focused_text("What does Melanie's son like?", recent) == "What does son like?"
    assert focused_text("What did Melanie paint?", recent[:39]) is None  # too few messages to tell
    assert focused_text("What did Caroline paint?", recent) is None  # nothing common in it
    assert focused_text("Melanie?", recent) is None  # nothing left
    # stop words and single letters ("it's" → "s") are never what is left out
    assert (
        focused_text(
            "What is it about the cake?", [words("what is it's about the") for _ in range(40)]
        )
        is None
    )


def test_a_name_in_every_message_does_not_decide_the_semantic_ranking(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    """A question naming who is talking matched every short greeting with that name before
    the one message about it (a sentence embedding weighs every word)."""
    t = store.create_thread()
    chatter = [
        "Thanks, Melanie!",
        "Glad it helped, Melanie!",
        "Melanie, you are the best.",
        "Hi Melanie, how are you?",
        "Good to hear from you, Melanie.",
        "Melanie! Long time no see.",
        "Take care, Melanie.",
        "Wow, Melanie, nice!",
    ]
    target = store.add_message(
        t.id, Role.USER, "Melanie: I went camping with my kids last weekend, we hiked to a lake."
    )
    for line in chatter * 6:
        store.add_message(t.id, Role.ASSISTANT, line)
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    cache = EmbeddingCache(MemoryTables(store))
    question = "What activities does Melanie do with her family?"
    focused = focused_text(question, [words(m.content) for m in store.path(t.id)])
    assert focused == "What activities does do with her family?"
    ids, _depths, matrix = cache.get(t.id)

    def best(vector) -> int:  # type: ignore[no-untyped-def]
        return ids[int((matrix @ vector).argmax())]

    assert (
        best(embedder.encode_one(question)) != target.id
    )  # a greeting is closest without the focus
    assert best(query_vector(embedder.encode_one, question, focused)) == target.id


def test_fusion_finds_by_words_and_by_meaning(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    t = store.create_thread()
    lines = [
        "I adopted a puppy called Biscuit.",
        "We talked about the weather.",
        "My grandmother taught me to bake sourdough bread.",
        "Films are fun.",
    ] + [f"filler line {i}" for i in range(20)]
    ids = [store.add_message(t.id, Role.USER, line).id for line in lines]
    MemoryService(store, embedder.encode, embedder.name).ingest(t.id)
    cache = EmbeddingCache(MemoryTables(store))
    by_words = recall(
        store,
        t.id,
        "Tell me about Biscuit",
        embedder.encode_one("Tell me about Biscuit"),
        100,
        cache,
    )
    assert by_words[0].message_id == ids[0]
    by_meaning = recall(
        store, t.id, "Which dog do I have?", embedder.encode_one("Which dog do I have?"), 100, cache
    )
    assert by_meaning[0].message_id == ids[0]  # no shared word: the embedding finds it
    only_old = recall(store, t.id, "sourdough", None, 2, cache)
    assert all(h.depth < 2 for h in only_old) and ids[2] not in [h.message_id for h in only_old]


def test_the_reply_to_a_matching_question_is_recalled_with_it(store: Store) -> None:
    """The question has the words, its answer (the next message) has the content."""
    t = store.create_thread()
    lines = [f"chat about nothing in particular number {i}" for i in range(30)]
    lines[10] = "What are your plans for the summer holidays?"
    lines[11] = "Researching adoption agencies, it has been a dream for years."
    lines[20] = "The summer was hot."  # a weaker lexical hit
    ids = [
        store.add_message(t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, line).id
        for i, line in enumerate(lines)
    ]
    hits = recall(store, t.id, "What are my plans for the summer holidays?", None, 30, None)
    order = [h.message_id for h in hits]
    assert set(order[:2]) == {ids[10], ids[11]}  # the answer shares no word: only the lift finds it
    assert order.index(ids[11]) < order.index(
        ids[21]
    )  # lifted by a better hit than the weaker hit's reply
    assert all(h.depth < 30 for h in hits)
    tail = recall(store, t.id, "plans for the summer holidays", None, 11, None)
    assert ids[11] not in [h.message_id for h in tail]  # never beyond the window's start


def test_a_hit_on_the_day_the_topic_came_up_ranks_above_a_lone_one(store: Store) -> None:
    """Of two weak matches, the one from the day of the best match comes first, although
    the other matches a little better (a shorter message) and would come first alone."""
    import datetime as dt

    t = store.create_thread()
    day0, day1, day2 = (dt.datetime(2026, 5, d, 10).timestamp() for d in (1, 2, 9))
    lines = [
        (day0 + 60 * i, f"Filler line {i} about the weather and trains.") for i in range(10)
    ] + [
        (day1, "We hiked up Mount Tamalpais with the kids on Saturday."),
        (day1 + 60, "That sounds lovely."),
        (day1 + 120, "The kids loved the long picnic by the lake after the walk."),
        (day1 + 180, "Yes."),
        (day2, "Good morning!"),
        (day2 + 60, "The kids have a cold."),
        (day2 + 120, "Get well soon."),
    ]
    ids = [
        store.add_message(
            t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, text, created_at=when
        ).id
        for i, (when, text) in enumerate(lines)
    ]
    hits = recall(
        store, t.id, "Tell me about the hike on Mount Tamalpais with the kids", None, len(ids), None
    )
    order = [h.message_id for h in hits]
    assert set(order[:2]) == {ids[10], ids[11]}  # the best match and the reply to it
    assert order.index(ids[12]) < order.index(ids[15])


def test_the_embedding_cache_reads_only_the_vectors_it_lacks(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    """A year's thread holds megabytes of vectors and each exchange adds two: the cache reads
    the new ones, and what it holds is what the store holds."""
    t = store.create_thread()
    first = store.add_message(t.id, Role.USER, "I adopted a puppy called Biscuit.")
    for i in range(9):
        store.add_message(t.id, Role.USER if i % 2 else Role.ASSISTANT, f"filler line {i}")
    service = MemoryService(store, embedder.encode, embedder.name)
    service.ingest(t.id)
    tables = MemoryTables(store)
    cache = EmbeddingCache(tables)
    ids, _depths, matrix = cache.get(t.id)
    assert ids == tables.embeddings(t.id)[0] and matrix.shape == (10, 384)

    read: list[list[int]] = []
    vectors = tables.vectors
    tables.vectors = lambda wanted: read.append(list(wanted)) or vectors(wanted)  # type: ignore[method-assign]
    # a new version of the first message hides everything after it; then two more messages
    store.add_message(t.id, Role.USER, "I adopted a kitten called Pip.", parent_id=None)
    added = [
        store.add_message(t.id, Role.ASSISTANT, "A kitten! Lovely."),
        store.add_message(t.id, Role.USER, "She sleeps on the sofa."),
    ]
    service.ingest(t.id)
    ids, depths, matrix = cache.get(t.id)
    want_ids, want_depths, want_matrix = tables.embeddings(t.id)
    assert ids == want_ids and list(depths) == want_depths and np.allclose(matrix, want_matrix)
    assert len(ids) == 3 and added[1].id in ids and first.id not in ids
    assert len(read) == 1 and len(read[0]) == 3  # the three new ones, not the thread again
    assert cache.get(t.id)[0] == ids and len(read) == 1  # nothing changed: nothing read


def test_a_reply_with_the_words_itself_is_not_lifted_by_the_question_too(
    store: Store, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A long answer that repeats the question's words is counted once; counted twice, such
    replies crowded the user's own statements out of user–assistant histories."""
    import chatapp.memory.recall as recall_module

    t = store.create_thread()
    lines = [f"chat about nothing in particular number {i}" for i in range(30)]
    lines[10] = "Can you suggest wedding venues near the lake?"
    lines[11] = (
        "Wedding venues near a lake: a boathouse, a garden, a lakeside hall for the wedding."
    )
    lines[20] = "What is your plan for the wedding venues?"
    lines[21] = "Still looking, nothing booked."  # the answer without the words
    ids = [
        store.add_message(t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, line).id
        for i, line in enumerate(lines)
    ]

    def scores() -> dict[int, float]:
        return {
            h.message_id: h.score
            for h in recall(store, t.id, "Which wedding venues did we talk about?", None, 30, None)
        }

    monkeypatch.setattr(recall_module, "DAY_SHARE", 0.0)  # one day: its share would mix the two
    lifted = scores()
    monkeypatch.setattr(recall_module, "ANSWER_SHARE", 0.0)
    plain = scores()
    # a hit itself: once, at the better of its own rank and its question's (not the sum)
    assert lifted[ids[11]] == pytest.approx(max(plain[ids[11]], plain[ids[10]]))
    assert plain.get(ids[21], 0.0) == 0.0 and lifted[ids[21]] == pytest.approx(
        plain[ids[20]]
    )  # the question's
