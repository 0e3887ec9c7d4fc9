"""The context builder: what the model sees for a reply, assembled under a token budget.

    system message:  system prompt · today's date · recalled excerpts kept while the
                     topic holds · rolling summary · memory slots
    recent messages: verbatim, the newest kept (their start moves in steps, so the
                     prompt's prefix stays the same for several turns and llama.cpp
                     reuses its KV cache)
    last message:    a slot's new value while it waits for the window to move (see
                     ContextBuilder._held_slots), the best recalled excerpts for this
                     message (small models read the last message most closely) and
                     those the kept block lacks, then the new message

A recalled message longer than `excerpt_tokens` is cut to `cut_tokens`: its first sentence
(unless it would leave no room for the best matching one) and the sentences that share
words with the new message (and those around them): one
chatty reply no longer fills the recall room alone. The fill takes such an excerpt by the
share of the message's matching sentences it shows (_by_worth), not by the whole message's
score.

Each part has a share of the memory budget; what a part leaves unused goes to the
next (slots → recent → recall → summary → recent again). Every part records the
messages it came from, and what was left out is counted. Parts are ordered by how
rarely they change, since a change makes llama.cpp read everything after it again;
the recall split is explained in ContextBuilder._recall.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from chatapp.domain import ChatMessage, Message, Role
from chatapp.memory.recall import (
    STOP_WORDS,
    EmbeddingCache,
    Hit,
    focused_text,
    query_vector,
    recall,
)
from chatapp.memory.slots import GateParams, SlotBank
from chatapp.memory.timefmt import day_phrase, today_phrase
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SlotRow
from chatapp.words import CLAUSE, WORD, stems

K = TypeVar("K")
V = TypeVar("V")

# tokens a chat template adds around one message (ChatML: 5): a typical figure for the fill's
# estimate, which the exact count of the whole prompt then checks; engine.remote's
# TEMPLATE_OVERHEAD (8) is the most common templates add, for a server whose tokenizer is unseen
MESSAGE_OVERHEAD = 6
# while messages keep the recalled lines they were sent with, a turn's next best hits take one
# part in this many of the room left to them (see ContextBuilder._per_turn_room)
HOLD_SPLIT = 2


@dataclass(frozen=True)
class BuilderParams:
    slots_share: float = 0.12
    summary_share: float = 0.12
    recent_share: float = 0.20
    min_recent_messages: int = 2
    window_step: int = 8  # the recent window's start moves in steps of this many messages
    recent_lookback: int = 400  # messages read for the recent window
    top_share: float = (
        0.05  # of the recall room (at least the best hit): always with the new message
    )
    # of the rest: the block kept across turns (the rest is per turn). All of it: SmolLM2 answers
    # best from a short last message (bench answers: 9/16 at 1.0, 3/16 at 0.7, 4/16 all in the last)
    kept_share: float = 1.0
    keep_coverage: float = 0.35  # keep the block while it and the per-turn part hold this much of
    # what a fresh recall would show beyond the best hits (ranking-weighted); below, it is chosen
    # again
    excerpt_tokens: int = 160  # a longer recalled message is cut to its sentences that match best
    # the size of that cut (None: excerpt_tokens): the matching sentence and a neighbour. A
    # long reply is recalled for a sentence or two, and the room a bigger cut takes is
    # other messages' (LongMemEval dev @2048, 18 questions, 1x / 10x: 160 → 76.7 / 69.4%,
    # 64 → 79.7 / 72.2%, 48 and 32 → 84.4 / 72.2%: flat below 64, so not a tuned optimum;
    # LoCoMo has no message this long). The principle: an excerpt takes the room of about one
    # recalled message shown whole (their median: 51-54 tokens on LongMemEval, 37 on LoCoMo)
    cut_tokens: int | None = 48
    # a slot change waits while the window's start holds and its message is in the window
    # (see ContextBuilder._held_slots); off on a GPU, where reading a prompt is cheap
    hold_slots: bool = True
    # a message in the recent window keeps the recalled lines it was sent with while the system
    # message and the window's start hold (see ContextBuilder._held_sent); off on a GPU
    hold_sent: bool = True


def params_for(on_gpu: bool) -> BuilderParams:
    """On a GPU reading a prompt is cheap, so recall is chosen afresh for every message
    (beyond the best hits, all of it in the system message); on a CPU its block is kept
    while the topic holds, so llama.cpp reuses its KV cache instead of reading ~1,700
    tokens again each turn."""
    return (
        BuilderParams(keep_coverage=1.0, hold_slots=False, hold_sent=False)
        if on_gpu
        else BuilderParams()
    )


@dataclass(frozen=True)
class ContextPart:
    kind: str  # system | slots | summary | recall | recent | message
    text: str
    tokens: int
    sources: tuple[int, ...] = ()
    slot_ids: tuple[int, ...] = ()


@dataclass
class BuiltContext:
    messages: list[ChatMessage]
    parts: list[ContextPart]
    memory_budget: int
    memory_tokens: int
    left_out: dict[str, int] = field(default_factory=dict)
    window_start: int = 0
    # share of what a fresh recall would show that this prompt carries (ranking-weighted), and
    # whether the recall block was kept from an earlier turn; None when nothing was recalled
    recall_coverage: float | None = None
    recall_kept: bool = False
    # the messages recall ranked for this build, best first (what a fill chose from)
    recall_ranking: tuple[int, ...] = ()


@dataclass(frozen=True)
class _ShownSlots:
    """The slot lines a thread's last prompt showed, and where its recent window began."""

    start: int  # depth of the window's start, before recall's leftover extended it
    lines: dict[int, tuple[str, frozenset[int]]]  # slot id → its line as shown, its sources then


@dataclass(frozen=True)
class _SentText:
    """What a user message was sent with beyond its words: its recalled lines (and a slot
    change), as the prompt carried them."""

    content: str  # the message's text then (an edit drops what it was sent with)
    text: str  # the message as sent
    extra: int  # tokens beyond the message's own
    excerpts: str  # the recalled lines alone, for the memory panel
    sources: tuple[int, ...]  # the recalled messages


@dataclass(frozen=True)
class _Sent:
    """A thread's last prompt: its system message and window start, and what its messages
    still in the window were sent with."""

    start: int  # depth of the window's start, before recall's leftover extended it
    shown_start: int  # and after
    system: str
    texts: dict[int, _SentText]


@dataclass(frozen=True)
class _Excerpt:
    message: Message
    line: str
    day: str  # its "On …:" heading
    cost: int  # tokens of the line


@dataclass(frozen=True)
class _Recalled:
    kept: list[tuple[Message, str]]
    per_turn: list[tuple[Message, str]]
    kept_tokens: int
    per_turn_tokens: int
    coverage: float
    was_kept: bool
    # the window's messages whose lines as sent (see ContextBuilder._held_sent) have their room
    holding: frozenset[int] = frozenset()
    # when the message will keep its lines: the room left to the turn (its lines and those the
    # window's messages keep), which the next turns will use: not free for a summary or the
    # window meanwhile (either would change the prompt twice)
    turn_room: int = 0


class _Excerpts:
    """The recalled messages' lines for one build, each made when a fill first needs it
    (a build ranks up to 300 messages and shows a few dozen)."""

    def __init__(
        self, builder: ContextBuilder, messages: dict[int, Message], now: float, query: str
    ) -> None:
        self.builder = builder
        self.messages = messages
        self.now = now
        self.query = query
        self._made: dict[int, _Excerpt] = {}
        self._lower: dict[int, int] = {}
        self._days: dict[int, str] = {}
        self._wanted: set[str] | None = None

    def __contains__(self, message_id: int) -> bool:
        return message_id in self.messages

    def lower(self, message_id: int) -> int:
        """Under the line's cost as far as a guess can tell: a message cut to an excerpt costs
        about the excerpt's size, and at least half of it in all but odd cases."""
        made = self._made.get(message_id)
        if made is not None:
            return made.cost
        found = self._lower.get(message_id)
        if found is None:
            guess = self.builder.lower_bound(_recall_line(self.messages[message_id])) + 1
            params = self.builder.params
            cut = min(params.excerpt_tokens, params.cut_tokens or params.excerpt_tokens)
            found = self._lower[message_id] = min(guess, cut // 2)
        return found

    def guessed_cost(self, message_id: int) -> int:
        """About what the message's line costs (a guess, not a bound): its tokens, or the
        cut's size when it is cut."""
        made = self._made.get(message_id)
        if made is not None:
            return made.cost
        params = self.builder.params
        tokens = self.builder.estimate(_recall_line(self.messages[message_id])) + 1
        cut = min(params.excerpt_tokens, params.cut_tokens or params.excerpt_tokens)
        return tokens if tokens <= params.excerpt_tokens else cut

    def shown_share(self, message_id: int, guess: bool = False) -> float:
        """The share of what made a message a hit that its line shows: 1 for a message shown
        whole; for one cut to an excerpt, the share of its sentences with the new message's
        words that the cut has room for (of all its sentences when none has them). Worked
        out from the sentences' guessed sizes, without counting them; with `guess`, without
        splitting the message either (the cut's size over the message's)."""
        msg = self.messages[message_id]
        params = self.builder.params
        tokens = self.builder.estimate(_recall_line(msg)) + 1
        if tokens <= params.excerpt_tokens:
            return 1.0
        if guess:
            return min(params.excerpt_tokens, params.cut_tokens or tokens) / tokens
        pieces = self.builder._pieces(msg)
        wanted = self._wanted_for(msg)
        overlap = [len(piece.stems & wanted) for piece in pieces]
        matching = [i for i, n in enumerate(overlap) if n] or list(range(len(pieces)))
        room = min(params.excerpt_tokens, params.cut_tokens or params.excerpt_tokens)
        start = _cut_start(pieces, overlap, room)  # as _cut starts
        spent = pieces[start].lower
        shown = 1 if overlap[start] or len(matching) == len(pieces) else 0
        for i in sorted((i for i in matching if i != start), key=lambda i: -overlap[i]):
            if spent + pieces[i].lower <= room:
                spent += pieces[i].lower
                shown += 1
        return shown / len(matching)

    def day(self, message_id: int) -> str:
        """The day heading a recalled message goes under, without counting the message."""
        made = self._made.get(message_id)
        if made is not None:
            return made.day
        when = self.messages[message_id].created_at
        key = int(when // 900)  # time zones are whole quarter hours from UTC
        day = self._days.get(key)
        if day is None:
            day = self._days[key] = day_phrase(when, self.now)
        return day

    def get(self, message_id: int) -> _Excerpt:
        made = self._made.get(message_id)
        if made is None:
            msg = self.messages[message_id]
            line, cost = self.builder._excerpt(msg, self.now, lambda: self._wanted_for(msg))
            later = self.builder._superseded.get(message_id)
            if (
                later is not None
            ):  # an older statement of a fact that changed: say so, with the newer one
                note = _earlier_note(*later)
                line += note
                cost += self.builder._count_cached((message_id, hash(note), "earlier"), note)
            made = self._made[message_id] = _Excerpt(msg, line, self.day(message_id), cost)
        return made

    def _stems(self) -> set[str]:
        if self._wanted is None:
            self._wanted = _stems(self.query)
        return self._wanted

    def _wanted_for(self, msg: Message) -> set[str]:
        """The stems a cut of `msg` looks for: the new message's, and those of the sentence
        of `msg` that its own vector found closer to the new message than the whole message
        (a passing remark shares no word with the question that found it: a cut by words
        alone would leave out what made the message a hit)."""
        remark = self.builder._remark(msg)
        return self._stems() | _stems(remark) if remark else self._stems()


class ContextBuilder:
    def __init__(
        self,
        store: Store,
        count_text: Callable[[str], int],
        embed: Callable[[str], np.ndarray | None] | None = None,
        params: BuilderParams | None = None,
        gates: GateParams | None = None,
    ) -> None:
        self.store = store
        self.tables = MemoryTables(store)
        self._count_text = count_text
        self._counted_bytes = 0
        self._counted_tokens = 0
        self.embed = embed
        self.params = params or BuilderParams()
        self.gates = gates or GateParams()
        self.embeddings = EmbeddingCache(self.tables)
        self._recall_query: np.ndarray | None = None  # this build's search vector
        self._counts: dict[tuple[int, int, str], int] = {}
        self._split: dict[tuple[int, int], list[_Piece]] = {}
        self._word_sets: dict[tuple[int, int], _Words] = {}
        self._query: tuple[tuple[int, str], np.ndarray] | None = None
        # thread → the recalled messages kept in its prompt, with their lines as shown
        self._kept: dict[int, dict[int, str]] = {}
        # thread → the slot lines its last prompt showed (a change waits for the window to move)
        self._shown_slots: dict[int, _ShownSlots] = {}
        # thread → what its last prompt sent its recent messages with (see _held_sent)
        self._sent: dict[int, _Sent] = {}
        # message id → what a newer statement of the same fact said, and when (slot history)
        self._superseded: dict[int, tuple[str, float]] = {}

    def forget(self, thread_id: int) -> None:
        """Drop what the thread's next build would keep from its last (the recall block, the
        slot lines as shown): it is built afresh."""
        self._kept.pop(thread_id, None)
        self._shown_slots.pop(thread_id, None)
        self._sent.pop(thread_id, None)

    def count_text(self, text: str) -> int:
        """The model's count (each call may be a tokenizer run or a server request), noting
        bytes per token so that lower_bound can tell, without counting, that a text is too long."""
        tokens = self._count_text(text)
        self._counted_bytes += len(text.encode("utf-8"))
        self._counted_tokens += tokens
        return tokens

    def lower_bound(self, text: str) -> int:
        """A cheap guess that stays under the text's token count: its words (a tokenizer that
        splits at spaces gives each word a token or more) or its bytes over twice the bytes per
        token seen so far (from 500 tokens counted), whichever is more. Only used to pass over
        a recalled message that cannot fit the room left; a guess too high passes over one
        that would have fit, never one that breaks the budget. The words keep a short line's
        guess close: at a room smaller than a short line, the byte guess alone had every short
        hit counted and passed over."""
        spaced = len(text.split())
        if self._counted_tokens < 500:
            return spaced
        guess = int(len(text.encode("utf-8")) * self._counted_tokens / (2 * self._counted_bytes))
        return max(spaced, guess)

    def estimate(self, text: str) -> int:
        """A guess at the text's token count (not a bound): its bytes over the bytes per token
        seen so far, or its words before 500 tokens have been counted."""
        if self._counted_tokens < 500:
            return len(text.split())
        return int(len(text.encode("utf-8")) * self._counted_tokens / self._counted_bytes)

    def _count_cached(self, key: tuple[int, int, str], text: str) -> int:
        """Message texts are counted once; a thread's recent window is re-read every turn."""
        return _memo(self._counts, key, 50_000, lambda: self.count_text(text))

    def build(
        self,
        thread_id: int,
        system_prompt: str,
        new_message: Message,
        memory_budget: int,
        *,
        now: float | None = None,
        memory: bool = True,
        include_global: bool | None = None,
    ) -> BuiltContext:
        """`new_message` is the stored user message being answered (the end of the shown path).
        `include_global`: also the slots about the user shared by all threads (None: as the
        user set it, off unless turned on)."""
        now = time.time() if now is None else now
        p = self.params
        depth = new_message.depth
        history = self.store.path(thread_id, max(0, depth - p.recent_lookback), depth)
        budget = max(0, memory_budget)
        parts: list[ContextPart] = []
        left_out: dict[str, int] = {}
        query_vec = self._query_vector(new_message, history) if memory else None
        self._recall_query = query_vec  # a cut looks for the sentence it found (_remark)

        # recent window: newest first, within its share, start rounded to a step
        carry = budget - int(budget * p.slots_share) if memory else budget
        summary_cap = int(budget * p.summary_share) if memory else 0
        recent_cap = int(budget * p.recent_share) if memory else carry
        costs = _LazyCosts(
            lambda i: (
                self._count_cached(
                    (history[i].id, len(history[i].content), "recent"),
                    _recent_text(history[i], history, i),
                )
                + MESSAGE_OVERHEAD
            )
        )
        start = len(history)
        spent_recent = 0
        everything = sum(costs[i] for i in range(len(history))) if len(history) <= 64 else None
        if everything is not None and everything <= carry:
            start, spent_recent = 0, everything  # a short thread goes in whole, verbatim
        while start > 0 and (
            spent_recent + costs[start - 1] <= recent_cap
            or len(history) - start < p.min_recent_messages
            and spent_recent + costs[start - 1] <= carry
        ):
            start -= 1
            spent_recent += costs[start]
        if memory:
            start, spent_recent = self._step(history, start, spent_recent, costs)
        window_start = history[start].depth if start < len(history) else depth
        # the recalled lines the window's messages were sent with, room permitting (see
        # _held_sent; whether the prompt before them held is known once it is assembled)
        first_start = window_start
        # a message not in the thread (asked of the memory alone) has no later turn to keep
        # its lines for
        holds = memory and p.hold_sent and new_message.id > 0
        sent_held = self._held_sent(thread_id, history[start:], window_start) if holds else {}

        # slots: facts whose every source is still in the recent window are left out (the
        # window shows them verbatim), so a new fact changes the prompt's prefix only once
        # its message has left the window
        in_window = {m.id for m in history[start:]}
        slot_lines: list[str] = []
        slot_ids: list[int] = []
        slot_sources: list[int] = []
        changed_slots: list[tuple[SlotRow, str]] = []
        spent_slots = 0
        if not memory:
            self._shown_slots.pop(thread_id, None)
        else:
            if include_global is None:
                include_global = self.tables.global_memory()
            slots = _without_repeats(
                self.tables.slots(thread_id, include_global=include_global), self.gates
            )
            self._superseded = _superseded(slots)
            cap = int(budget * p.slots_share)
            bank = SlotBank(slots, self.gates)
            candidates = [
                (slot, _slot_line(slot))
                for slot, _score in bank.read(query_vec, now)
                # a changed fact stays: its line says what no longer holds, and leaving it out
                # while the change is recent would change the prompt's prefix twice, not once
                if not (
                    slot.sources
                    and set(slot.sources) <= in_window
                    and not slot.pinned
                    and not slot.history
                )
            ]
            costs_of = {id(slot): self.count_text(line) + 1 for slot, line in candidates}
            if sum(costs_of.values()) > cap:
                # they compete for room: the attended first, the others in reading order in
                # what room is left, so that a question the keys read poorly ("What does Bruno
                # do in their free time these days?" attends to "These days I'm based in
                # Bologna") still finds its fact, and one slot too many drops one, not all
                attended = _with_newest(
                    [slot for slot, _line in candidates],
                    {id(slot) for slot, _score in bank.read(query_vec, now, attended_only=True)},
                )
                candidates = sorted(
                    _newest_first(candidates, attended), key=lambda c: id(c[0]) not in attended
                )
            chosen_slots = []
            for slot, line in candidates:
                cost = costs_of[id(slot)]
                if spent_slots + cost > cap:
                    left_out["slots"] = left_out.get("slots", 0) + 1
                    continue
                chosen_slots.append((slot, line))
                spent_slots += cost
            # shown in a fixed order (oldest first), so the prompt's prefix stays cacheable
            shown = sorted(chosen_slots, key=lambda item: item[0].id or 0)
            held = (
                self._held_slots(thread_id, slots, shown, in_window, window_start, cap)
                if p.hold_slots
                else None
            )
            if held is None:
                self._shown_slots[thread_id] = _ShownSlots(
                    window_start,
                    {slot.id: (line, frozenset(slot.sources)) for slot, line in shown},  # type: ignore[misc]
                )
            else:
                shown, changed_slots, spent_slots = held
            for slot, line in shown:
                slot_lines.append(line)
                slot_ids.append(slot.id)  # type: ignore[arg-type]
                slot_sources.extend(slot.sources)

        # recall fills what is left: a block kept across turns (in the system message, so
        # the prompt's prefix holds while the topic does) and the rest in the new message
        kept: list[tuple[Message, str]] = []
        per_turn: list[tuple[Message, str]] = []
        spent_kept = spent_per_turn = spent_summary = reserved = 0
        summary_text = ""
        summary_sources: list[int] = []
        recall_coverage: float | None = None
        recall_kept = False
        holding: frozenset[int] = frozenset()
        ranking: tuple[int, ...] = ()
        if memory and window_start > 0:
            room = budget - spent_slots - spent_recent
            hits = recall(
                self.store, thread_id, new_message.content, query_vec, window_start, self.embeddings
            )[:300]
            # the window grows between its steps up to its share: a block or a summary sized
            # for the room it leaves now would not fit a few turns on, and the system message
            # would change again (see _recall). A thread's first block takes the whole room:
            # the best recall for one message, as a fresh build is judged
            growth = max(0, recent_cap - spent_recent) if p.keep_coverage < 1.0 else 0
            recalled_parts = self._recall(
                thread_id,
                hits,
                room,
                window_start,
                now,
                new_message.content,
                growth if thread_id in self._kept else 0,
                sent_held,
                holds,
            )
            kept, per_turn = recalled_parts.kept, recalled_parts.per_turn
            spent_kept, spent_per_turn = recalled_parts.kept_tokens, recalled_parts.per_turn_tokens
            recall_coverage, recall_kept = recalled_parts.coverage, recalled_parts.was_kept
            holding = recalled_parts.holding
            # the room of the lines the window's messages keep, and of those the next turns
            # will keep, is not free meanwhile
            reserved = max(0, recalled_parts.turn_room - spent_per_turn)
            recalled = {m.id for m, _t in kept + per_turn}
            left_out["recall"] = sum(1 for h in hits if h.message_id not in recalled)
            ranking = tuple(h.message_id for h in hits)
            # summaries get what recall leaves (see _summaries), the recent window the rest
            # (less the window's growth: a summary the window pushes out a turn later would
            # change the system message twice)
            summary_room = min(
                budget
                - spent_slots
                - spent_recent
                - spent_kept
                - spent_per_turn
                - reserved
                - growth,
                summary_cap + int(budget * p.slots_share) - spent_slots,
            )
            summary_text, summary_sources, spent_summary, dropped = self._summaries(
                thread_id, window_start, summary_room
            )
            if dropped:
                left_out["summary"] = dropped
            # what recall left goes back to the recent window (contiguous, no duplicates)
            room_back = (
                budget
                - spent_slots
                - spent_summary
                - spent_kept
                - spent_per_turn
                - reserved
                - spent_recent
            )
            while (
                start > 0
                and costs[start - 1] <= room_back
                and history[start - 1].id not in recalled
            ):
                start -= 1
                spent_recent += costs[start]
                room_back -= costs[start]
            start, spent_recent = self._step(history, start, spent_recent, costs)
            window_start = history[start].depth if start < len(history) else depth
        else:
            self._kept.pop(thread_id, None)
        spent_recall = spent_kept + spent_per_turn
        left_out["recent"] = start

        # assemble, the parts that change least first: a change re-reads all that follows
        # (the kept excerpts hold while the topic does; slots change when a fact's message
        # leaves the recent window, which re-reads the window anyway)
        kept_text = _group_by_day(kept, now) if kept else ""
        sections = [
            ("system", system_prompt.strip(), "", self.count_text(system_prompt.strip()), (), ()),
            (
                "recall",
                kept_text,
                "Excerpts from earlier in this conversation:\n",
                spent_kept,
                tuple(m.id for m, _t in kept),
                (),
            ),
            (
                "summary",
                summary_text,
                "Summary of the earlier conversation:\n",
                spent_summary,
                tuple(summary_sources),
                (),
            ),
            (
                "slots",
                "\n".join(slot_lines),
                "What you know about the user and this conversation:\n",
                spent_slots,
                tuple(slot_sources),
                tuple(slot_ids),
            ),
        ]
        system_lines = [system_prompt.strip()] if system_prompt.strip() else []
        if memory:
            system_lines.append(f"Today is {today_phrase(now)}.")
        for kind, text, heading, tokens, sources, ids in sections:
            if text:
                if kind != "system":
                    system_lines.append(heading + text)
                parts.append(ContextPart(kind, text, tokens, sources, ids))
        messages: list[ChatMessage] = []
        system_text = "\n\n".join(system_lines)
        if system_lines:
            messages.append(ChatMessage("system", system_text))
        recent = history[start:]
        sent = self._sent.get(thread_id)
        sent_held = {i: t for i, t in sent_held.items() if i in holding}
        if not (
            sent is not None and sent.shown_start == window_start and sent.system == system_text
        ):
            sent_held = {}  # the prompt changed before them: they are read again anyway
        for i, m in enumerate(recent, start=start):
            text = _recent_text(m, history, i)
            if m.id in sent_held:  # the message as it was sent (after its day's marker)
                text = text[: len(text) - len(m.content)] + sent_held[m.id].text
            messages.append(ChatMessage(m.role.value, text))
        sent_held = {mid: sent_held[mid] for mid in (m.id for m in recent) if mid in sent_held}
        spent_held = sum(t.extra for t in sent_held.values())
        if sent_held:
            parts.append(
                ContextPart(
                    "recall_held",
                    "\n".join(t.excerpts for t in sent_held.values() if t.excerpts),
                    spent_held,
                    tuple(dict.fromkeys(i for t in sent_held.values() for i in t.sources)),
                )
            )
        if recent:
            parts.append(
                ContextPart(
                    "recent",
                    "\n".join(m.content for m in recent),
                    spent_recent,
                    tuple(m.id for m in recent),
                )
            )
        last = new_message.content
        message_tokens = self.count_text(new_message.content)
        excerpts = ""
        if per_turn:
            excerpts = _group_by_day(per_turn, now)
            parts.append(
                ContextPart(
                    "recall_new", excerpts, spent_per_turn, tuple(m.id for m, _t in per_turn)
                )
            )
            last = f"(From earlier in our conversation:\n{excerpts})\n\n{last}"
        if changed_slots:  # a slot change that waits for the window (see _held_slots)
            note = "\n".join(line for _slot, line in changed_slots)
            parts.append(
                ContextPart(
                    "slots",
                    note,
                    0,  # counted with the held slots
                    tuple(i for slot, _line in changed_slots for i in slot.sources),
                    tuple(slot.id for slot, _line in changed_slots),  # type: ignore[misc]
                )
            )
            last = f"{_CHANGED}{note})\n\n{last}"
        parts.append(
            ContextPart(
                "message",
                new_message.content,
                message_tokens,
                (new_message.id,),
            )
        )
        messages.append(ChatMessage("user", last))
        if holds:
            texts = dict(sent_held)
            if last != new_message.content:
                texts[new_message.id] = _SentText(
                    new_message.content,
                    last,
                    self.count_text(last) - message_tokens,
                    excerpts,
                    tuple(m.id for m, _t in per_turn),
                )
            self._sent[thread_id] = _Sent(first_start, window_start, system_text, texts)
        return BuiltContext(
            messages=messages,
            parts=parts,
            memory_budget=budget,
            memory_tokens=spent_slots + spent_summary + spent_recall + spent_recent + spent_held,
            left_out={k: v for k, v in left_out.items() if v},
            window_start=window_start,
            recall_coverage=recall_coverage,
            recall_kept=recall_kept,
            recall_ranking=ranking,
        )

    def _held_sent(
        self, thread_id: int, recent: Sequence[Message], start: int
    ) -> dict[int, _SentText]:
        """What the recent window's messages were sent with (their recalled lines, a slot
        change), while the window's start holds; an edited message loses it.

        Each turn's recalled lines go with the new message, at the prompt's end. Shown without
        them a turn later, the message changed, and llama.cpp read it, the reply and all that
        follows again (on a CPU, half of what it read each turn). Kept as sent, the prompt holds
        up to the new message, and the lines stay in view for the next turns, which recall
        only what they lack. They are dropped (and the room is recall's again) when the system
        message or the window's start changes, which rereads the window anyway."""
        sent = self._sent.get(thread_id)
        if sent is None or sent.start != start:
            return {}
        return {
            m.id: sent.texts[m.id]
            for m in recent
            if m.id in sent.texts and sent.texts[m.id].content == m.content
        }

    def _held_slots(
        self,
        thread_id: int,
        slots: Sequence[SlotRow],
        fresh: Sequence[tuple[SlotRow, str]],
        in_window: set[int],
        start: int,
        cap: int,
    ) -> tuple[list[tuple[SlotRow, str]], list[tuple[SlotRow, str]], int] | None:
        """The slot lines the thread's last prompt showed, shown again while every change
        since can wait; with the current lines of the slots whose value changed, and the cost
        of both. None: the slots are shown afresh (`fresh`).

        A change to the slots rewrites the system message, and llama.cpp reads all that
        follows it again, the recent window included; when the window's start moves, the
        window is read again anyway. So while the start holds, a change whose message is in
        the window (the model reads it there, verbatim) waits for the move: a new fact, or a
        new value of a fact shown, whose current line then goes with the new message, where
        the per-turn excerpts go, so that the old value never stands alone as current. A
        change that did not come from the window (an edit, a forgotten fact, a pinned or
        another thread's one) is shown at once, and so is all when the held lines and the
        changes no longer fit the slots' room."""
        before = self._shown_slots.get(thread_id)
        if before is None or before.start != start:
            return None

        def from_window(slot: SlotRow, since: frozenset[int]) -> bool:
            added = set(slot.sources) - since
            return bool(added) and added <= in_window and not slot.pinned

        by_id = {slot.id: slot for slot in slots}
        held: list[tuple[SlotRow, str]] = []
        changed: list[tuple[SlotRow, str]] = []
        for slot_id, (line, sources) in before.lines.items():
            slot = by_id.get(slot_id)
            if slot is None:
                return None  # forgotten or pushed out: it goes at once
            current = _slot_line(slot)
            if current != line:
                if not from_window(slot, sources):
                    return None
                changed.append((slot, current))
            held.append((slot, line))
        if any(s.id not in before.lines and not from_window(s, frozenset()) for s, _l in fresh):
            return None
        cost = sum(
            self._count_cached((slot.id or 0, hash(line), "slot"), line) + 1
            for slot, line in held + changed
        )
        if changed:
            cost += self._count_cached((-3, 0, "changed"), _CHANGED) + 1
        return (held, changed, cost) if cost <= cap else None

    def _summaries(
        self, thread_id: int, window_start: int, room: int
    ) -> tuple[str, list[int], int, int]:
        """The newest rolling summaries of what lies before the window that fit `room`: their
        text, the messages they cover, their cost and how many were left out.

        They get only the room recall leaves. Every summarised message is still recallable
        verbatim, and on LoCoMo (2,048 tokens) no answer was found only in a summary (0 of
        302) while the ~300 tokens they took cost recall 1.4 points; a summary helps where
        recall finds too little to fill its room (a question about the gist of a long
        stretch, a thread whose messages match nothing)."""
        current = [
            s
            for s in self.tables.summaries(thread_id)
            if not s.stale and s.first_depth < window_start
        ]
        chosen = []
        spent = dropped = 0
        for s in reversed(current):
            text = f"- ({s.first_depth + 1}–{s.last_depth + 1}) {s.text}"
            cost = self.count_text(text) + 1 if spent < room else room + 1
            if spent + cost > room:
                dropped += 1
                continue
            chosen.append((s, text))
            spent += cost
        chosen.reverse()
        sources = [i for s, _t in chosen for i in s.message_ids]
        return "\n".join(t for _s, t in chosen), sources, spent, dropped

    def _recall(
        self,
        thread_id: int,
        hits: Sequence[Hit],
        room: int,
        window_start: int,
        now: float,
        query: str,
        growth: int = 0,
        sent: dict[int, _SentText] | None = None,
        holds: bool = False,
    ) -> _Recalled:
        """The kept block and the per-turn excerpts within `room`.

        The kept block sits early in the prompt and stays the same while the topic holds,
        so llama.cpp reuses its cache. A block chosen now would be the best hits filling
        `kept_share` of the room; the per-turn part adds those of them the kept block
        lacks (only those: it is what llama.cpp reads again every turn). When kept and
        per-turn together cover less than `keep_coverage` of what a fresh recall would
        show beyond the best hits (weighted by the ranking), the block is chosen again,
        and the rest of the room goes to the next best hits, per turn; a first build
        does the same.

        `sent`: the lines earlier messages in the window were sent with (see _held_sent). While
        the block is kept they stay, in the room they take, and the next best hits are those
        they and the block lack; when both do not fit, the next best get the room.
        """
        p = self.params
        sent = sent or {}
        previous = self._kept.get(thread_id, {})
        score = {h.message_id: h.score for h in hits}
        messages = self._messages([*score, *(i for i in previous if i not in score)])
        info = _Excerpts(self, messages, now, query)
        best, hits = hits, _by_worth(hits, info, room)
        fresh_all, _ = self._fill(hits, info, room, set())

        def coverage(shown: set[int], beyond: set[int] | frozenset[int] = frozenset()) -> float:
            """Ranking-weighted share of a fresh recall (less `beyond`) that `shown` holds."""
            judged = [m.id for m, _t in fresh_all if m.id not in beyond]
            total = sum(score[i] for i in judged)
            return sum(score[i] for i in judged if i in shown) / total if total else 1.0

        # the very best always go with the new message: small models read it far more
        # closely than the system message (even when the kept block has them too)
        top_room = int(room * p.top_share)
        first = next((info.get(h.message_id) for h in best if h.message_id in info), None)
        if p.top_share and first is not None:  # the best hit even when it is long
            top_room = min(room, max(top_room, first.cost + self._day_cost(first.day)))
        top, top_cost = self._fill(best, info, top_room, set(), prefix=True)
        top_ids = {m.id for m, _t in top}
        rest = room - top_cost
        # a block is chosen for the room left when the recent window has grown by `growth`
        # (to its share, where its start moves on): it then fits until the window's start
        # moves, and the room the window has not grown into goes to the per-turn part
        block_room = max(0, rest - growth)
        block_now, block_cost = self._fill(
            hits, info, int(block_room * p.kept_share), top_ids, prefix=True
        )

        if previous and self._still_shown(thread_id, previous, window_start):
            # the lines as they were shown, in their order (a long message's cut depends on
            # the message it was recalled for)
            kept_items = [(messages[i], line) for i, line in previous.items()]
            kept_cost = self._shown_cost(kept_items, info)
            # grown into by the window (or the slots): the block's last lines give way, and
            # the prompt is read again from there on, not from the block's start
            while kept_cost > rest and len(kept_items) > 1:
                kept_items.pop()
                kept_cost = self._shown_cost(kept_items, info)
            held = {m.id for m, _t in kept_items}
            if kept_cost <= rest:
                # the next best hits the block (and the lines the window's messages carry)
                # lack, in the room it leaves (the room the window grows into is theirs until
                # then)
                holding, held_extra = _fitting(sent, rest - kept_cost)
                held_ids = {i for m in holding for i in sent[m].sources}
                more, more_cost = self._fill(
                    hits,
                    info,
                    self._per_turn_room(rest - kept_cost - held_extra, holds),
                    held | top_ids | held_ids,
                )
                shown = held | {m.id for m, _t in more} | held_ids
                # the block judged by what it adds to the new message's own excerpts (the best
                # hits and the next best in the room the block leaves)
                added = top_ids | {m.id for m, _t in more}
                if coverage(held, beyond=added) >= p.keep_coverage:
                    covered = coverage(shown | top_ids)
                    per_turn = top + more
                    if len(held) < len(previous):
                        self._kept[thread_id] = {m.id: line for m, line in kept_items}
                    return _Recalled(
                        kept_items,
                        _by_depth(per_turn),
                        kept_cost,
                        top_cost + more_cost,
                        covered,
                        True,
                        holding,
                        top_cost + rest - kept_cost if holds else 0,
                    )
        kept_items, kept_cost = _by_depth(block_now), block_cost
        if previous:  # what stays in the block keeps its place and line: the prefix holds to it
            in_place = _in_place(block_now, previous)
            cost = self._shown_cost(in_place, info)
            # a day headed twice, or an earlier line longer than today's cut, may not fit:
            # the new lines that rank lowest give way
            while cost > block_room and len(in_place) > 1 and in_place[-1][0].id not in previous:
                worst = min(
                    (item for item in in_place if item[0].id not in previous),
                    key=lambda item: score[item[0].id],
                )
                in_place.remove(worst)
                cost = self._shown_cost(in_place, info)
            if cost <= block_room:
                kept_items, kept_cost = in_place, cost
        self._kept[thread_id] = {m.id: line for m, line in kept_items}
        more, more_cost = self._fill(
            hits,
            info,
            self._per_turn_room(rest - kept_cost, holds and bool(previous)),
            {m.id for m, _t in kept_items} | top_ids,
        )
        covered = coverage({m.id for m, _t in kept_items + top + more})
        return _Recalled(
            kept_items,
            _by_depth(top + more),
            kept_cost,
            top_cost + more_cost,
            covered,
            False,
            turn_room=top_cost + rest - kept_cost if holds and previous else 0,
        )

    def _per_turn_room(self, room: int, holds: bool) -> int:
        """The room for a turn's next best hits, of the `room` the block (and what the window's
        messages carry) leaves: when the new message will keep the lines it is sent with
        (`holds`: hold_sent, and the message is in the thread), half of it, so that the next
        turns, which keep this one's, have room for theirs; the window grows into the rest
        meanwhile. Given it all, one turn's lines left no room for the next's, and each turn's
        were dropped and read again with the message after them."""
        return room // HOLD_SPLIT if holds else room

    def _fill(
        self,
        hits: Sequence[Hit],
        info: _Excerpts,
        room: int,
        skip: set[int],
        prefix: bool = False,
    ) -> tuple[list[tuple[Message, str]], int]:
        """The best hits not in `skip` that fit in `room` (best first), with their cost; with
        `prefix`, only the best ones up to the first that does not fit. Past the best, a hit
        whose lower bound exceeds the room left is passed over uncounted: a long thread's
        recall ranks hundreds of long replies, and counting each was most of a build."""
        items: list[tuple[Message, str]] = []
        days: set[str] = set()
        spent = 0
        for hit in hits:
            if hit.message_id in skip or hit.message_id not in info:
                continue
            if not prefix and spent + self._lower_cost(hit.message_id, info, days) > room:
                continue
            excerpt = info.get(hit.message_id)
            if excerpt is None:
                continue
            cost = excerpt.cost + (0 if excerpt.day in days else self._day_cost(excerpt.day))
            if spent + cost > room:
                if prefix:
                    break
                continue
            days.add(excerpt.day)
            items.append((excerpt.message, excerpt.line))
            spent += cost
        return items, spent

    def _lower_cost(self, message_id: int, info: _Excerpts, days: set[str]) -> int:
        """Under what a hit adds to a fill, its day heading included when the fill has none
        for its day yet (a short line under a new heading costs about twice the line alone)."""
        lower = info.lower(message_id)
        day = info.day(message_id)
        if day in days:
            return lower
        known = self._counts.get((-1, 0, day))
        return lower + (known + 1 if known is not None else self.lower_bound(f"On {day}:") + 1)

    def _excerpt(self, msg: Message, now: float, wanted: Callable[[], set[str]]) -> tuple[str, int]:
        """A recalled message's line and its cost: whole, or cut to `cut_tokens` when longer
        than `excerpt_tokens`.
        A message whose lower bound is already over the limit is cut without counting it whole."""
        limit = self.params.excerpt_tokens
        line = _recall_line(msg)
        key = (msg.id, len(msg.content), "recall")
        counted = key in self._counts or self.lower_bound(line) <= limit
        if counted:
            cost = self._count_cached(key, line) + 1
            if cost <= limit + 1:
                return line, cost
        pieces = self._pieces(msg)
        cut = self.params.cut_tokens or limit
        text, text_cost = _cut(pieces, wanted(), cut, self.count_text)
        if not counted and text == " ".join(p.text for p in pieces):  # the guess was wrong
            cost = self._count_cached(key, line) + 1
            if cost <= limit + 1:
                return line, cost
        # the pieces' counts, each with a token to spare, bound the line's: no recount
        prefix = _recall_line(msg, "")
        return _recall_line(msg, text), self._count_cached(
            (-2, len(prefix), "prefix"), prefix
        ) + text_cost + 1

    def _remark(self, msg: Message) -> str | None:
        """The sentence of a recalled message whose own vector found it (see _Excerpts)."""
        if self._recall_query is None:
            return None
        return self.embeddings.remark(msg, self._recall_query)

    def _query_vector(self, message: Message, history: Sequence[Message]) -> np.ndarray | None:
        """The new message's search vector (recall.query_vector), kept for the builds that
        follow when a prompt had to be made smaller."""
        if self.embed is None:
            return None
        key = (message.id, message.content)
        if self._query is not None and self._query[0] == key:
            return self._query[1]
        focused = focused_text(message.content, [self._words(m) for m in history])
        vector = query_vector(self.embed, message.content, focused)
        if vector is not None:
            self._query = (key, vector)
        return vector

    def _words(self, msg: Message) -> _Words:
        """A message's words, as a test for a word, made once (the recent messages are read
        every turn)."""
        return _memo(
            self._word_sets, (msg.id, len(msg.content)), 20_000, lambda: _Words(msg.content)
        )

    def _pieces(self, msg: Message) -> list[_Piece]:
        """A long message's sentences with their word stems, worked out once; each is counted
        when a cut first needs it (a cut seldom needs more than the sentences it shows)."""

        def split() -> list[_Piece]:
            texts = _sentences(msg.content)
            return [
                _Piece(t, _stems(t), None, self.count_text, self.lower_bound(t) + 1) for t in texts
            ]

        return _memo(self._split, (msg.id, len(msg.content)), 5_000, split)

    def _day_cost(self, day: str) -> int:
        return self._count_cached((-1, 0, day), f"On {day}:") + 1

    def _block_cost(self, items: Sequence[tuple[Message, str]], info: _Excerpts) -> int:
        excerpts = [info.get(m.id) for m, _t in items]
        lines = sum(
            e.cost if e.line == line else self._count_cached((m.id, hash(line), "kept"), line) + 1
            for (m, line), e in zip(items, excerpts)
        )
        return lines + sum(self._day_cost(d) for d in {e.day for e in excerpts})

    def _shown_cost(self, items: Sequence[tuple[Message, str]], info: _Excerpts) -> int:
        """A block's cost in the order shown: a day heads each run of its lines, so a day
        whose lines are apart (a block that kept its earlier lines in place) is headed again."""
        days = [info.get(m.id).day for m, _t in items]
        runs = [d for i, d in enumerate(days) if i == 0 or days[i - 1] != d]
        repeated = sum(self._day_cost(d) for d in runs) - sum(self._day_cost(d) for d in set(runs))
        return self._block_cost(items, info) + repeated

    def _still_shown(self, thread_id: int, ids: Collection[int], window_start: int) -> bool:
        """The kept messages are all still on the thread's shown path, before the window."""
        return self.store.count_on_path(thread_id, ids, window_start) == len(ids)

    def _step(
        self, history: Sequence[Message], start: int, spent: int, costs: _LazyCosts
    ) -> tuple[int, int]:
        """Move the window's start up to a multiple of window_step, so it stays put for
        several turns and llama.cpp can reuse the cached prompt."""
        p = self.params
        if 0 < start < len(history):
            stepped = -(-history[start].depth // p.window_step) * p.window_step
            while start < len(history) - p.min_recent_messages and history[start].depth < stepped:
                spent -= costs[start]
                start += 1
        return start, spent

    def _messages(self, ids: Sequence[int]) -> dict[int, Message]:
        return self.store.messages_by_ids(ids)


def _fitting(sent: dict[int, _SentText], room: int) -> tuple[frozenset[int], int]:
    """The messages, oldest first, whose lines as sent fit in `room` together, and their cost:
    a message shown otherwise than it was sent is read again from there on, so the oldest are
    kept first."""
    taken: list[int] = []
    spent = 0
    for mid, text in sent.items():  # in the window's order
        if spent + text.extra > room:
            break
        taken.append(mid)
        spent += text.extra
    return frozenset(taken), spent


def _by_worth(hits: Sequence[Hit], info: _Excerpts, room: int) -> list[Hit]:
    """The hits in the order a fill takes them: by score times the share of what made the
    message a hit that its line shows (_Excerpts.shown_share). The score judged the whole
    message (its embedding, all its words); a long reply that talks of the topic in every
    paragraph, cut to an excerpt, shows a few of those sentences, and took the room of a
    whole message ranked a little lower (LongMemEval dev @2048: ten excerpts of replies
    took 560 of 1,490 tokens, while the user's own statements ranked 22-42 were left out).
    Once the lines ranked above a hit would fill `room` by their guessed size, a long hit is
    judged by its size alone: splitting every long reply a build ranks was a third of its
    time."""
    worth: dict[int, float] = {}
    spent = 0
    for hit in hits:
        worth[hit.message_id] = hit.score * info.shown_share(hit.message_id, guess=spent >= room)
        spent += info.guessed_cost(hit.message_id)
    return sorted(hits, key=lambda h: (-worth[h.message_id], -h.depth))


def _memo(cache: dict[K, V], key: K, limit: int, make: Callable[[], V]) -> V:
    """cache[key], made once; a cache grown past `limit` entries starts again."""
    found = cache.get(key)
    if found is None:
        if len(cache) > limit:
            cache.clear()
        found = cache[key] = make()
    return found


def _without_repeats(slots: list[SlotRow], gates: GateParams) -> list[SlotRow]:
    """The thread's slots, and the global ones that say something the thread's do not."""
    own = [s for s in slots if s.thread_id is not None]
    shared = [s for s in slots if s.thread_id is None]
    if not own or not shared:
        return slots
    keys = np.vstack([s.key for s in own]).astype(np.float32)
    return own + [
        s
        for s in shared
        if float(np.max(keys @ s.key.astype(np.float32))) < gates.duplicate_threshold
    ]


def _newest_by_attribute(slots: list[SlotRow]) -> dict[tuple[str, str], SlotRow]:
    """The newest slot (by when its value became current) of each owner's attribute; of two
    made current by one message, the one made later ("I gave up pottery; woodturning is my
    thing now": the woodturning slot, stored after the stop replaced the pottery one)."""
    newest: dict[tuple[str, str], SlotRow] = {}
    for slot in slots:
        if slot.attribute is None:
            continue
        key = (slot.owner, slot.attribute)
        if key not in newest or (slot.current_since, slot.id or 0) > (
            newest[key].current_since,
            newest[key].id or 0,
        ):
            newest[key] = slot
    return newest


def _with_newest(slots: list[SlotRow], attended: set[int]) -> set[int]:
    """The attended slots (by id()), and the newest slot of each attribute one of them holds
    for its owner: a message about someone's home reads the home stated last, not only an
    older slot of it that a missed change left behind, whose words it happens to share."""
    newest = _newest_by_attribute(slots)
    return attended | {
        id(newest[(s.owner, s.attribute)])
        for s in slots
        if id(s) in attended and s.attribute is not None
    }


def _newest_first(
    candidates: list[tuple[SlotRow, str]], attended: set[int]
) -> list[tuple[SlotRow, str]]:
    """The candidates in reading order, each attribute's newest attended slot moved up to
    the place of the best-read slot of that attribute, so the room runs out on older ones."""
    rank: dict[tuple[str, str], int] = {}
    for n, (slot, _line) in enumerate(candidates):
        if id(slot) in attended and slot.attribute is not None:
            rank.setdefault((slot.owner, slot.attribute), n)
    newest = _newest_by_attribute([slot for slot, _line in candidates if id(slot) in attended])

    def place(item: tuple[int, tuple[SlotRow, str]]) -> tuple[float, int]:
        n, (slot, _line) = item
        key = (slot.owner, slot.attribute or "")
        if slot.attribute is not None and newest.get(key) is slot:
            return (rank[key] - 0.5, n)
        return (n, n)

    return [item for _n, item in sorted(enumerate(candidates), key=place)]


def _short_date(timestamp: float) -> str:
    import datetime as dt

    d = dt.datetime.fromtimestamp(timestamp)
    return f"{d.day} {d.strftime('%B')} {d.year}"


def _slot_line(slot: SlotRow, earlier: int = 1) -> str:
    """A slot as the context shows it: its current value, and when it changed, what it
    was before ("…; earlier: I live in Utrecht. until 3 May 2026"). One earlier value: over
    a long life a slot gathers several, and two made the slot lines outgrow their share of
    the budget, so that the current value of another slot was left out; older ones are in
    the memory panel and, where a message asks, in recall."""
    if not slot.history:
        return f"- {slot.text}"
    old = "; ".join(
        f"earlier: {h.text} until {_short_date(h.until)}" for h in reversed(slot.history[-earlier:])
    )
    return f"- {slot.text} (now, since {_short_date(slot.current_since)}; {old})"


def _superseded(slots: Sequence[SlotRow]) -> dict[int, tuple[str, float]]:
    """The messages that stated a slot's older values: each with the slot's current
    value and when that was stated."""
    out: dict[int, tuple[str, float]] = {}
    for slot in slots:
        for h in slot.history:
            for message_id in h.sources:
                if message_id not in slot.sources:
                    out[message_id] = (slot.text, slot.current_since)
    return out


# heads the slots whose value changed while the change waits for the window (_held_slots)
_CHANGED = "(Newer than what you know above:\n"


def _earlier_note(current: str, since: float) -> str:
    return f" [earlier; on {_short_date(since)} this changed: {current}]"


def _in_place(
    chosen: list[tuple[Message, str]], previous: dict[int, str]
) -> list[tuple[Message, str]]:
    """A block chosen again, laid out for the cache: the messages the earlier block also
    showed first, in its order and with its lines, then the new ones by depth."""
    ids = {m.id for m, _t in chosen}
    by_id = {m.id: m for m, _t in chosen}
    stay = [(by_id[i], line) for i, line in previous.items() if i in ids]
    return stay + _by_depth([(m, t) for m, t in chosen if m.id not in previous])


def _by_depth(items: list[tuple[Message, str]]) -> list[tuple[Message, str]]:
    return sorted(items, key=lambda item: item[0].depth)


def _recall_line(msg: Message, text: str | None = None) -> str:
    who = "User" if msg.role == Role.USER else "Assistant"
    return f"- {who}: {msg.content if text is None else text}"


def _sentences(text: str) -> list[str]:
    """A message's sentences, a piece with no letters ("1.", "**", "-") joined to the one after
    it: alone, a cut took such pieces as a match's neighbours and showed "… 1. … 5. …", two
    tokens of "…" apiece for nothing said (LongMemEval dev @2048: 16.6 "…" a context)."""
    out: list[str] = []
    carry = ""
    for piece in CLAUSE.split(text):
        piece = piece.strip() if piece else ""
        if not piece:
            continue
        if not _LETTER.search(piece):
            carry = f"{carry} {piece}" if carry else piece
            continue
        out.append(f"{carry} {piece}" if carry else piece)
        carry = ""
    if carry:
        if out:
            out[-1] = f"{out[-1]} {carry}"
        else:
            out.append(carry)
    return out or [text]


_LETTER = re.compile(r"[^\W\d_]")


def _stems(text: str) -> set[str]:
    return stems(text, STOP_WORDS, 3)


@dataclass
class _Piece:
    text: str  # one sentence of a long message
    stems: set[str]
    cost: int | None = None  # its tokens, with one to spare (None: not counted yet)
    count: Callable[[str], int] | None = field(default=None, repr=False)
    lower: int = 0  # a guess under `cost`, made without counting

    def tokens(self) -> int:
        if self.cost is None:
            assert self.count is not None
            self.cost = self.count(self.text) + 1
        return self.cost


def _cut(
    pieces: Sequence[_Piece], wanted: set[str], limit: int, count: Callable[[str], int]
) -> tuple[str, int]:
    """A long message cut to about `limit` tokens: its first sentence (or, when that leaves no
    room for the best matching one, that one: _cut_start), those sharing the most words with
    the new message and the sentences around them, in their order, with "…" where text was
    left out. Returns the text and a bound on its tokens (each piece and
    "…" counted with one to spare). A sentence whose guess (`lower`) cannot fit what is
    left is passed over uncounted."""
    overlap = [len(p.stems & wanted) for p in pieces]
    matches = [i for i, n in enumerate(overlap) if n] or [0]
    start = _cut_start(pieces, overlap, limit, counted=True)
    chosen = {start}
    spent = pieces[start].tokens()
    # the best matching first, then what surrounds them (their context), then the start
    for i in sorted(
        (i for i in range(len(pieces)) if i != start),
        key=lambda i: (-overlap[i], min(abs(i - j) for j in matches), i),
    ):
        if limit - spent < 2:  # no sentence costs less than a token and the one to spare
            break
        if spent + pieces[i].lower <= limit and spent + pieces[i].tokens() <= limit:
            chosen.add(i)
            spent += pieces[i].tokens()
    out: list[str] = []
    total = 0
    for i in sorted(chosen):
        if i and i - 1 not in chosen:
            out.append("…")
            total += 2
        if pieces[i].tokens() <= limit:
            out.append(pieces[i].text)
            total += pieces[i].tokens()
        else:
            out.append(_head(pieces[i].text, limit, count))
            total += limit
    if max(chosen) < len(pieces) - 1:
        out.append("…")
        total += 2
    return " ".join(out), total


def _cut_start(
    pieces: Sequence[_Piece], overlap: Sequence[int], limit: int, counted: bool = False
) -> int:
    """The sentence a cut starts from: the first, which says what the message is about, unless
    it shares no word with the new message and the best sentence that does would not fit
    beside it; then that sentence. A passing remark deep in a message ("By the way, I
    volunteered at the Portland Film Festival" after a paragraph on camera angles) was cut
    away behind the first sentence, and the line showed none of what made it a hit.
    `counted`: the two sentences are counted (a cut); else their guessed sizes decide (the
    share a cut would show, worked out without counting)."""
    best = max(range(len(pieces)), key=lambda i: (overlap[i], -i))
    if overlap[0] or not overlap[best]:
        return 0
    if counted and pieces[0].tokens() + pieces[best].tokens() <= limit:
        return 0
    if not counted and pieces[0].lower + pieces[best].lower <= limit:
        return 0
    return best


def _head(text: str, limit: int, count: Callable[[str], int]) -> str:
    """The words of `text` that fit in `limit` tokens (a sentence longer than an excerpt)."""
    words = text.split()
    lo, hi = 1, len(words)
    while lo < hi:  # the most words that fit
        mid = (lo + hi + 1) // 2
        if count(" ".join(words[:mid])) <= limit - 2:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + " …"


def _group_by_day(items: list[tuple[Message, str]], now: float) -> str:
    """Excerpts in order, under one 'On Tuesday 3 March 2026 (5 days ago):' line per day."""
    lines: list[str] = []
    current = None
    for msg, line in items:
        day = day_phrase(msg.created_at, now)
        if day != current:
            lines.append(f"On {day}:")
            current = day
        lines.append(line)
    return "\n".join(lines)


class _Words:
    """`word in _Words(text)` is `word in words(text)`, without splitting the text: the focus
    asks about the few words of one message in 400 recent ones, which splitting made the
    slowest step of a build over long replies."""

    __slots__ = ("lower",)

    def __init__(self, text: str) -> None:
        self.lower = text.lower()

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or word not in self.lower or not WORD.fullmatch(word):
            return False
        return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", self.lower) is not None


class _LazyCosts:
    """Token costs of the history's messages, computed when first needed (newest first)."""

    def __init__(self, compute: Callable[[int], int]) -> None:
        self._compute = compute
        self._known: dict[int, int] = {}

    def __getitem__(self, index: int) -> int:
        if index not in self._known:
            self._known[index] = self._compute(index)
        return self._known[index]


def _recent_text(msg: Message, history: Sequence[Message], index: int) -> str:
    """Recent messages carry a date marker when a new day starts."""
    import datetime as dt

    day = dt.datetime.fromtimestamp(msg.created_at).date()
    prev = history[index - 1] if index > 0 else None
    if prev is None or dt.datetime.fromtimestamp(prev.created_at).date() != day:
        return f"[{day.strftime('%A')} {day.day} {day.strftime('%B')} {day.year}]\n{msg.content}"
    return msg.content
