"""Facts by prompt: what a model lists is kept only where the message backs it, each
message is read once, and the facts land in the slots through the gates."""

from __future__ import annotations

import threading

from chatapp.domain import Role
from chatapp.memory import extraction
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables

MESSAGE = (
    "Hi! My name is Ada and I moved to Lisbon last month. I work as a nurse at the city "
    "hospital, and my sister Mia visits in June. Can you suggest a good book?"
)


def test_parse_keeps_the_facts_a_bigger_model_lists() -> None:
    reply = (
        "Here are the facts:\n"
        "1. My name is Ada.\n"
        "2. I moved to Lisbon last month\n"
        "- I work as a nurse at the city hospital.\n"
        "* My sister Mia visits in June.\n"
        "- My name is Ada.\n"
    )
    assert extraction.parse(reply, MESSAGE) == [
        "My name is Ada.",
        "I moved to Lisbon last month.",
        "I work as a nurse at the city hospital.",
        "My sister Mia visits in June.",
    ]


def test_parse_drops_what_the_message_does_not_say() -> None:
    reply = (
        "I'm a 25-year-old pilot with three children.\n"  # invented (what SmolLM2-135M writes)
        "My favourite hobby is playing guitar.\n"  # invented
        "Can you suggest a good book?\n"  # a question
        "Ada lives in Lisbon.\n"  # not in the asked form
        "Message from the user:\n"  # the prompt said back
        "I " + "moved to Lisbon and " * 10 + "stayed.\n"  # far too long
        "NONE"
    )
    assert extraction.parse(reply, MESSAGE) == []
    assert extraction.parse("NONE", "Can you explain photosynthesis?") == []
    assert extraction.parse("No facts.", "Thanks!") == []


def test_parse_stops_at_the_limit() -> None:
    reply = "\n".join(f"I moved to Lisbon in month {i}." for i in range(9))
    assert (
        len(extraction.parse(reply, MESSAGE + " month 0 1 2 3 4 5 6 7 8")) == extraction.MAX_FACTS
    )


def test_who_is_asked() -> None:
    assert not extraction.worth_asking(134_515_008)  # SmolLM2-135M: the rules alone
    assert extraction.worth_asking(1_235_814_400)  # Llama-3.2-1B
    assert not extraction.worth_asking(0)  # a server: size not known
    assert extraction.worth_asking(134_515_008, min_params=100_000_000)


class Scripted:
    """What a model that follows the prompt answers (none is small enough to run in tests):
    `for_message` when asked about MESSAGE (raised if it is an exception), else `otherwise`."""

    def __init__(self, for_message: str | Exception, otherwise: str) -> None:
        self.for_message, self.otherwise = for_message, otherwise
        self.asked: list[str] = []

    def __call__(self, messages, settings, cancel) -> str:  # type: ignore[no-untyped-def]
        self.asked.append(messages[-1].content)
        reply = self.for_message if "Lisbon" in messages[-1].content else self.otherwise
        if isinstance(reply, Exception):
            raise reply
        return reply


def _thread(store: Store, texts: list[str]) -> tuple[int, list[int]]:
    t = store.create_thread("facts")
    ids = []
    for text in texts:
        ids.append(store.add_message(t.id, Role.USER, text).id)
        store.add_message(t.id, Role.ASSISTANT, "Noted.")
    return t.id, ids


def test_facts_go_into_the_slots_and_each_message_is_read_once(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id, ids = _thread(store, ["I like tea.", MESSAGE])
    generate = Scripted(
        "- I moved to Lisbon last month.\n- I am a pilot.\n- My sister Mia visits in June.", "NONE"
    )
    asked = generate.asked

    service = MemoryService(store, embedder.encode, embedder.name)
    made = extraction.read_new_messages(
        store, thread_id, generate, service.write_facts, threading.Event(), "big"
    )
    assert made == 2
    assert len(asked) == 2 and "Lisbon" in asked[0]  # newest first
    slots = MemoryTables(store).slots(thread_id)
    assert sorted(s.text for s in slots) == [
        "I moved to Lisbon last month.",
        "My sister Mia visits in June.",
    ]
    assert all(s.sources == [ids[1]] for s in slots)
    assert {s.owner for s in slots} == {"user", "sister"}
    reads = dict(store._query("SELECT message_id, facts FROM fact_reads"))
    assert reads == {ids[1]: 2, ids[0]: 0}

    assert (
        extraction.read_new_messages(
            store, thread_id, generate, service.write_facts, threading.Event(), "big"
        )
        == 0
    )
    assert len(asked) == 2  # nothing read twice

    # a later message that contradicts: the gates replace the old fact
    later = store.add_message(thread_id, Role.USER, "Big news: I moved to Porto last week.")
    extraction.read_new_messages(
        store,
        thread_id,
        lambda *_a: "I moved to Porto last week.",
        service.write_facts,
        threading.Event(),
        "big",
    )
    texts = [s.text for s in MemoryTables(store).slots(thread_id)]
    assert "I moved to Porto last week." in texts and "I moved to Lisbon last month." not in texts
    assert later.id in dict(store._query("SELECT message_id, facts FROM fact_reads"))


def test_a_cancelled_read_leaves_the_message_for_next_time(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id, ids = _thread(store, [MESSAGE])
    cancel = threading.Event()

    def generate(messages, settings, cancel_event):  # type: ignore[no-untyped-def]
        cancel.set()  # the user sent a message while the model was reading
        return "I moved to Lisbon last month."

    service = MemoryService(store, embedder.encode, embedder.name)
    assert (
        extraction.read_new_messages(store, thread_id, generate, service.write_facts, cancel, "big")
        == 0
    )
    assert MemoryTables(store).slots(thread_id) == []
    assert MemoryTables(store).unread_user_messages(thread_id, 4) == [(ids[0], MESSAGE)]


def test_only_the_newest_messages_are_read(store: Store) -> None:
    thread_id, ids = _thread(store, [f"I have {n} plants." for n in range(10)])
    unread = MemoryTables(store).unread_user_messages(thread_id, extraction.RECENT_MESSAGES)
    assert [i for i, _t in unread] == ids[::-1][: extraction.RECENT_MESSAGES]


def test_a_message_the_model_cannot_read_is_not_tried_again(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    thread_id, ids = _thread(store, ["I have two cats.", MESSAGE])
    generate = Scripted(ValueError("Requested tokens exceed context window"), "I have two cats.")
    calls = generate.asked

    service = MemoryService(store, embedder.encode, embedder.name)
    assert (
        extraction.read_new_messages(
            store, thread_id, generate, service.write_facts, threading.Event(), "big"
        )
        == 1
    )
    assert len(calls) == 2  # the failure did not stop the next message
    assert dict(store._query("SELECT message_id, facts FROM fact_reads")) == {ids[1]: 0, ids[0]: 1}
    assert (
        extraction.read_new_messages(
            store, thread_id, generate, service.write_facts, threading.Event(), "big"
        )
        == 0
    )
    assert len(calls) == 2
