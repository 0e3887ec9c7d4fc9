"""Slots about the user shared by all threads: off unless turned on; only facts about the user
himself; a few of them; seen by every thread, once; unused again when turned off."""

from __future__ import annotations

from chatapp.domain import Role
from chatapp.memory.builder import BuilderParams, ContextBuilder
from chatapp.memory.service import MemoryService
from chatapp.memory.slots import GateParams
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables


def _words(text: str) -> int:
    return len(text.split()) + 1


def _system(built) -> str:  # type: ignore[no-untyped-def]
    return built.messages[0].content if built.messages[0].role == "system" else ""


def test_facts_about_the_user_reach_other_threads_only_when_turned_on(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    service = MemoryService(store, embedder.encode, embedder.name)
    tables = MemoryTables(store)
    a = store.create_thread("a")
    store.add_message(a.id, Role.USER, "I work as a nurse at the city hospital.")
    service.ingest(a.id)
    assert not tables.global_memory() and tables.slots(None) == []  # off by default

    tables.set_global_memory(True)
    store.add_message(a.id, Role.USER, "I am allergic to peanuts. My sister Mia lives in Oslo.")
    service.ingest(a.id)
    shared = tables.slots(None)
    assert [s.text for s in shared] == ["I am allergic to peanuts."]  # not the sister's fact
    assert [s.owner for s in shared] == ["user"]

    b = store.create_thread("b")
    question = store.add_message(b.id, Role.USER, "Can you suggest a snack for my trip?")
    builder = ContextBuilder(store, _words, embedder.encode_one)
    built = builder.build(b.id, "", question, 400)
    assert "I am allergic to peanuts." in _system(built)
    assert any(p.kind == "slots" and shared[0].id in p.slot_ids for p in built.parts)

    tables.set_global_memory(False)  # off again: kept, but neither used nor written
    assert "peanuts" not in _system(builder.build(b.id, "", question, 400))
    store.add_message(a.id, Role.USER, "I have lived in Lisbon since 2019.")
    service.ingest(a.id)
    assert [s.text for s in tables.slots(None)] == ["I am allergic to peanuts."]


def test_the_shared_bank_holds_a_few_and_a_thread_shows_a_fact_once(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    tables = MemoryTables(store)
    tables.set_global_memory(True)
    service = MemoryService(store, embedder.encode, embedder.name)
    a = store.create_thread("a")
    facts = [
        "I work as a nurse.",
        "I play the cello.",
        "I was born in Recife.",
        "I have two daughters.",
        "I love hiking in the mountains.",
        "My favourite colour is green.",
        "I moved to Lisbon in 2019.",
        "I own a red Fiat.",
        "I am allergic to peanuts.",
        "I speak Portuguese and German since I was born.",
    ]
    for fact in facts:
        store.add_message(a.id, Role.USER, fact)
        store.add_message(a.id, Role.ASSISTANT, "Noted, thanks for telling me about that.")
    service.ingest(a.id)
    assert len(tables.slots(None)) == GateParams().global_capacity < len(facts)
    assert len(tables.slots(a.id)) == len(facts)

    for i in range(30):  # the facts leave the recent window
        store.add_message(
            a.id,
            Role.USER if i % 2 == 0 else Role.ASSISTANT,
            f"Filler {i} about the weather today.",
        )
    question = store.add_message(a.id, Role.USER, "What should I cook tonight?")
    room = BuilderParams(slots_share=0.2)  # all of them fit
    built = ContextBuilder(store, _words, embedder.encode_one, room).build(a.id, "", question, 600)
    lines = next(p for p in built.parts if p.kind == "slots").text.splitlines()
    assert len(lines) == len(facts) and len(set(lines)) == len(
        lines
    )  # the thread's slot, not also its shared twin


def test_a_thread_deleted_for_good_takes_the_shared_facts_it_alone_gave(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    tables = MemoryTables(store)
    tables.set_global_memory(True)
    service = MemoryService(store, embedder.encode, embedder.name)
    a, b = store.create_thread("a"), store.create_thread("b")
    store.add_message(a.id, Role.USER, "I am allergic to peanuts.")
    store.add_message(a.id, Role.USER, "I work as a nurse.")
    service.ingest(a.id)
    store.add_message(b.id, Role.USER, "I work as a nurse at the city hospital.")
    service.ingest(b.id)  # the same fact again: the shared slot now has a source in each thread
    service.add_slot_by_hand(None, "Call me Ada.")  # the user's own words, no source
    shared = {s.text: s for s in tables.slots(None)}
    assert set(shared) == {"I am allergic to peanuts.", "I work as a nurse.", "Call me Ada."}
    assert len(shared["I work as a nurse."].sources) == 2

    store.trash_thread(a.id, now=0.0)
    assert len(tables.slots(None)) == 3  # in the trash it can still be restored
    assert store.purge_trash(now=100 * 86400.0) == 1
    after = {s.text: s for s in tables.slots(None)}
    assert set(after) == {
        "I work as a nurse.",
        "Call me Ada.",
    }  # the allergy came from thread a alone
    assert len(after["I work as a nurse."].sources) == 1 and len(tables.slots(b.id)) == 1
