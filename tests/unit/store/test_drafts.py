"""Drafts (unsent text per thread) kept in the database, unused new chats, deleting for good."""

from pathlib import Path

import pytest

from chatapp.domain import GenerationSettings, Role
from chatapp.store import Store


def test_drafts_survive_closing_the_database(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "d.sqlite3")
    a, b, c = (store.create_thread(t).id for t in ("a", "b", "c"))
    store.save_draft(a, "half a thought")
    store.save_draft(b, "line one\nline two ✓")
    store.save_draft(c, "first")
    store.save_draft(c, "second")  # replaces
    store.close()
    again = Store.open(tmp_path / "d.sqlite3")
    assert again.drafts() == {a: "half a thought", b: "line one\nline two ✓", c: "second"}
    assert again.draft(b) == "line one\nline two ✓"
    again.save_draft(a, "   ")  # emptied: gone
    assert again.draft(a) == "" and a not in again.drafts()
    again.close()


def test_a_thread_deleted_for_good_takes_its_draft_with_it(store: Store) -> None:
    t = store.create_thread("doomed")
    store.add_message(t.id, Role.USER, "hello")
    store.save_draft(t.id, "unsent")
    with pytest.raises(KeyError):
        store.delete_forever(t.id)  # not in the trash: refused, nothing lost
    assert store.draft(t.id) == "unsent"
    store.trash_thread(t.id)
    assert store.draft(t.id) == "unsent"  # the trash keeps it (Undo brings it back)
    store.delete_forever(t.id)
    assert store.drafts() == {} and store.threads(trash=True) == []
    with pytest.raises(KeyError):
        store.thread(t.id)


def test_only_an_untouched_thread_counts_as_unused(store: Store) -> None:
    assert store.unused_thread() is None
    blank = store.create_thread()
    assert store.unused_thread() == blank.id
    store.save_draft(blank.id, "typing")
    assert store.unused_thread() is None
    store.save_draft(blank.id, "")
    store.update_thread(blank.id, settings=GenerationSettings(temperature=0.1))
    assert store.unused_thread() is None
    other = store.create_thread()
    assert store.unused_thread() == other.id
    store.add_message(other.id, Role.USER, "now it is used")
    assert store.unused_thread() is None
    named = store.create_thread("named")
    with_model = store.create_thread(model="x.gguf")
    assert store.unused_thread() is None, (named, with_model)
    trashed = store.create_thread()
    store.trash_thread(trashed.id)
    assert store.unused_thread() is None


def test_restoring_says_whether_a_thread_came_back(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "r.sqlite3")
    kept, purged = store.create_thread("kept"), store.create_thread("purged")
    store.trash_thread(kept.id)
    store.trash_thread(purged.id)
    store.delete_forever(purged.id)
    assert store.restore_thread(kept.id) is True
    assert store.restore_thread(kept.id) is False  # not in the trash any more
    assert store.restore_thread(purged.id) is False  # gone for good: nothing restored
    assert [t.title for t in store.threads()] == ["kept"]
    store.close()


def test_a_renewed_thread_starts_now(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "n.sqlite3")
    old = store.create_thread(now=1_600_000_000)
    store.renew_thread(old.id, now=1_700_000_000)
    store.close()
    again = Store.open(tmp_path / "n.sqlite3")
    thread = again.thread(old.id)
    assert (thread.created_at, thread.updated_at) == (1_700_000_000, 1_700_000_000)
    again.close()
