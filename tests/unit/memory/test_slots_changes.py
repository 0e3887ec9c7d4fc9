"""Changes as people state them in chat: headline news, a change that names what it
replaced, a clause that leans on the next, and small talk that uses the words of a change
(the real all-MiniLM-L6-v2 where meaning is read).

None of these sentences is a template of the knowledge-update benchmark or an example of
chatapp.memory.attributes."""

from __future__ import annotations

import pytest

from chatapp.memory import facts
from chatapp.memory.attributes import says_change
from chatapp.memory.slots import SlotBank, ends_value, names_another, same_value

DAY = 86400.0
T0 = 1_750_000_000.0


def texts(message: str) -> list[str]:
    return sorted(c.text for c in facts.candidates(message, 1, by_meaning=True))


def test_a_semicolon_ends_a_statement_and_a_leaning_clause_stays_whole() -> None:
    assert texts("Resigned from the bank; from next week I'm a florist.") == [
        "From next week I'm a florist.",
        "Resigned from the bank.",
    ]
    assert texts("Since the twins arrived, we live with my mother-in-law.") == [
        "Since the twins arrived, we live with my mother-in-law.",
    ]
    assert texts("When the lease ran out, I moved in with my sister.") == [
        "When the lease ran out, I moved in with my sister.",
    ]


def test_headline_news_is_a_candidate_but_talk_of_right_now_is_not() -> None:
    assert texts("New flat: a loft above the old bakery on Quay Street.") != []
    assert texts("Switched to decaf after the doctor's warning.") != []
    assert texts("The housing market is crazy right now.") == []
    assert not says_change("I'm so busy at work right now.") and says_change("I'm a welder now.")


def test_the_owner_of_a_sentence_that_opens_with_a_verb_is_the_user() -> None:
    assert facts.owner_of("Picked up my new bike from the shop.") == "user"
    assert facts.owner_of("Archery has taken over my evenings.") == "user"
    assert facts.owner_of("Handed my keys back to the landlord today.") == "user"
    # a name still names someone else
    assert facts.owner_of("Marta works as a surgeon in Lille.") == "marta"
    assert facts.owner_of("My cousin moved to Perth.") == "cousin"


def test_news_without_a_pronoun_is_the_users_own_but_not_someone_elses() -> None:
    assert texts("Sundays are for sailing now.") == ["Sundays are for sailing now."]
    assert facts.owner_of("Sundays are for sailing now.") == "user"  # a plural is no one
    assert facts.owner_of("Not drinking coffee anymore.") == "user"  # "Not" is no one's name
    assert texts("She's doing pottery now.") == []
    # a pasted article says "now" too: one's own news without a pronoun is brief
    assert (
        texts(
            "The committee has now become responsible for the annual budget of the "
            "regional libraries in the north."
        )
        == []
    )


def test_a_stop_that_names_a_value_ends_it(  # type: ignore[no-untyped-def]
    store,
    embedder,
) -> None:
    """A hobby holds several values, so only a stated change replaces one, and a short stop
    is far from the statement it ends ("Not doing judo anymore" / "I've been doing judo for
    years"); naming the value it ends is enough. The new hobby of the same message stays."""
    from chatapp.domain import Role
    from chatapp.memory.service import MemoryService
    from chatapp.store.memory_tables import MemoryTables

    thread = store.create_thread("hobbies")
    first = "I've been doing judo for years."
    store.add_message(thread.id, Role.USER, first, created_at=T0)
    news = "Not doing judo anymore, I go bouldering at the wall in town now."
    store.add_message(thread.id, Role.USER, news, created_at=T0 + 40 * DAY)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread.id)
    slots = MemoryTables(store).slots(thread.id)
    assert {s.owner for s in slots} == {"user"}
    ended = [s for s in slots if first in [h.text for h in s.history]]
    assert len(ended) == 1 and ended[0].text == "Not doing judo anymore."
    assert any("bouldering" in s.text and not s.history for s in slots)
    assert not any(s.text == first for s in slots)
    # a stop that says more than the value is about more
    assert not ends_value("I work as a nurse.", "I stopped going to the gym after work.")


@pytest.mark.parametrize(
    ("sentence", "attribute"),
    [
        ("These days my phone is a little Xiaomi.", "phone"),
        ("I've supported Everton all my life.", "team"),
        ("Gareth and I have been seeing each other since June.", "partner"),
    ],
)
def test_the_new_attributes_read_statements_in_other_words(  # type: ignore[no-untyped-def]
    embedder,
    attributes,
    sentence,
    attribute,
) -> None:
    (reading,) = attributes.read(embedder.encode([sentence]))
    assert reading.attribute == attribute and reading.kept(sentence)


@pytest.mark.parametrize(
    "chatter",
    [
        "I lost my umbrella on the tram again.",
        "My new socks are so comfy.",
        "I'm so busy at work right now.",
    ],
)
def test_small_talk_with_the_words_of_a_change_is_not_kept(  # type: ignore[no-untyped-def]
    embedder,
    attributes,
    chatter,
) -> None:
    (reading,) = attributes.read(embedder.encode([chatter]))
    assert not reading.kept(chatter)


def test_a_change_that_names_the_old_value_replaces_it_with_history(  # type: ignore[no-untyped-def]
    embedder,
    attributes,
) -> None:
    first = "My car is an Opel Astra."
    news = "Got myself a Mini Cooper, the Opel Astra went to my nephew."
    assert names_another(first, news) and not same_value(first, news)
    # the same value in passing
    assert same_value("I live in Graz.", "Parking in Graz is a nightmare.")
    bank = SlotBank([], attributes=attributes)
    bank.write(first, "user", embedder.encode([first])[0], [1], T0)
    result = bank.write(news, "user", embedder.encode([news])[0], [2], T0 + 30 * DAY)
    assert result.action == "replace" and result.slot is not None
    assert result.slot.text == news and [h.text for h in result.slot.history] == [first]
    assert len(bank.slots) == 1


def test_the_later_clause_of_one_message_is_the_current_value(  # type: ignore[no-untyped-def]
    store,
    embedder,
) -> None:
    """Both clauses are about work; the first ("handed in my notice as a baker") is the
    surer fact, but what holds after the message is the second."""
    from chatapp.domain import Role
    from chatapp.memory.service import MemoryService
    from chatapp.store.memory_tables import MemoryTables

    thread = store.create_thread("work")
    store.add_message(thread.id, Role.USER, "I work as a baker at the corner shop.", created_at=T0)
    news = "Handed in my notice as a baker; these days I work as a postman."
    store.add_message(thread.id, Role.USER, news, created_at=T0 + 40 * DAY)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread.id)
    work = [s for s in MemoryTables(store).slots(thread.id) if s.attribute == "work"]
    assert len(work) == 1 and "postman" in work[0].text
    assert "I work as a baker at the corner shop." in [h.text for h in work[0].history]


def test_two_clauses_of_one_message_make_one_value(  # type: ignore[no-untyped-def]
    store,
    embedder,
) -> None:
    """The clause after the city says nothing new: it must not push the city into history."""
    from chatapp.domain import Role
    from chatapp.memory.service import MemoryService
    from chatapp.store.memory_tables import MemoryTables

    thread = store.create_thread("home")
    store.add_message(thread.id, Role.USER, "I live in Pärnu, by the beach.", created_at=T0)
    news = "We moved into a flat in Tartu, I'm a local now."
    store.add_message(thread.id, Role.USER, news, created_at=T0 + 40 * DAY)
    MemoryService(store, embedder.encode, embedder.name).ingest(thread.id)
    home = [s for s in MemoryTables(store).slots(thread.id) if "Tartu" in s.text or s.history]
    assert len(home) == 1 and "Tartu" in home[0].text
    assert [h.text for h in home[0].history] == ["I live in Pärnu, by the beach."]


def test_a_slot_read_as_no_attribute_is_not_replaced_by_another_kind_of_fact(  # type: ignore[no-untyped-def]
    embedder,
    attributes,
) -> None:
    """A hobby the examples do not know may be read as no attribute, but it still leans to a
    hobby; a team said in the same frame and with a like word ("these days", falconry and
    the Falcons) is a new fact, not the hobby's next value."""
    hobby = "Falconry is my big passion these days."
    team = "I support the Falcons these days."
    bank = SlotBank([], attributes=attributes)
    bank.write(hobby, "user", embedder.encode([hobby])[0], [1], T0)
    bank.slots[0].attribute = None  # as read when the likeness falls short of MIN_SIMILARITY
    result = bank.write(team, "user", embedder.encode([team])[0], [2], T0 + 30 * DAY)
    assert result.action == "new"
    assert sorted(s.text for s in bank.slots) == sorted([hobby, team])
    assert all(not s.history for s in bank.slots)


def test_news_said_as_an_exclamation_and_a_fragment_is_read_as_one(  # type: ignore[no-untyped-def]
    store,
    embedder,
) -> None:
    """ "New pet! A little tortoise." says the news in two pieces: the fragment alone names a
    thing, not whose it is or what kind of fact (read alone, it is kept as nothing). Read as
    one, it is a slot beside the pet the thread knew; a greeting before a whole sentence
    stays apart."""
    from chatapp.domain import Role
    from chatapp.memory.service import MemoryService
    from chatapp.store.memory_tables import MemoryTables

    assert facts.sentences("New pet! A little tortoise. It eats dandelions.") == [
        "New pet! A little tortoise.",
        "It eats dandelions.",
    ]
    assert facts.sentences("Marta! Hope your week went well.") == [
        "Marta!",
        "Hope your week went well.",
    ]
    thread = store.create_thread("pets")
    store.add_message(thread.id, Role.USER, "I have a hamster called Biscuit.", created_at=T0)
    store.add_message(
        thread.id,
        Role.USER,
        "New pet! A little tortoise. It eats dandelions.",
        created_at=T0 + 30 * DAY,
    )
    MemoryService(store, embedder.encode, embedder.name).ingest(thread.id)
    texts_now = sorted(s.text for s in MemoryTables(store).slots(thread.id))
    assert texts_now == ["I have a hamster called Biscuit.", "New pet! A little tortoise."]
