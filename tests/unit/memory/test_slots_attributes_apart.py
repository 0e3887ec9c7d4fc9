"""One message, several attributes: each is a candidate of its own, a change of one never
pushes another into history, and a change that names no value is no slot (the real
all-MiniLM-L6-v2 where meaning is read).

The sentences are not templates of the knowledge-update benchmark nor examples of
chatapp.memory.attributes; the last test is README's example (scripts/memory_example.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from chatapp.memory import facts
from chatapp.memory.slots import SlotBank

DAY = 86400.0
T0 = 1_750_000_000.0


def texts(message: str) -> list[str]:
    return [c.text for c in sorted(facts.candidates(message, 1, by_meaning=True), key=_pos)]


def _pos(c: facts.Candidate) -> int:
    return c.position


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        (
            "I live in Lyon and work as a baker at the market.",
            ["I live in Lyon.", "I work as a baker at the market."],
        ),
        (
            "I'm 41, a pharmacist, and live in Aarhus.",
            ["I'm 41.", "I'm a pharmacist.", "I live in Aarhus."],
        ),
        (
            "I rent a room in Lisbon, teach surfing and play the bass.",
            ["I rent a room in Lisbon.", "I teach surfing.", "I play the bass."],
        ),
        ("I am a welder and drive a Skoda.", ["I am a welder.", "I drive a Skoda."]),
    ],
)
def test_one_subject_with_two_attributes_gives_one_candidate_each(
    message: str, parts: list[str]
) -> None:
    assert facts.sentences(message) == parts


@pytest.mark.parametrize(
    "message",
    [
        "I work and study at night.",  # a part too short to be a fact alone
        "I'm a bit tired, a long day at the office.",  # no age: no apposition
        "I'm Kofi, a lifeguard.",
        "Tomasz and I moved to Gdańsk together.",
    ],
)
def test_a_sentence_whose_parts_are_no_facts_alone_stays_whole(message: str) -> None:
    assert facts.sentences(message) == [message]


def test_the_parts_read_as_their_own_attributes(  # type: ignore[no-untyped-def]
    embedder, attributes
) -> None:
    parts = facts.sentences("I live in Lyon and work as a baker at the market.")
    readings = attributes.read(embedder.encode(parts))
    assert [r.attribute for r in readings] == ["home", "work"]
    assert all(r.kept(p) for r, p in zip(readings, parts))


@pytest.mark.parametrize(
    "change",
    [
        "We moved last week.",
        "Finally changed jobs a couple of weeks ago.",
        "Big news: I started a new job!",
        "I quit my job.",
    ],
)
def test_a_change_that_names_no_value_is_no_candidate(change: str) -> None:
    assert facts.names_no_value(change)
    assert texts(change) == []


@pytest.mark.parametrize(
    "change",
    [
        "We moved to Ghent last week.",
        "I moved in with Priya.",
        "I started a new job as a lab technician.",
        "I retired last month.",
        "I gave up the trombone.",
    ],
)
def test_a_change_that_names_its_value_stays(change: str) -> None:
    assert not facts.names_no_value(change)
    assert texts(change) != []


def test_the_value_of_a_message_stays_when_its_change_names_none() -> None:
    assert texts("Exciting times: we live in Bergen now, we moved last month.") == [
        "We live in Bergen now."
    ]


def test_a_change_of_work_leaves_the_home_as_it_is(  # type: ignore[no-untyped-def]
    embedder, attributes
) -> None:
    bank = SlotBank([], attributes=attributes)
    for n, text in enumerate(facts.sentences("I live in Lyon and work as a baker at the market.")):
        bank.write(text, "user", embedder.encode([text])[0], [1], T0 + n)
    assert sorted(s.attribute or "" for s in bank.slots) == ["home", "work"]
    news = "These days I'm a paramedic, the bakery hours were too early."
    result = bank.write(news, "user", embedder.encode([news])[0], [2], T0 + 60 * DAY)
    assert result.action == "replace" and result.slot is not None
    assert result.slot.attribute == "work" and result.slot.text == news
    assert [h.text for h in result.slot.history] == ["I work as a baker at the market."]
    (home,) = [s for s in bank.slots if s.attribute == "home"]
    assert home.text == "I live in Lyon." and home.history == []


def test_a_change_of_home_leaves_the_work_as_it_is(  # type: ignore[no-untyped-def]
    embedder, attributes
) -> None:
    bank = SlotBank([], attributes=attributes)
    for n, text in enumerate(["I live in Lyon.", "I work as a baker at the market."]):
        bank.write(text, "user", embedder.encode([text])[0], [1], T0 + n)
    news = "These days home is a flat in Grenoble."
    result = bank.write(news, "user", embedder.encode([news])[0], [2], T0 + 60 * DAY)
    assert result.action == "replace" and result.slot is not None
    assert result.slot.attribute == "home" and result.slot.text == news
    assert [h.text for h in result.slot.history] == ["I live in Lyon."]
    (work,) = [s for s in bank.slots if s.attribute == "work"]
    assert work.text == "I work as a baker at the market." and work.history == []


def test_readme_example_through_the_memory_service(  # type: ignore[no-untyped-def]
    store, embedder
) -> None:
    """scripts/memory_example.py's thread: a home slot now in Rotterdam (earlier Utrecht), a
    work slot now teaching (earlier nursing), the pet, and no slot for "we moved"."""
    from chatapp.domain import Role
    from chatapp.memory.service import MemoryService
    from chatapp.store.memory_tables import MemoryTables

    said = [
        ((2, 2), "Hi! I'm Noor. I live in Utrecht and work as a nurse on the night shift."),
        ((2, 9), "Any ideas for a quiet weekend? The weather is grey again."),
        ((2, 20), "My partner Sam and I adopted a kitten called Pip."),
        ((3, 14), "Big news: these days I'm based in Rotterdam, we moved last week."),
        ((4, 2), "I teach maths at a secondary school now, nursing was wearing me out."),
    ]
    service = MemoryService(store, embedder.encode, embedder.name)
    thread = store.create_thread("Noor")
    for (month, day), text in said:
        when = dt.datetime(2026, month, day, 20).timestamp()
        store.add_message(thread.id, Role.USER, text, created_at=when)
        service.ingest(thread.id, now=when)
    slots = {s.attribute: s for s in MemoryTables(store).slots(thread.id)}
    assert set(slots) == {"home", "work", "pet"}
    assert "Rotterdam" in slots["home"].text
    assert [h.text for h in slots["home"].history] == ["I live in Utrecht."]
    moved = dt.datetime(2026, 3, 14, 20).timestamp()
    assert slots["home"].history[0].until == moved
    assert "teach maths" in slots["work"].text
    assert [h.text for h in slots["work"].history] == ["I work as a nurse on the night shift."]
    assert "Pip" in slots["pet"].text and slots["pet"].history == []
    assert not any("moved last week" in s.text for s in slots.values())


def test_a_models_facts_are_kept_apart_the_same_way() -> None:
    from chatapp.memory.extraction import apart

    listed = ["I live in Lyon and work as a baker at the market.", "We moved last week."]
    assert apart(listed) == ["I live in Lyon.", "I work as a baker at the market."]
    assert apart(["My sister Ines lives in Porto."]) == ["My sister Ines lives in Porto."]
