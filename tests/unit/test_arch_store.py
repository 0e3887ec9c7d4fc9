"""The store's named methods that replaced SQL written in memory/, export/ and bench/:
each read against a real SQLite file, and the bulk import's one transaction."""

from __future__ import annotations

import numpy as np
import pytest

from chatapp.domain import Role
from chatapp.errors import StorageError
from chatapp.store import Store
from chatapp.store.store import MESSAGE_FIELDS


def _thread_with_a_branch(store: Store) -> tuple[int, list[int], int]:
    """A thread of four shown messages and one hidden older version of the reply."""
    thread = store.create_thread("t").id
    ids = [
        store.add_message(thread, Role.USER, "the ferry to Lisbon", created_at=1000).id,
        store.add_message(thread, Role.ASSISTANT, "It leaves at nine.", created_at=1010).id,
    ]
    hidden = ids[1]
    ids[1] = store.add_message(
        thread, Role.ASSISTANT, "Nine, from the south quay.", parent_id=ids[0], created_at=1020
    ).id
    ids += [
        store.add_message(thread, Role.USER, "and back from Lisbon?", created_at=1030).id,
        store.add_message(thread, Role.ASSISTANT, "At six.", created_at=1040).id,
    ]
    return thread, ids, hidden


def test_messages_by_ids_roles_and_times(store: Store) -> None:
    thread, ids, hidden = _thread_with_a_branch(store)
    found = store.messages_by_ids([ids[0], hidden, 10_000])
    assert sorted(found) == sorted([ids[0], hidden])  # a missing id is simply absent
    assert found[hidden].content == "It leaves at nine." and found[hidden].thread_id == thread
    assert store.message_roles(ids) == dict(zip(ids, ["user", "assistant", "user", "assistant"]))
    assert store.message_times([ids[0], ids[3]]) == {ids[0]: 1000, ids[3]: 1040}
    assert store.messages_by_ids([]) == {} and store.message_times([]) == {}


def test_more_ids_than_one_query_takes(store: Store) -> None:
    thread = store.create_thread("long").id
    ids = [store.add_message(thread, Role.USER, f"m{i}").id for i in range(1200)]
    assert len(store.messages_by_ids(ids)) == 1200
    assert len(store.message_roles(ids)) == 1200


def test_path_questions(store: Store) -> None:
    thread, ids, hidden = _thread_with_a_branch(store)
    assert store.count_on_path(thread, ids[:2], 2) == 2
    assert store.count_on_path(thread, [ids[0], hidden], 2) == 1  # the old version is hidden
    assert store.count_on_path(thread, ids, 2) == 2  # depth 2 and 3 are not above 2
    assert store.count_on_path(thread, [], 9) == 0
    assert sorted(store.on_path_at_depths(thread, {1, 3})) == sorted([(ids[1], 1), (ids[3], 3)])
    assert store.on_path_at_depths(thread, set()) == []


def test_fts_hits(store: Store) -> None:
    thread, ids, hidden = _thread_with_a_branch(store)
    other = store.create_thread("o").id
    store.add_message(other, Role.USER, "Lisbon again")
    hits = store.fts_hits(thread, "lisbon", limit=10)
    assert sorted(h[0] for h in hits) == sorted([ids[0], ids[2]])  # not the other thread's
    assert sorted(h[1] for h in hits) == [0, 2]  # their depths
    assert [h[0] for h in store.fts_hits(thread, "lisbon", before_depth=2)] == [ids[0]]
    assert [h[0] for h in store.fts_hits(thread, "nine")] == [ids[1]]  # not the hidden version
    every = store.fts_hits(thread, "nine", shown_only=False)
    assert sorted(h[0] for h in every) == sorted([ids[1], hidden])


def test_export_messages_are_every_version_as_stored(store: Store) -> None:
    thread, ids, hidden = _thread_with_a_branch(store)
    rows = store.export_messages(thread)
    assert [r["id"] for r in rows] == sorted([*ids, hidden])
    assert set(rows[0]) == {*MESSAGE_FIELDS, "active", "selected_at"}
    assert {r["id"]: r["active"] for r in rows}[hidden] == 0
    assert rows[0]["role"] == "user" and rows[0]["content"] == "the ferry to Lisbon"


def _thread(title: str, **extra: object) -> dict:
    base = {
        "title": title,
        "title_auto": False,
        "system_prompt": "",
        "model": None,
        "settings": {},
        "pinned": False,
        "created_at": 1.0,
        "updated_at": 2.0,
        "memory_enabled": True,
        "messages": [
            {
                "id": 1,
                "parent": None,
                "role": "user",
                "content": "hi",
                "created_at": 1.0,
                "selected_at": 1.0,
                "active": True,
            },
            {
                "id": 2,
                "parent": 1,
                "role": "assistant",
                "content": "hello",
                "created_at": 2.0,
                "selected_at": 2.0,
                "status": "streaming",
                "active": True,
            },
        ],
        "summaries": [],
        "slots": [
            {
                "text": "I live in Porto.",
                "owner": "user",
                "key": np.ones(4, dtype=np.float32).tobytes(),
                "salience": 1.0,
                "pinned": True,
                "sources": [1],
                "created_at": 1.0,
                "updated_at": 1.0,
                "used_at": None,
                "attribute": None,
                "since": None,
                "history": [],
            },
        ],
    }
    base.update(extra)
    return base


def test_import_threads_writes_all_or_nothing(store: Store) -> None:
    (first,) = store.import_threads([_thread("one")])
    shown = store.path(first)
    assert [m.content for m in shown] == ["hi", "hello"]
    assert shown[1].status.value == "stopped"  # a reply cut off in the file is not "streaming"
    broken = _thread("two")
    broken["messages"][1]["parent"] = 99  # no such message: the second thread fails
    before = len(store.threads())
    with pytest.raises((KeyError, StorageError)):
        store.import_threads([_thread("three"), broken])
    assert len(store.threads()) == before  # "three" was rolled back with it
