"""Which summary to make next, staleness after edits, and folding into higher levels.

The text generator is a stand-in here; tests/integration runs the real model."""

from __future__ import annotations

import threading

from chatapp.domain import Role
from chatapp.memory import summaries
from chatapp.memory.summaries import SummaryParams
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables

P = SummaryParams(keep_recent=4, span=6, fold=2)


def fill(store: Store, n: int) -> int:
    t = store.create_thread()
    for i in range(n):
        store.add_message(t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"message number {i}")
    return t.id


def fake_generate(messages, settings, cancel):  # type: ignore[no-untyped-def]
    return f"summary of {messages[-1].content.count(chr(10)) + 1} lines"


def run_all(store: Store, thread_id: int) -> int:
    made = 0
    while (job := summaries.next_job(store, thread_id, P)) is not None:
        assert summaries.run_job(store, job, fake_generate, threading.Event(), "m") is not None
        made += 1
    return made


def test_nothing_to_summarise_in_a_short_thread(store: Store) -> None:
    assert summaries.next_job(store, fill(store, 9), P) is None


def test_oldest_span_first_and_ranges_recorded(store: Store) -> None:
    t = fill(store, 16)
    job = summaries.next_job(store, t, P)
    assert (job.level, job.first_depth, job.last_depth) == (0, 0, 5)
    assert "message number 0" in job.source_text and "message number 5" in job.source_text
    run_all(store, t)
    rows = MemoryTables(store).summaries(t)
    assert [(r.first_depth, r.last_depth) for r in rows if r.level == 0] == [(0, 5), (6, 11)]


def test_editing_a_covered_message_makes_its_summary_stale_and_it_is_rebuilt(store: Store) -> None:
    t = fill(store, 16)
    run_all(store, t)
    covered = store.path(t, 2, 3)[0]
    store.update_message(covered.id, content="an edited message")
    rows = MemoryTables(store).summaries(t)
    assert [r.stale for r in rows if r.first_depth == 0] == [True]
    job = summaries.next_job(store, t, P)
    assert job.replaces is not None and "an edited message" in job.source_text
    run_all(store, t)
    assert not any(r.stale for r in MemoryTables(store).summaries(t))


def test_deleting_a_covered_message_makes_its_summary_stale(store: Store) -> None:
    t = fill(store, 16)
    run_all(store, t)
    store.delete_message(store.path(t, 8, 9)[0].id)
    assert any(r.stale for r in MemoryTables(store).summaries(t, current_only=False))


def test_summaries_of_summaries_keep_the_top_level_short(store: Store) -> None:
    t = fill(store, 40)
    run_all(store, t)
    current = MemoryTables(store).summaries(t)
    assert max(r.level for r in current) >= 1
    assert len([r for r in current if r.level == 0]) <= P.fold
    top = max(current, key=lambda r: r.level)
    assert top.first_depth == 0 and {store.path(t, 0, 1)[0].id} <= set(top.message_ids)


def test_a_cancelled_summary_stores_nothing(store: Store) -> None:
    t = fill(store, 16)
    cancel = threading.Event()
    cancel.set()
    job = summaries.next_job(store, t, P)
    assert summaries.run_job(store, job, fake_generate, cancel, "m") is None
    assert MemoryTables(store).summaries(t) == []


def test_a_reply_that_goes_on_with_the_dialogue_is_cleaned_to_the_summary_in_it() -> None:
    source = (
        "User: I adopted a cat called Miso in Lisbon.\nAssistant: Congratulations on adopting Miso!"
    )
    reply = (
        "Here is the summary:\n"
        "1. This conversation between a user and an assistant is about adopting Miso, a cat.\n"
        "User: Thanks, Melissa! I love her.\nI'm so glad you are here.\nWhat else?\n"
        "The user also bought a motorbike in Madrid yesterday evening."
    )
    assert summaries.clean(reply, source, 3) == "This conversation is about adopting Miso, a cat."


def test_a_reply_with_nothing_usable_leaves_the_first_statements_of_the_span(store: Store) -> None:
    t = store.create_thread()
    lines = [
        "I moved to Porto in May with my dog Rex.",
        "That sounds lovely, how is Rex?",
        "Rex loves the beach here.",
    ]
    for i in range(12):
        store.add_message(t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, lines[i % 3])
    job = summaries.next_job(store, t.id, P)
    assert job is not None

    def dialogue(messages, settings, cancel):  # type: ignore[no-untyped-def]
        return "User: Hi! How are you?\nAssistant: I'm fine, thanks."

    assert summaries.run_job(store, job, dialogue, threading.Event(), "m") is not None
    (row,) = MemoryTables(store).summaries(t.id)
    assert row.text.startswith('The user said: "I moved to Porto in May with my dog Rex."')
    assert "How are you" not in row.text


def test_every_message_of_a_long_span_reaches_the_prompt(store: Store) -> None:
    t = store.create_thread()
    for i in range(10):
        store.add_message(
            t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"marker{i} " + "word " * 400
        )
    job = summaries.next_job(store, t.id, P)
    assert job is not None and len(job.source_text) > 6000
    text = summaries.prompt(job)[-1].content
    assert len(text) < 7000
    assert all(
        f"marker{i}" in text for i in range(6)
    )  # the span's first messages too, not only its end


def test_editing_a_message_under_a_summary_of_summaries_makes_the_range_again(store: Store) -> None:
    t = fill(store, 40)
    run_all(store, t)
    tables = MemoryTables(store)
    assert any(r.level >= 1 and r.first_depth == 0 for r in tables.summaries(t))
    store.update_message(store.path(t, 2, 3)[0].id, content="an edited message")
    assert all(r.stale for r in tables.summaries(t) if r.first_depth == 0)  # every level over it
    jobs = []
    while (job := summaries.next_job(store, t, P)) is not None:
        jobs.append(job)
        assert summaries.run_job(store, job, fake_generate, threading.Event(), "m") is not None
    assert "an edited message" in jobs[0].source_text  # the summary under it first, then the fold
    current = tables.summaries(t)
    assert not any(r.stale for r in current)
    assert min(r.first_depth for r in current) == 0  # the start of the thread is summarised again
    assert any(r.level >= 1 and r.first_depth == 0 for r in current)


def test_summaries_that_are_dialogue_are_made_again_after_the_upgrade(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    from chatapp.store import migrations

    path = tmp_path / "v5.sqlite3"
    store = Store.open(path)
    t = fill(store, 16)
    tables = MemoryTables(store)
    ids = [m.id for m in store.path(t, 0, 6)]
    tables.add_summary(
        t, 0, 0, 5, ids, "User: Caroline: Thanks, Melissa!\nAssistant: You're welcome.", "SmolLM2"
    )
    tables.add_summary(t, 0, 6, 11, ids, "The user counted messages from six to eleven.", "SmolLM2")
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 5")  # as the app left it before this step
    conn.commit()
    conn.close()
    store = Store.open(path)
    assert store._conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
    stale = {r.first_depth: r.stale for r in MemoryTables(store).summaries(t)}
    assert stale == {0: True, 6: False}
    job = summaries.next_job(store, t, P)
    assert job is not None and job.first_depth == 0 and job.replaces is not None
    store.close()
