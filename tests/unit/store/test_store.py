import sqlite3
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.domain import GenerationSettings, MessageStatus, Role
from chatapp.errors import DatabaseCorrupt, DatabaseTooNew, StorageError
from chatapp.store import Store, migrations
from chatapp.store.store import auto_title, fts_query


def chat(store: Store, thread_id: int, *texts: str) -> list[int]:
    ids = []
    for i, text in enumerate(texts):
        ids.append(
            store.add_message(thread_id, Role.USER if i % 2 == 0 else Role.ASSISTANT, text).id
        )
    return ids


def test_thread_lifecycle(store: Store) -> None:
    a = store.create_thread("First", now=100)
    b = store.create_thread(now=200)
    assert [t.id for t in store.threads()] == [b.id, a.id]  # newest activity first
    store.add_message(a.id, Role.USER, "hello", created_at=300)
    assert [t.id for t in store.threads()] == [a.id, b.id]
    store.pin_thread(b.id)
    assert store.threads()[0].id == b.id  # pinned on top
    store.rename_thread(b.id, "  Renamed ")
    assert store.thread(b.id).title == "Renamed"
    assert not store.set_auto_title(b.id, "auto")  # a user's title is kept
    assert store.set_auto_title(a.id, "auto") is False  # "First" was given by hand
    c = store.create_thread()
    assert store.set_auto_title(c.id, "Auto title")
    assert store.thread(c.id).title == "Auto title"


def test_thread_settings_round_trip(store: Store) -> None:
    s = GenerationSettings(temperature=0.2, top_k=7, seed=42)
    t = store.create_thread(system_prompt="Be brief.", model="/m/x.gguf", settings=s)
    got = store.thread(t.id)
    assert (got.system_prompt, got.model, got.settings) == ("Be brief.", "/m/x.gguf", s)
    store.update_thread(t.id, model=None, system_prompt="Be long.")
    got = store.thread(t.id)
    assert got.model is None and got.system_prompt == "Be long." and got.settings == s


def test_trash_restore_and_purge(store: Store) -> None:
    t = store.create_thread("doomed")
    chat(store, t.id, "a", "b")
    store.trash_thread(t.id, now=1000)
    assert store.threads() == []
    assert [x.id for x in store.threads(trash=True)] == [t.id]
    store.restore_thread(t.id)
    assert [x.id for x in store.threads()] == [t.id]
    store.trash_thread(t.id, now=1000)
    assert store.purge_trash(now=1000 + 29 * 86400) == 0
    assert store.purge_trash(now=1000 + 31 * 86400) == 1
    assert store.threads(trash=True) == []
    with pytest.raises(KeyError):
        store.thread(t.id)


def test_messages_keep_their_fields(store: Store) -> None:
    t = store.create_thread()
    u = store.add_message(t.id, Role.USER, "hi", created_at=1234.5)
    r = store.add_message(
        t.id,
        Role.ASSISTANT,
        "",
        status=MessageStatus.STREAMING,
        model="SmolLM2",
        settings={"temperature": 0.1},
    )
    store.update_message(
        r.id, content="Hello!", status=MessageStatus.COMPLETE, prompt_tokens=12, completion_tokens=3
    )
    got = store.message(r.id)
    assert (got.content, got.status, got.model, got.prompt_tokens, got.completion_tokens) == (
        "Hello!",
        MessageStatus.COMPLETE,
        "SmolLM2",
        12,
        3,
    )
    assert got.parent_id == u.id and got.settings == {"temperature": 0.1}
    assert store.message(u.id).created_at == 1234.5
    assert [m.id for m in store.path(t.id)] == [u.id, r.id]


def test_interrupted_replies_become_stopped(store: Store) -> None:
    t = store.create_thread()
    store.add_message(t.id, Role.USER, "q")
    r = store.add_message(t.id, Role.ASSISTANT, "half a rep", status=MessageStatus.STREAMING)
    assert store.recover_interrupted() == 1
    got = store.message(r.id)
    assert got.status == MessageStatus.STOPPED and got.content == "half a rep"


def test_versions_keep_every_edit_and_regeneration(store: Store) -> None:
    t = store.create_thread()
    u1, a1 = chat(store, t.id, "question", "answer one")
    a2 = store.add_message(t.id, Role.ASSISTANT, "answer two", parent_id=u1).id
    assert [m.content for m in store.path(t.id)] == ["question", "answer two"]
    assert store.versions(a1) == [a1, a2]
    assert store.message(a2).version_index == 2 and store.message(a2).version_count == 2
    store.add_message(t.id, Role.USER, "follow up")
    store.add_message(t.id, Role.ASSISTANT, "follow answer")
    # back to the first answer: its (empty) branch is shown
    store.select_version(a1)
    assert [m.content for m in store.path(t.id)] == ["question", "answer one"]
    # and forward again: the branch below answer two comes back as it was
    store.select_version(a2)
    assert [m.content for m in store.path(t.id)] == [
        "question",
        "answer two",
        "follow up",
        "follow answer",
    ]
    # editing the first user message keeps the old one as a version
    edited = store.edit_message(u1, "question, edited")
    assert store.versions(u1) == [u1, edited.id]
    assert [m.content for m in store.path(t.id)] == ["question, edited"]
    store.select_version(u1)
    assert store.path(t.id)[0].content == "question"
    assert store.message(u1).content == "question"  # nothing overwritten


def test_deleting_a_shown_version_shows_a_sibling(store: Store) -> None:
    t = store.create_thread()
    u, a1 = chat(store, t.id, "q", "a1")
    a2 = store.add_message(t.id, Role.ASSISTANT, "a2", parent_id=u).id
    store.delete_message(a2)
    assert [m.id for m in store.path(t.id)] == [u, a1]
    store.delete_message(u)
    assert store.path(t.id) == []


def test_a_threads_message_count_is_its_shown_path_through_every_change(store: Store) -> None:
    """thread() counts the shown path by its deepest depth (one index seek, not a scan of a
    long thread): it must equal the path's length after adds, new versions, a version
    switch to a shorter branch, a new root version and deletions."""
    t = store.create_thread()

    def shown() -> int:
        count = store.thread(t.id).message_count
        assert count == len(store.path(t.id)) == store.path_length(t.id)
        return count

    assert shown() == 0
    u1, a1 = chat(store, t.id, "question", "answer one")
    a2 = store.add_message(t.id, Role.ASSISTANT, "answer two", parent_id=u1).id
    chat(store, t.id, "follow up", "follow answer")
    assert shown() == 4
    store.select_version(a1)
    assert shown() == 2
    store.select_version(a2)
    assert shown() == 4
    store.add_message(t.id, Role.USER, "a new first question", parent_id=None)
    assert shown() == 1
    store.select_version(u1)
    assert shown() == 4
    store.delete_message(a2)  # the sibling a1 (no replies below it) is shown
    assert shown() == 2
    store.delete_message(u1)  # the other root version is shown
    assert shown() == 1
    store.delete_message(store.path(t.id)[0].id)
    assert shown() == 0


def test_a_thread_of_thousands_of_messages_can_be_deleted(store: Store) -> None:
    """Deleting a message takes all below it. Left to ON DELETE CASCADE, each reply in the chain
    was one more nested trigger level, and SQLite refused past 1,000 ("too many levels of trigger
    recursion"): a long thread could not be purged from the trash, at start-up."""
    t = store.create_thread("weeks of chat")
    for i in range(1500):
        store.add_message(
            t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"message {i} about the garden"
        )
    keep = store.create_thread("another")
    chat(store, keep.id, "hi", "hello")
    third = store.path(t.id)[2]
    store.delete_message(third.id)  # 1,498 messages with it
    assert [m.content for m in store.path(t.id)] == [
        "message 0 about the garden",
        "message 1 about the garden",
    ]
    assert store._one("SELECT COUNT(*) FROM messages WHERE thread_id = ?", (t.id,))[0] == 2
    assert [h.thread_id for h in store.search("garden")] == [
        t.id,
        t.id,
    ]  # the index forgot them too

    long = store.create_thread("longer still")
    for i in range(1500):
        store.add_message(long.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"line {i}")
    store.trash_thread(t.id, now=1000)
    store.trash_thread(long.id, now=1000)
    assert store.purge_trash(now=1000 + 31 * 86400) == 2
    assert [x.id for x in store.threads()] == [keep.id]
    assert store._one("SELECT COUNT(*) FROM messages")[0] == 2
    assert [m.content for m in store.path(keep.id)] == ["hi", "hello"]


def test_last_messages_pages_through_a_long_thread(store: Store) -> None:
    t = store.create_thread()
    chat(store, t.id, *[f"message {i}" for i in range(120)])
    last = store.last_messages(t.id, 50)
    assert [m.content for m in last] == [f"message {i}" for i in range(70, 120)]
    older = store.path(t.id, 20, 70)
    assert [m.content for m in older] == [f"message {i}" for i in range(20, 70)]
    assert store.path_length(t.id) == 120


def test_search_ranks_and_highlights(store: Store) -> None:
    a = store.create_thread("Cooking")
    b = store.create_thread("Travel")
    chat(store, a.id, "How long do I boil pasta?", "About ten minutes for spaghetti pasta.")
    chat(store, b.id, "I am flying to Lisbon next week", "Lisbon is lovely in spring.")
    hits = store.search("pasta")
    assert {h.thread_id for h in hits} == {a.id}
    assert all("\x02" in h.snippet and "\x03" in h.snippet for h in hits)
    assert store.search("lisb")[0].thread_title == "Travel"  # prefix of the last word
    assert store.search("lisbon spring")[0].snippet.count("\x02") == 2
    assert store.search('"; DROP TABLE messages; --') == []  # typed text is never FTS syntax
    store.trash_thread(b.id)
    assert store.search("lisbon") == []


def test_search_follows_edits_through_triggers(store: Store) -> None:
    t = store.create_thread()
    r = store.add_message(t.id, Role.ASSISTANT, "draft", status=MessageStatus.STREAMING)
    store.update_message(r.id, content="the final word is zebra")
    assert [h.message_id for h in store.search("zebra")] == [r.id]
    assert store.search("draft") == []


def test_fts_query_quotes_words() -> None:
    assert fts_query("hello  world") == '"hello" "world"*'
    assert fts_query("!!!") == ""


def test_auto_title() -> None:
    assert auto_title("  \n# How do I cook rice?\nmore") == "How do I cook rice?"
    long = "word " * 40
    title = auto_title(long)
    assert title.endswith("…") and len(title) <= 61
    assert auto_title("") == "New chat"


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)


@settings(
    max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(content=text)
def test_any_text_round_trips_exactly(store: Store, content: str) -> None:
    t = store.create_thread(content[:50])
    m = store.add_message(t.id, Role.USER, content)
    assert store.message(m.id).content == content
    assert store.thread(t.id).title == content[:50]


def test_nul_characters_and_a_megabyte_message(store: Store) -> None:
    t = store.create_thread()
    weird = "a\x00b\x00\u202e\U0001f600" * 10
    big = "x" * (1 << 20)
    ids = chat(store, t.id, weird, big)
    assert store.message(ids[0]).content == weird
    assert store.message(ids[1]).content == big


# -- schema versions ---------------------------------------------------------


def test_blank_database_migrates_to_latest(tmp_path: Path) -> None:
    s = Store.open(tmp_path / "new.sqlite3")
    version = s._conn.execute("PRAGMA user_version").fetchone()[0]
    mode = s._conn.execute("PRAGMA journal_mode").fetchone()[0]
    s.close()
    assert version == migrations.LATEST
    assert mode == "wal"


def test_each_older_schema_migrates(tmp_path: Path) -> None:
    for start in range(migrations.LATEST):
        path = tmp_path / f"v{start}.sqlite3"
        conn = sqlite3.connect(path, isolation_level=None)
        for step in migrations.MIGRATIONS[:start]:
            migrations._run_in_transaction(conn, step)
        conn.execute(f"PRAGMA user_version = {start}")
        conn.close()
        s = Store.open(path)
        assert s._conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
        t = s.create_thread("works")
        s.add_message(t.id, Role.USER, "hello")
        s.close()


def test_a_failing_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "db.sqlite3"
    Store.open(path).close()

    def broken(conn) -> None:  # type: ignore[no-untyped-def]
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, broken])
    monkeypatch.setattr(migrations, "LATEST", len(migrations.MIGRATIONS))
    with pytest.raises(sqlite3.OperationalError):
        Store.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS) - 1
    assert (
        conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0]
        == 0
    )
    conn.close()


def test_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE something (x)")
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 5}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(DatabaseTooNew, match="newer version"):
        Store.open(path)
    assert path.read_bytes() == before
    assert not path.with_name(path.name + "-wal").exists()


# -- damage and faults ---------------------------------------------------------


def _filled(path: Path) -> None:
    s = Store.open(path)
    t = s.create_thread("precious")
    chat(s, t.id, *[f"line {i} " * 50 for i in range(200)])
    s._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()


def test_random_bytes_over_the_header_are_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _filled(path)
    with open(path, "r+b") as fh:
        fh.write(b"\x13\x37garbage" * 8)
    damaged = path.read_bytes()
    with pytest.raises(DatabaseCorrupt, match="damaged"):
        Store.open(path)
    assert path.read_bytes() == damaged


def test_truncated_database_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    _filled(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    cut = path.read_bytes()
    with pytest.raises(DatabaseCorrupt):
        s = Store.open(path)
        s.path(1)
        s.search("line")
        s.close()
    assert path.read_bytes() == cut


def test_disk_full_is_a_clear_error_and_keeps_what_was_saved(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    s = Store.open(path)
    t = s.create_thread("full")
    first = s.add_message(t.id, Role.USER, "saved before").id
    pages = s._conn.execute("PRAGMA page_count").fetchone()[0]
    s._conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # sqlite now answers SQLITE_FULL
    with pytest.raises(StorageError, match="full"):
        s.add_message(t.id, Role.ASSISTANT, "y" * 200_000)
    assert s.message(first).content == "saved before"
    assert [m.id for m in s.path(t.id)] == [first]
    s.close()
    s = Store.open(path)
    assert [m.content for m in s.path(t.id)] == ["saved before"]
    assert s._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    s.close()


def test_read_only_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    s = Store.open(path)
    t = s.create_thread("ro")
    s._conn.execute("PRAGMA query_only = ON")  # what a read-only file looks like to sqlite
    with pytest.raises(StorageError, match="cannot write"):
        s.add_message(t.id, Role.USER, "lost?")
    s.close()


def test_two_stores_on_one_file_do_not_corrupt_it(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    a, b = Store.open(path), Store.open(path)
    t = a.create_thread()
    for i in range(50):
        (a if i % 2 else b).add_message(t.id, Role.USER, f"m{i}")
    assert [m.content for m in a.path(t.id)] == [f"m{i}" for i in range(50)]
    assert a._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    a.close()
    b.close()


def test_reader_sees_writes_and_cannot_write(store: Store) -> None:
    t = store.create_thread("x")
    reader = store.reader()
    store.add_message(t.id, Role.USER, "visible")
    assert [m.content for m in reader.path(t.id)] == ["visible"]
    with pytest.raises(StorageError):
        reader.add_message(t.id, Role.USER, "nope")
    reader.close()


def test_timestamps_are_utc_seconds(store: Store) -> None:
    before = time.time()
    t = store.create_thread()
    m = store.add_message(t.id, Role.USER, "now")
    assert before <= m.created_at <= time.time()


def test_snippet_marks_whole_words_and_the_last_as_prefix() -> None:
    from chatapp.store.store import snippet

    text = "The catalogue lists a cat and a caterpillar."
    assert (
        snippet(text, ["cat", "cater"])
        == "The catalogue lists a \x02cat\x03 and a \x02caterpillar\x03."
    )
    long = "x " * 200 + "needle here" + " y" * 200
    cut = snippet(long, ["needle"])
    assert cut.startswith("…") and cut.endswith("…") and "\x02needle\x03" in cut


def test_search_ranks_within_the_most_recent_matches(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import chatapp.store.store as module

    monkeypatch.setattr(module, "SEARCH_WINDOW", 3)
    t = store.create_thread()
    old = store.add_message(t.id, Role.USER, "zebra zebra zebra zebra").id
    newer = [
        store.add_message(t.id, Role.USER, f"one zebra among many other words {i}").id
        for i in range(3)
    ]
    hits = [h.message_id for h in store.search("zebra")]
    assert old not in hits and sorted(hits) == newer
