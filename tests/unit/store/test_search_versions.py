"""Search reaches every version of a message, not only the shown path (walkthrough 2, item 1)."""

from __future__ import annotations

from pathlib import Path

from chatapp.domain import Role
from chatapp.store import Store


def test_search_finds_an_earlier_version_and_says_it_is_not_shown(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite3")
    t = store.create_thread("Fox story")
    q = store.add_message(t.id, Role.USER, "Write a story about a fox.")
    first = store.add_message(t.id, Role.ASSISTANT, "The moon was a mysterious creature.")
    second = store.add_message(t.id, Role.ASSISTANT, "Felix the fox ran.", parent_id=q.id)
    edited = store.edit_message(q.id, "Write a poem about a hare.")  # the fox question is hidden
    assert [m.id for m in store.path(t.id)] == [edited.id]

    hits = {h.message_id: h for h in store.search("moon")}
    assert list(hits) == [first.id] and not hits[first.id].on_path
    fox = {h.message_id: h.on_path for h in store.search("fox")}
    assert fox == {q.id: False, second.id: False}
    assert {h.message_id: h.on_path for h in store.search("hare")} == {edited.id: True}

    store.select_version(first.id)  # shown again: the flag follows the shown path
    assert [h.on_path for h in store.search("moon")] == [True]
    store.close()


def test_a_trashed_threads_versions_stay_out_of_search(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite3")
    t = store.create_thread()
    q = store.add_message(t.id, Role.USER, "zebra question")
    store.edit_message(q.id, "other question")
    assert len(store.search("zebra")) == 1
    store.trash_thread(t.id)
    assert store.search("zebra") == []
    store.close()
