"""Slots that know what a fact is about and when it changed (the real all-MiniLM-L6-v2).

The phrasings here are none of the knowledge-update benchmark's templates, nor the
attribute examples of chatapp.memory.attributes: the attribute reading must carry over
to wordings nobody tuned it for."""

from __future__ import annotations

import numpy as np
import pytest

from chatapp.domain import Role
from chatapp.memory.attributes import model_for
from chatapp.memory.builder import ContextBuilder
from chatapp.memory.service import MemoryService
from chatapp.memory.slots import SlotBank, same_value
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SlotHistory, SlotRow
from tests.unit.memory.thread_helpers import day, words

DAY = 86400.0
T0 = 1_750_000_000.0


@pytest.mark.parametrize(
    ("sentence", "attribute"),
    [
        ("We bought a terraced house in Tallinn and live there now.", "home"),
        ("I'm employed as a firefighter.", "work"),
        ("Noor and I have been a couple since the spring.", "partner"),
        ("There's a golden retriever called Waffle in my life now.", "pet"),
        ("I stopped eating meat and fish altogether.", "diet"),
        ("I've got a coeliac diagnosis, so no bread for me.", "allergy"),
        ("My ride these days is a second-hand Honda Civic.", "vehicle"),
    ],
)
def test_the_embedder_tells_which_attribute_a_statement_is_about(
    embedder, attributes, sentence, attribute
) -> None:  # type: ignore[no-untyped-def]
    (reading,) = attributes.read(embedder.encode([sentence]))
    assert reading.attribute == attribute and reading.lasting


@pytest.mark.parametrize(
    "chatter",
    [
        "Yeah she did teach me!",
        "I'm so sleepy after that huge lunch.",
        "I just got home from the supermarket, it was heaving.",
        "I have no idea, honestly, whatever you think is best.",
    ],
)
def test_passing_talk_is_no_lasting_fact(embedder, attributes, chatter) -> None:  # type: ignore[no-untyped-def]
    (reading,) = attributes.read(embedder.encode([chatter]))
    assert not reading.lasting


def write(bank: SlotBank, embedder, text: str, source: int, now: float, owner: str = "user"):  # type: ignore[no-untyped-def]
    return bank.write(text, owner, embedder.encode_one(text), [source], now)


def test_a_new_value_of_a_single_valued_attribute_replaces_the_old_and_keeps_it_as_history(
    embedder, attributes
) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([], attributes=attributes)
    write(bank, embedder, "I live in Antwerp.", 1, T0)
    write(bank, embedder, "I'm employed as a firefighter.", 2, T0)
    # no keyword of the old detector ("live", "moved") in it
    result = write(
        bank,
        embedder,
        "We bought a terraced house in Tallinn and that's home now.",
        3,
        T0 + 20 * DAY,
    )
    assert result.action == "replace"
    slot = result.slot
    assert slot.text.startswith("We bought a terraced house in Tallinn") and slot.sources == [3]
    assert slot.since == T0 + 20 * DAY and slot.attribute == "home"
    assert slot.history == [SlotHistory("I live in Antwerp.", [1], T0, T0 + 20 * DAY)]
    assert len(bank.slots) == 2  # the job stands
    result = write(bank, embedder, "I retrained, I'm a locksmith these days.", 4, T0 + 30 * DAY)
    assert (
        result.action == "replace"
        and result.slot.history[-1].text == "I'm employed as a firefighter."
    )


def test_a_restatement_refreshes_and_two_values_in_one_frame_do_not(embedder, attributes) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([], attributes=attributes)
    write(bank, embedder, "I live in Antwerp.", 1, T0)
    assert (
        write(bank, embedder, "I live in Antwerp, near the zoo.", 2, T0 + DAY).action == "refresh"
    )
    assert bank.slots[0].history == [] and bank.slots[0].sources == [1, 2]
    # "I live in Antwerp" / "I live in Tallinn" are alike in wording (cosine > 0.8) but two values
    assert not same_value("I live in Antwerp.", "I live in Tallinn.")
    result = write(bank, embedder, "I live in Tallinn.", 3, T0 + 2 * DAY)
    assert result.action == "replace" and [h.text for h in result.slot.history] == [
        "I live in Antwerp."
    ]


def test_several_hobbies_stand_together_until_one_is_given_up(embedder, attributes) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([], attributes=attributes)
    write(bank, embedder, "I play chess at a club on Tuesdays.", 1, T0)
    assert write(bank, embedder, "I knit scarves in the winter.", 2, T0 + DAY).action == "new"
    result = write(
        bank,
        embedder,
        "I don't play chess any more, I've started fencing instead.",
        3,
        T0 + 9 * DAY,
    )
    assert result.action == "replace"
    assert result.slot.history[0].text == "I play chess at a club on Tuesdays."
    assert any(s.text == "I knit scarves in the winter." for s in bank.slots)


def test_someone_elses_home_does_not_replace_the_users(embedder, attributes) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank([], attributes=attributes)
    write(bank, embedder, "I live in Antwerp.", 1, T0)
    assert (
        write(bank, embedder, "My brother lives in Tallinn.", 2, T0 + DAY, owner="brother").action
        == "new"
    )
    assert [s.text for s in bank.slots if s.owner == "user"] == ["I live in Antwerp."]


def _thread(store: Store) -> int:
    t = store.create_thread("a life")
    script = {
        0: "Hello again! I live in Antwerp, by the river.",
        1: "My husband Idris and I have been married for six years.",
        9: "Big changes: Idris and I divorced, and I'm with Noor now.",
        12: "Oh, and we bought a terraced house in Tallinn, that's home now.",
    }
    for d in range(16):
        if d in script:
            store.add_message(t.id, Role.USER, script[d], created_at=day(d, 9))
            store.add_message(
                t.id, Role.ASSISTANT, "Thanks for telling me!", created_at=day(d, 9) + 30
            )
        for j in range(6):
            store.add_message(
                t.id,
                Role.USER,
                f"I'm so sleepy after lunch, day {d} round {j}.",
                created_at=day(d, 12) + j * 60,
            )
            store.add_message(
                t.id,
                Role.ASSISTANT,
                f"Have a rest, it is day {d}.",
                created_at=day(d, 12) + j * 60 + 30,
            )
    return t.id


def test_ingest_keeps_the_facts_replaces_the_changed_ones_and_the_context_says_what_is_current(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    thread_id = _thread(store)
    report = MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    assert report.judged_out > 0  # the chatter became no slot
    slots = MemoryTables(store).slots(thread_id)
    assert not any("sleepy" in s.text for s in slots)
    home = next(s for s in slots if "Tallinn" in s.text)
    assert [h.text for h in home.history] == ["Hello again!  I live in Antwerp, by the river."] or [
        h.text for h in home.history
    ] == ["I live in Antwerp, by the river."]
    assert home.history[0].until == day(12, 9) and home.since == day(12, 9)
    # the divorce replaced the marriage (one partner at a time); the new partner is known
    partner = next(s for s in slots if any("Idris" in h.text for h in s.history))
    assert partner.owner == "user" and partner.attribute == "partner" and "divorced" in partner.text
    assert any("Noor" in s.text and s.owner == "user" for s in slots)

    question = store.add_message(
        thread_id, Role.USER, "Where do I live these days?", created_at=day(17)
    )
    built = ContextBuilder(store, words, embedder.encode_one).build(
        thread_id, "", question, 300, now=day(17)
    )
    slot_text = next(p.text for p in built.parts if p.kind == "slots")
    line = next(line for line in slot_text.splitlines() if "Tallinn" in line)
    assert (
        "(now, since 13 March 2026; earlier: I live in Antwerp, by the river. until 13 March 2026)"
        in line
    )


def test_a_recalled_statement_of_an_old_value_carries_the_new_one(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    """Recall may find the old statement (it shares the question's words); the context must
    then also say that it changed, and to what."""
    thread_id = _thread(store)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread_id)
    antwerp = next(m for m in store.path(thread_id) if "Antwerp" in m.content)
    question = store.add_message(
        thread_id,
        Role.USER,
        "Remind me, what did I say about Antwerp and the river?",
        created_at=day(17),
    )
    built = ContextBuilder(store, words, embedder.encode_one).build(
        thread_id, "", question, 300, now=day(17)
    )
    recalled = [
        p for p in built.parts if p.kind in ("recall", "recall_new") and antwerp.id in p.sources
    ]
    assert recalled, "the old statement is recalled"
    line = next(line for p in recalled for line in p.text.splitlines() if "Antwerp" in line)
    assert line.endswith(
        "[earlier; on 13 March 2026 this changed: "
        "We bought a terraced house in Tallinn, that's home now.]"
    )


def test_history_is_stored_in_order_and_goes_with_its_slot(store: Store) -> None:
    tables = MemoryTables(store)
    t = store.create_thread()
    key = np.ones(384, dtype=np.float32) / np.sqrt(384)
    slot = SlotRow(
        None,
        t.id,
        "I live in Tallinn.",
        "user",
        key,
        sources=[3],
        created_at=T0,
        updated_at=T0 + 9,
        attribute="home",
        since=T0 + 9,
        history=[
            SlotHistory("I live in Ghent.", [1], T0, T0 + 5),
            SlotHistory("I live in Antwerp.", [2], T0 + 5, T0 + 9),
        ],
    )
    tables.save_slot(slot)
    (back,) = tables.slots(t.id)
    assert (
        back.history == slot.history and back.attribute == "home" and back.current_since == T0 + 9
    )
    back.history = back.history[1:]
    tables.save_slot(back)  # written anew, not appended
    assert [h.text for h in tables.slots(t.id)[0].history] == ["I live in Antwerp."]
    tables.delete_slot(back.id)
    assert store._one("SELECT COUNT(*) FROM memory_slot_history")[0] == 0


def test_one_attribute_model_serves_every_wrapper_of_an_embedder(embedder) -> None:  # type: ignore[no-untyped-def]
    """The engine thread wraps the embedder in a new function for every exchange; the
    examples must not be embedded again each time."""
    assert model_for(embedder.encode) is model_for(lambda texts: embedder.encode(texts))
