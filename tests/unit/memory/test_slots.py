"""The gated slot bank: capacity, pinning, contradiction, refresh, decay (real embeddings)."""

import numpy as np
import pytest

from chatapp.memory.slots import GateParams, SlotBank
from chatapp.store.memory_tables import SlotRow

DAY = 86400.0
T0 = 1_750_000_000.0


def write(bank: SlotBank, embedder, text: str, source: int, now: float = T0, owner: str = "user"):  # type: ignore[no-untyped-def]
    return bank.write(text, owner, embedder.encode_one(text), [source], now)


def test_contradiction_replaces_the_old_fact(embedder) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([])
    assert write(bank, embedder, "I live in Berlin.", 1).action == "new"
    write(bank, embedder, "I love playing the violin.", 2)
    result = write(bank, embedder, "I moved to Lisbon.", 3, T0 + 4 * DAY)
    assert result.action == "replace"
    texts = [s.text for s in bank.slots]
    assert "I moved to Lisbon." in texts and "I live in Berlin." not in texts
    assert result.slot.sources == [3]
    assert len(bank.slots) == 2


def test_restating_a_fact_refreshes_and_merges_sources(embedder) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([])
    write(bank, embedder, "I work as a nurse.", 1)
    before = bank.slots[0].salience
    result = write(bank, embedder, "I work as a nurse at the hospital.", 7, T0 + DAY)
    assert result.action == "refresh"
    assert bank.slots[0].text == "I work as a nurse."
    assert bank.slots[0].sources == [1, 7]
    assert bank.slots[0].salience > before


def test_unrelated_facts_take_new_slots_up_to_capacity_then_evict_the_least_salient(
    embedder,
) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([], GateParams(capacity=3))
    write(bank, embedder, "I have a dog named Max.", 1, T0)
    write(bank, embedder, "My favourite food is pasta.", 2, T0 + 10 * DAY)
    write(bank, embedder, "I play the guitar in a band.", 3, T0 + 20 * DAY)
    assert len(bank.slots) == 3
    result = write(bank, embedder, "I am allergic to peanuts.", 4, T0 + 30 * DAY)
    assert (
        result.action == "new" and result.evicted.text == "I have a dog named Max."
    )  # the oldest, most decayed
    assert len(bank.slots) == 3


def test_pinned_slots_are_never_evicted(embedder) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([], GateParams(capacity=2))
    write(bank, embedder, "I have a dog named Max.", 1, T0)
    bank.slots[0].pinned = True
    write(bank, embedder, "My favourite food is pasta.", 2, T0 + 1)
    for i, text in enumerate(
        ["I play the guitar.", "I am allergic to peanuts.", "I was born in Oslo."]
    ):
        write(bank, embedder, text, 10 + i, T0 + (i + 2) * DAY)
    assert any(s.text == "I have a dog named Max." for s in bank.slots)
    full = SlotBank(
        [SlotRow(1, 1, "pinned", "user", embedder.encode_one("pinned"), pinned=True)],
        GateParams(capacity=1),
    )
    assert write(full, embedder, "I collect stamps.", 5).action == "dropped"


def test_a_contradiction_of_a_pinned_fact_takes_a_new_slot(embedder) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([])
    write(bank, embedder, "I live in Berlin.", 1)
    bank.slots[0].pinned = True
    assert write(bank, embedder, "I moved to Lisbon.", 2).action == "new"
    assert [s.text for s in bank.slots] == ["I live in Berlin.", "I moved to Lisbon."]


def test_facts_about_someone_else_do_not_overwrite_the_users(embedder) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([])
    write(bank, embedder, "I live in Berlin.", 1)
    result = write(bank, embedder, "My sister lives in Berlin.", 2, owner="sister")
    assert result.action == "new" and len(bank.slots) == 2


def test_salience_decays_with_a_half_life_and_reading_orders_by_relevance(embedder) -> None:  # type: ignore[no-untyped-def]
    params = GateParams(half_life_days=10)
    bank = SlotBank([], params)
    write(bank, embedder, "I have a dog named Max.", 1, T0)
    write(bank, embedder, "My favourite food is pasta.", 2, T0)
    s = bank.salience(T0 + 10 * DAY)
    assert np.allclose(s.numpy(), [0.5, 0.5], atol=1e-5)
    ranked = bank.read(embedder.encode_one("What should I cook for dinner?"), T0)
    assert ranked[0][0].text == "My favourite food is pasta."
    bank.slots[0].pinned = True
    assert bank.read(embedder.encode_one("What should I cook for dinner?"), T0)[0][0].pinned


def test_reading_only_the_attended_slots_keeps_the_pinned_and_the_keyless(embedder) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([])
    facts = [
        "I have a dog named Max.",
        "My favourite food is pasta.",
        "I work as a nurse.",
        "I play the cello.",
        "I live in Lisbon.",
        "My sister Eva studies law.",
        "I collect vinyl records.",
        "I am vegetarian.",
    ]
    for i, fact in enumerate(facts):
        write(bank, embedder, fact, i + 1, T0)
    assert len(bank.slots) == len(facts)
    dinner = embedder.encode_one("What should I cook for dinner tonight?")
    assert bank.read(dinner, T0)[0][0].text == "My favourite food is pasta."
    assert len(bank.read(dinner, T0)) == len(facts)  # all of them, best first
    attended = [s.text for s, _score in bank.read(dinner, T0, attended_only=True)]
    assert attended == [
        "My favourite food is pasta."
    ]  # 7.2 even shares of attention; the next best 1.0
    bank.slots[2].pinned = True
    bank.slots[3].key = np.zeros_like(bank.slots[3].key)  # edited: no key until the next ingest
    attended = [s.text for s, _score in bank.read(dinner, T0, attended_only=True)]
    assert attended[0] == "I work as a nurse." and set(attended) == {
        "I work as a nurse.",
        "My favourite food is pasta.",
        "I play the cello.",
    }
    assert len(bank.read(None, T0, attended_only=True)) == len(facts)  # no message to judge by


def test_related_facts_stand_together_unless_one_says_it_changed(embedder) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([])
    write(bank, embedder, "I am allergic to peanuts.", 1)
    write(bank, embedder, "I play the cello.", 2)
    assert write(bank, embedder, "I am vegetarian.", 3).action == "new"  # cosine 0.46: same subject
    assert write(bank, embedder, "I collect vinyl records.", 4).action == "new"  # 0.40
    write(bank, embedder, "I work as a nurse.", 5)
    result = write(bank, embedder, "I work as a teacher at the primary school now.", 6, T0 + DAY)
    assert result.action == "replace" and result.slot.sources == [6]  # the same attribute: one job
    result = write(bank, embedder, "I quit the cello last year.", 7, T0 + 2 * DAY)
    assert (
        result.action == "replace" and result.slot.text == "I quit the cello last year."
    )  # a stated change
    assert sorted(s.text for s in bank.slots) == [
        "I am allergic to peanuts.",
        "I am vegetarian.",
        "I collect vinyl records.",
        "I quit the cello last year.",
        "I work as a teacher at the primary school now.",
    ]


def test_a_read_reinforces_the_decayed_salience_up_to_a_ceiling(store) -> None:  # type: ignore[no-untyped-def]
    from chatapp.memory.slots import reinforce_read
    from chatapp.store.memory_tables import MemoryTables

    tables = MemoryTables(store)
    thread = store.create_thread("t")
    key = np.ones(384, dtype=np.float32) / np.sqrt(384)
    slot = tables.save_slot(
        SlotRow(None, thread.id, "I have a dog named Max.", "user", key, 1.0, False, [], T0, T0)
    )
    params = GateParams(half_life_days=14, read_boost=0.25, max_salience=2.0)
    reinforce_read(tables, [slot.id], T0 + 14 * DAY, params)
    (row,) = tables.slots(thread.id)
    # half of it decayed in one half-life, then the read adds its boost (not 1.0 + 0.25)
    assert row.salience == pytest.approx(0.75) and row.used_at == T0 + 14 * DAY
    for _ in range(20):  # shown on every turn of a long sitting
        reinforce_read(tables, [slot.id], T0 + 14 * DAY, params)
    assert tables.slots(thread.id)[0].salience == pytest.approx(2.0)
    reinforce_read(tables, [slot.id], T0 + 28 * DAY, params)
    assert tables.slots(thread.id)[0].salience == pytest.approx(1.25)
