"""Ingest: the user's messages and facts first, the assistant's replies when asked (a long
imported history is searchable and its facts are in the slots before every reply has its
vector), with the same vectors in the end as an ingest of everything at once."""

from __future__ import annotations

import numpy as np

from chatapp.domain import Role
from chatapp.memory.recall import recall
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables

PAIRS = [
    ("I live in Porto with my two cats.", "Porto is lovely; the riverside walks are a treat."),
    ("What should I cook tonight?", "A cold gazpacho with crusty bread would suit a warm evening."),
    ("I work as a nurse on night shifts.", "Night shifts are hard; sleep in a dark, cool room."),
    (
        "Any idea for a weekend trip?",
        "Try the Douro valley: vineyards, a slow train and river views.",
    ),
    (
        "My sister Eva plays the cello.",
        "The cello has such a warm voice; does she play in an orchestra?",
    ),
]


def _thread(store: Store) -> tuple[int, list[int], list[int]]:
    thread = store.create_thread("ingest")
    users, replies = [], []
    for question, answer in PAIRS:
        users.append(store.add_message(thread.id, Role.USER, question).id)
        replies.append(store.add_message(thread.id, Role.ASSISTANT, answer).id)
    return thread.id, users, replies


def test_replies_wait_and_then_get_the_vectors_of_an_ingest_at_once(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    tables = MemoryTables(store)
    service = MemoryService(store, embedder.encode, embedder.name)
    thread_id, users, replies = _thread(store)

    report = service.ingest(thread_id, reply_limit=0)
    assert report.embedded == len(users) and report.embedded_replies == 0 and report.replies_waiting
    assert [mid for mid, _t in tables.missing_embeddings(thread_id)] == replies
    assert any("Porto" in s.text for s in tables.slots(thread_id))  # the facts did not wait
    hits = recall(store, thread_id, "gazpacho", None, 100, None)  # the words find a reply at once
    assert replies[1] in [h.message_id for h in hits[:2]]  # (with the message after it, lifted)

    assert service.embed_later(thread_id, 2) == 2
    assert [mid for mid, _t in tables.missing_embeddings(thread_id)] == replies[2:]
    second = service.ingest(thread_id, reply_limit=2)
    assert (second.embedded, second.embedded_replies, second.replies_waiting) == (2, 2, True)
    assert service.ingest(thread_id).embedded == 1 and tables.missing_embeddings(thread_id) == []
    assert service.embed_later(thread_id, 2) == 0

    at_once_id, at_once_users, at_once_replies = _thread(store)
    whole = service.ingest(at_once_id)
    assert whole.embedded == len(PAIRS) * 2 and not whole.replies_waiting
    late = tables.vectors(users + replies)
    together = tables.vectors(at_once_users + at_once_replies)
    for a, b in zip(users + replies, at_once_users + at_once_replies):
        assert float(late[a] @ together[b]) > 0.9999


def test_only_the_users_or_only_the_others_messages_are_listed(store: Store) -> None:
    thread_id, users, replies = _thread(store)
    tables = MemoryTables(store)
    assert [mid for mid, _t in tables.missing_embeddings(thread_id, user=True)] == users
    assert [mid for mid, _t in tables.missing_embeddings(thread_id, user=False)] == replies
    assert len(tables.missing_embeddings(thread_id)) == len(users) + len(replies)
    assert [
        mid for mid, _t in tables.missing_embeddings(thread_id, limit=2, user=False)
    ] == replies[:2]


def test_small_batches_give_the_vectors_of_one_big_batch(embedder) -> None:  # type: ignore[no-untyped-def]
    """Texts of very different lengths: a small batch pads less, the vectors stay the same."""
    texts = [q for q, _a in PAIRS] + [" ".join(a for _q, a in PAIRS) * 3, "ok", "Thanks!"] * 3
    small = embedder.encode(texts)
    big = embedder.encode(texts, batch_size=64)
    assert small.shape == big.shape == (len(texts), embedder.dim)
    assert np.min(np.sum(small * big, axis=1)) > 0.9999


def test_a_few_texts_run_on_one_thread_and_bulk_on_every_core(embedder, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A query on two busy cores took ten times as long as on one; a bulk catch-up on a quiet
    machine runs nearly twice as fast on two."""
    import torch

    seen: list[int] = []
    real = embedder._model.encode

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(embedder._model, "encode", counting)
    before = torch.get_num_threads()
    embedder.encode(["one"])
    embedder.encode([f"text number {i}" for i in range(20)])
    embedder.encode(["told"] * 20, threads=2)
    assert seen == [1, embedder._threads, 2]
    assert embedder._threads == torch.get_num_threads() >= 1  # every core torch sees
    assert torch.get_num_threads() == before
