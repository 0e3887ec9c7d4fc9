"""When the system message may change, for llama.cpp's KV cache: a slot change waits while its
message is in the recent window and the window's start holds (the old value never stands alone
as current: the new line goes with the new message), and a kept recall block grown into by the
window gives way at its end, not from its start. A real store, the real embedder and the real
slot path; a word-count tokenizer stands in for the model's."""

from __future__ import annotations

from chatapp.domain import Role
from chatapp.memory.builder import (
    BuilderParams,
    BuiltContext,
    ContextBuilder,
    params_for,
)
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from tests.unit.memory.thread_helpers import ask, day, words

CHANGED = "(Newer than what you know above:"
BUDGET = 1000  # the recent window's share holds more than a step of these messages


class Chat:
    """A thread talked to turn by turn as the app does: build, reply, read the exchange."""

    def __init__(self, store: Store, embedder, params: BuilderParams | None = None) -> None:  # type: ignore[no-untyped-def]
        self.store = store
        self.thread_id = store.create_thread("moving").id
        self.service = MemoryService(store, embedder.encode, embedder.name)
        self.builder = ContextBuilder(store, words, embedder.encode_one, params=params)
        self.minute = 0

    def when(self) -> float:
        self.minute += 1
        return day(0) + 60 * self.minute

    def say(self, text: str, reply: str = "Noted, thank you.") -> None:
        """An exchange that is not looked at (read with the next turn's)."""
        self.store.add_message(self.thread_id, Role.USER, text, created_at=self.when())
        self.store.add_message(self.thread_id, Role.ASSISTANT, reply, created_at=self.when())

    def turn(self, text: str, budget: int = BUDGET) -> BuiltContext:
        """The context for a new message, then its reply, then the exchange read."""
        now = self.when()
        built = self.builder.build(
            self.thread_id, "sys", ask(self.store, self.thread_id, text, now), budget, now=now
        )
        self.store.add_message(
            self.thread_id, Role.ASSISTANT, "Here is what I think.", created_at=self.when()
        )
        self.service.ingest(self.thread_id)
        return built


def a_chat(store: Store, embedder, params: BuilderParams | None = None) -> Chat:  # type: ignore[no-untyped-def]
    """Berlin said long ago (its slot is shown), then small talk about films."""
    chat = Chat(store, embedder, params)
    chat.say("I live in Berlin.")
    for k in range(40):
        chat.say(f"We watched film number {k} about ships and the sea tonight.")
    chat.service.ingest(chat.thread_id)
    return chat


def up_to_a_step(chat: Chat) -> BuiltContext:
    """Turns until the one where the recent window's start has just moved (its next turns
    keep it)."""
    before = chat.turn("Any film for tonight?")
    for _ in range(8):
        built = chat.turn("Any film for tonight?")
        if built.window_start != before.window_start:
            return built
        before = built
    raise AssertionError("the window's start never moved")


def system(built: BuiltContext) -> str:
    return built.messages[0].content


def slot_lines(built: BuiltContext) -> str:
    return system(built).split("What you know about the user")[1]


def test_a_new_value_waits_for_the_window_and_goes_with_the_new_message_meanwhile(
    store: Store, embedder
) -> None:  # type: ignore[no-untyped-def]
    chat = a_chat(store, embedder)
    stepped = up_to_a_step(chat)
    assert "Berlin" in system(stepped)  # the old value is shown as a slot
    said = chat.turn("I moved to Lisbon last month.")
    after = chat.turn("What should I cook tonight?")
    assert after.window_start == stepped.window_start == said.window_start  # the start held
    slots = MemoryTables(store).slots(chat.thread_id)
    assert any("Lisbon" in s.text and s.history for s in slots)  # the slot did change
    # the system message is the one already cached, word for word
    assert system(after) == system(said)
    # and the new value goes with the new message, as current, the old one as earlier
    last = after.messages[-1].content
    assert CHANGED in last
    note = last[last.index(CHANGED) :]
    assert (
        "I moved to Lisbon last month. (now, since" in note and "earlier: I live in Berlin" in note
    )
    assert last.endswith("What should I cook tonight?")
    shown = [i for p in after.parts if p.kind == "slots" for i in p.slot_ids]
    assert any(s.id in shown for s in slots if "Lisbon" in s.text)
    assert after.memory_tokens <= BUDGET

    # when the window's start moves, the system message shows the change and the note goes
    while True:
        moved = chat.turn("What should I cook tonight?")
        if moved.window_start != after.window_start:
            break
        assert slot_lines(moved) == slot_lines(said)  # (the block may give way at its end)
    assert "I moved to Lisbon last month. (now, since" in system(moved)
    assert CHANGED not in moved.messages[-1].content
    assert moved.memory_tokens <= BUDGET


def test_a_forgotten_fact_goes_at_once(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    chat = a_chat(store, embedder)
    stepped = up_to_a_step(chat)
    assert "Berlin" in system(stepped)
    tables = MemoryTables(store)
    (berlin,) = [s for s in tables.slots(chat.thread_id) if "Berlin" in s.text]
    tables.delete_slot(berlin.id)  # type: ignore[arg-type]
    after = chat.turn("Any film for tonight?")
    assert after.window_start == stepped.window_start
    shown = system(after).split("What you know about the user")
    assert len(shown) == 1 or "Berlin" not in shown[1]  # (its message may still be recalled)
    assert CHANGED not in after.messages[-1].content


def test_an_edited_fact_is_shown_at_once(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    chat = a_chat(store, embedder)
    stepped = up_to_a_step(chat)
    tables = MemoryTables(store)
    (berlin,) = [s for s in tables.slots(chat.thread_id) if "Berlin" in s.text]
    berlin.text = "I live in Hamburg."  # as the memory panel saves an edit: no new message
    tables.save_slot(berlin)
    after = chat.turn("Any film for tonight?")
    assert after.window_start == stepped.window_start
    assert "I live in Hamburg." in slot_lines(after) and "Berlin" not in slot_lines(after)


def test_on_a_gpu_a_change_is_shown_at_once(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    assert not params_for(on_gpu=True).hold_slots and params_for(on_gpu=False).hold_slots
    chat = a_chat(store, embedder, params_for(on_gpu=True))
    stepped = up_to_a_step(chat)
    said = chat.turn("I moved to Lisbon last month.")
    after = chat.turn("What should I cook tonight?")
    assert after.window_start == said.window_start == stepped.window_start
    assert "I moved to Lisbon last month. (now, since" in system(after)
    assert CHANGED not in after.messages[-1].content


def test_a_fresh_build_shows_slots_afresh(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    """forget() drops the held lines too: what benchmarks and a new sitting see is the
    slots as they are now."""
    chat = a_chat(store, embedder)
    up_to_a_step(chat)
    chat.turn("I moved to Lisbon last month.")
    chat.builder.forget(chat.thread_id)
    after = chat.turn("What should I cook tonight?")
    assert "I moved to Lisbon last month. (now, since" in system(after)
    assert CHANGED not in after.messages[-1].content


def block(built: BuiltContext) -> tuple[int, ...]:
    return next(p for p in built.parts if p.kind == "recall").sources


def test_a_kept_block_with_less_room_gives_way_at_its_end(store: Store, embedder) -> None:  # type: ignore[no-untyped-def]
    chat = a_chat(store, embedder, BuilderParams(keep_coverage=0.0, top_share=0.0))
    for k in range(10):
        chat.say(f"The soup on day {k} had tomato, basil and a little salt.")
    first = chat.turn("Which films about ships did we watch?")
    # the next prompt has less room (as when the recent window grew into it)
    second = chat.turn("And which films about the sea?", budget=BUDGET - 150)
    assert second.recall_kept
    before, after = block(first), block(second)
    assert 0 < len(after) < len(before)
    assert after == before[: len(after)]  # the block's start stays as cached
    upto = system(first).index(
        next(line for line in system(first).split("\n") if line.startswith("- "))
    )
    assert system(second)[:upto] == system(first)[:upto]
    assert second.memory_tokens <= BUDGET - 150
