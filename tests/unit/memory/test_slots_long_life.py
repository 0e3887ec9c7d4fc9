"""Slots over a long life: a value changed many times stays one current value (the older
slots of the attribute fold into its history), the past is no present fact, a plain stop
still ends a value, a partner named in passing is the user's, and the reader shows the
newest slot of an attribute it attends to (the real all-MiniLM-L6-v2 where meaning is read).

None of these sentences is a template of the knowledge-update benchmark or an example of
chatapp.memory.attributes."""

from __future__ import annotations

import numpy as np

from chatapp.domain import Role
from chatapp.memory import facts
from chatapp.memory.attributes import says_stop
from chatapp.memory.builder import _newest_first, _with_newest
from chatapp.memory.service import MemoryService
from chatapp.memory.slots import SlotBank
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SlotRow
from tests.unit.memory.thread_helpers import user_slot

DAY = 86400.0
T0 = 1_750_000_000.0


def test_a_change_folds_every_older_slot_of_a_single_valued_attribute_into_history(  # type: ignore[no-untyped-def]
    embedder, attributes
) -> None:
    """Two home slots (a missed change left the first behind) and a move: one home is
    current, and both older ones are its history, oldest first, with their dates."""
    bank = SlotBank(
        [
            user_slot(embedder, "I live in a flat in Dundee.", "home", T0, 1),
            user_slot(embedder, "I'm renting a cottage near Inverness.", "home", T0 + 30 * DAY, 2),
        ],
        attributes=attributes,
    )
    text = "We've moved to Aberdeen now, into a house by the harbour."
    result = bank.write(text, "user", embedder.encode_one(text), [3], T0 + 60 * DAY)
    assert result.action == "replace"
    homes = [s for s in bank.slots if s.attribute == "home"]
    assert len(homes) == 1 and "Aberdeen" in homes[0].text
    assert [h.text for h in homes[0].history] == [
        "I live in a flat in Dundee.",
        "I'm renting a cottage near Inverness.",
    ]
    assert [h.since for h in homes[0].history] == [T0, T0 + 30 * DAY]
    assert all(h.until == T0 + 60 * DAY for h in homes[0].history)


def test_a_change_of_one_attribute_folds_no_other(embedder, attributes) -> None:  # type: ignore[no-untyped-def]
    bank = SlotBank(
        [
            user_slot(embedder, "I work as a welder at the shipyard.", "work", T0, 1),
            user_slot(embedder, "I live in a flat in Dundee.", "home", T0 + DAY, 2),
        ],
        attributes=attributes,
    )
    text = "I'm a crane operator now, the welding was ruining my eyes."
    bank.write(text, "user", embedder.encode_one(text), [3], T0 + 60 * DAY)
    assert any(s.attribute == "home" and "Dundee" in s.text for s in bank.slots)
    assert len(bank.slots) == 2


def test_another_clause_of_a_restating_message_is_a_change_not_an_addition(  # type: ignore[no-untyped-def]
    embedder, attributes
) -> None:
    """ "I changed what I eat, I'm vegan now": the first clause refreshes a slot of the same
    words, and the second must still replace the diet, not be appended to it."""
    old = "I eat everything except red meat."
    bank = SlotBank([user_slot(embedder, old, "diet", T0, 1)], attributes=attributes)
    for text in ("I've changed what I eat.", "I'm fully vegan now."):
        bank.write(text, "user", embedder.encode_one(text), [5], T0 + 40 * DAY)
    diets = [s for s in bank.slots if "vegan" in s.text]
    assert diets and not diets[0].text.startswith("I eat everything")


def test_statements_about_the_past_take_no_slot() -> None:
    for past in (
        "I used to live in a houseboat in Utrecht.",
        "Back when I worked at the post office, I knew everyone.",
        "Sometimes I really miss Bruges.",
    ):
        assert facts.candidates(past, 1, by_meaning=True) == [], past
        assert facts.about_the_past(past)
    # the past beside the present is a change, and stays
    said = "I used to be a nurse, I teach chemistry now."
    assert not facts.about_the_past(said)
    assert facts.candidates(said, 1, by_meaning=True) != []


def test_a_stop_that_the_judge_calls_talk_ends_a_value_but_takes_no_slot(  # type: ignore[no-untyped-def]
    embedder, attributes
) -> None:
    hobby = "I play water polo twice a week."
    bank = SlotBank([user_slot(embedder, hobby, "hobby", T0, 1)], attributes=attributes)
    stop = "I gave up water polo."
    result = bank.write(stop, "user", embedder.encode_one(stop), [2], T0 + DAY, change_only=True)
    assert result.action == "replace"
    assert bank.slots[0].text == stop and bank.slots[0].history[0].text == hobby
    unrelated = "I gave up sugar in my tea."
    result = bank.write(
        unrelated, "user", embedder.encode_one(unrelated), [3], T0 + 2 * DAY, change_only=True
    )
    assert result.action == "dropped" and len(bank.slots) == 1


def test_what_happened_to_a_thing_is_no_stop() -> None:
    assert says_stop("We sold the caravan last summer.")
    assert says_stop("Kemal and I broke up in May.")
    for talk in (
        "Dropped my tablet, the case saved it.",
        "My laptop died again.",
        "I left my keys at work.",
    ):
        assert not says_stop(talk), talk


def test_a_partner_named_in_passing_is_the_users_own(tmp_path, embedder) -> None:  # type: ignore[no-untyped-def]
    """ "My boyfriend these days is Anselm" reads as no attribute (the name weakens the
    likeness), yet it says who the user's partner is: a slot of the user's, not of the
    boyfriend's."""
    store = Store.open(tmp_path / "partner.sqlite3")
    service = MemoryService(store, embedder.encode, embedder.name)
    thread = store.create_thread("t")
    for n, text in enumerate(
        ["My girlfriend is called Marit.", "My boyfriend these days is Anselm."]
    ):
        when = T0 + n * 30 * DAY
        store.add_message(thread.id, Role.USER, text, created_at=when)
        service.ingest(thread.id, now=when)
    slots = MemoryTables(store).slots(thread.id)
    assert slots and all(s.owner == "user" for s in slots)
    # what the partner does is the partner's, not the user's job
    when = T0 + 90 * DAY
    store.add_message(
        thread.id, Role.USER, "My boyfriend works as a vet in Leith.", created_at=when
    )
    service.ingest(thread.id, now=when)
    vet = [s for s in MemoryTables(store).slots(thread.id) if "vet" in s.text]
    assert vet and vet[0].owner == "boyfriend"
    store.close()


def _row(text: str, attribute: str | None, since: float, n: int) -> SlotRow:
    return SlotRow(
        n,
        1,
        text,
        "user",
        np.ones(4, np.float32),
        1.0,
        False,
        [n],
        since,
        since,
        None,
        attribute,
        since,
    )


def test_the_reader_takes_the_newest_slot_of_an_attended_attribute() -> None:
    old = _row("I drive a red Vauxhall.", "vehicle", T0, 1)
    hobby = _row("I sing in a choir.", "hobby", T0, 2)
    new = _row("My car is an electric Renault now.", "vehicle", T0 + 90 * DAY, 3)
    team = _row("I support Hibs.", "team", T0, 4)
    candidates = [(s, s.text) for s in (old, hobby, team, new)]
    attended = _with_newest([s for s, _t in candidates], {id(old), id(hobby)})
    assert attended == {id(old), id(hobby), id(new)}
    ordered = [s for s, _t in _newest_first(candidates, attended)]
    assert ordered.index(new) < ordered.index(old)  # the room runs out on the older one
    # an attribute the message does not attend to brings nothing in
    assert id(team) not in attended


def test_of_two_slots_one_message_made_current_the_later_is_the_newest() -> None:
    """ "I gave up the drums; these days it's all chess": the stop replaced the drums slot
    (stored first, the lower id) and the chess slot was made after it, at the same moment."""
    stop = _row("I gave up the drums.", "hobby", T0 + 30 * DAY, 5)
    chess = _row("These days it's all chess.", "hobby", T0 + 30 * DAY, 9)
    team = _row("I support Hibs.", "team", T0, 4)
    for order in ((stop, chess, team), (chess, stop, team)):
        candidates = [(s, s.text) for s in order]
        assert _with_newest([s for s, _t in candidates], {id(stop)}) == {id(stop), id(chess)}
