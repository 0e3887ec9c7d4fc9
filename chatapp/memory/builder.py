"""The context builder: what the model sees for a reply, assembled under a token budget.

    system message:  system prompt · today's date · memory slots · rolling summary
    recent messages: verbatim, the newest kept (their start moves in steps, so the
                     prompt's prefix stays the same for several turns and llama.cpp
                     reuses its KV cache)
    last message:    recalled excerpts of older messages (with when they were said),
                     then the new message

Each part has a share of the memory budget; what a part leaves unused goes to the
next (slots → summary → recent → recall → recent again). Every part records the
messages it came from, and what was left out is counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from chatapp.domain import ChatMessage, Message, Role
from chatapp.memory.recall import EmbeddingCache, recall
from chatapp.memory.slots import GateParams, SlotBank
from chatapp.memory.timefmt import day_phrase, today_phrase
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables

MESSAGE_OVERHEAD = 6  # tokens a chat template adds around one message (ChatML: 5)


@dataclass(frozen=True)
class BuilderParams:
    slots_share: float = 0.12
    summary_share: float = 0.12
    recent_share: float = 0.20
    min_recent_messages: int = 2
    window_step: int = 8  # the recent window's start moves in steps of this many messages
    recent_lookback: int = 400  # messages read for the recent window


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

    def part_tokens(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for part in self.parts:
            out[part.kind] = out.get(part.kind, 0) + part.tokens
        return out


class ContextBuilder:
    def __init__(
        self,
        store: Store,
        count_text: Callable[[str], int],
        embed: Callable[[str], np.ndarray] | None = None,
        params: BuilderParams | None = None,
        gates: GateParams | None = None,
    ) -> None:
        self.store = store
        self.tables = MemoryTables(store)
        self.count_text = count_text
        self.embed = embed
        self.params = params or BuilderParams()
        self.gates = gates or GateParams()
        self.embeddings = EmbeddingCache(self.tables)
        self._counts: dict[tuple[int, int, str], int] = {}

    def _count_cached(self, key: tuple[int, int, str], text: str) -> int:
        """Message texts are counted once; a thread's recent window is re-read every turn."""
        n = self._counts.get(key)
        if n is None:
            if len(self._counts) > 50_000:
                self._counts.clear()
            n = self._counts[key] = self.count_text(text)
        return n

    def build(
        self,
        thread_id: int,
        system_prompt: str,
        new_message: Message,
        memory_budget: int,
        *,
        now: float | None = None,
        memory: bool = True,
        include_global: bool = False,
    ) -> BuiltContext:
        """`new_message` is the stored user message being answered (the end of the shown path)."""
        now = time.time() if now is None else now
        p = self.params
        depth = new_message.depth
        history = self.store.path(thread_id, max(0, depth - p.recent_lookback), depth)
        budget = max(0, memory_budget)
        parts: list[ContextPart] = []
        left_out: dict[str, int] = {}
        query_vec = self.embed(new_message.content) if (memory and self.embed) else None

        # recent window: newest first, within its share, start rounded to a step
        carry = budget - int(budget * p.slots_share) if memory else budget
        summary_cap = int(budget * p.summary_share) if memory else 0
        recent_cap = int(budget * p.recent_share) if memory else carry
        costs = _LazyCosts(
            lambda i: self._count_cached((history[i].id, len(history[i].content), "recent"), _recent_text(history[i], history, i))
            + MESSAGE_OVERHEAD
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

        # slots: facts whose every source is still in the recent window are left out (the
        # window shows them verbatim), so a new fact changes the prompt's prefix only once
        # its message has left the window
        in_window = {m.id for m in history[start:]}
        slot_lines: list[str] = []
        slot_ids: list[int] = []
        slot_sources: list[int] = []
        spent_slots = 0
        if memory:
            slots = self.tables.slots(thread_id, include_global=include_global)
            cap = int(budget * p.slots_share)
            chosen_slots = []
            for slot, _score in SlotBank(slots, self.gates).read(query_vec, now):
                if slot.sources and set(slot.sources) <= in_window and not slot.pinned:
                    continue
                line = f"- {slot.text}"
                cost = self.count_text(line) + 1
                if spent_slots + cost > cap:
                    left_out["slots"] = left_out.get("slots", 0) + 1
                    continue
                chosen_slots.append((slot, line))
                spent_slots += cost
            # shown in a fixed order (oldest first), so the prompt's prefix stays cacheable
            for slot, line in sorted(chosen_slots, key=lambda item: item[0].id or 0):
                slot_lines.append(line)
                slot_ids.append(slot.id)  # type: ignore[arg-type]
                slot_sources.extend(slot.sources)

        # summaries of what lies before the window
        summary_text = ""
        summary_sources: list[int] = []
        spent_summary = 0
        if memory:
            chosen = []
            for s in reversed([s for s in self.tables.summaries(thread_id) if not s.stale and s.first_depth < window_start]):
                text = f"- ({s.first_depth + 1}–{s.last_depth + 1}) {s.text}"
                cost = self.count_text(text) + 1
                if spent_summary + cost > summary_cap + (int(budget * p.slots_share) - spent_slots):
                    left_out["summary"] = left_out.get("summary", 0) + 1
                    continue
                chosen.append((s, text))
                spent_summary += cost
            chosen.reverse()
            summary_text = "\n".join(t for _s, t in chosen)
            summary_sources = [i for s, _t in chosen for i in s.message_ids]

        # recall fills what is left
        recall_items: list[tuple[Message, str]] = []
        spent_recall = 0
        if memory and window_start > 0:
            room = budget - spent_slots - spent_summary - spent_recent
            hits = recall(self.store, thread_id, new_message.content, query_vec, window_start, self.embeddings)
            messages = self._messages([h.message_id for h in hits[:300]])
            days: set[str] = set()
            for hit in hits[:300]:
                msg = messages.get(hit.message_id)
                if msg is None:
                    continue
                line = _recall_line(msg)
                day = day_phrase(msg.created_at, now)
                cost = self._count_cached((msg.id, len(msg.content), "recall"), line) + 1
                if day not in days:
                    cost += self.count_text(f"On {day}:") + 1
                if spent_recall + cost > room:
                    left_out["recall"] = left_out.get("recall", 0) + 1
                    continue
                days.add(day)
                recall_items.append((msg, line))
                spent_recall += cost
            # what recall left goes back to the recent window (contiguous, no duplicates)
            recalled = {m.id for m, _t in recall_items}
            room_back = budget - spent_slots - spent_summary - spent_recall - spent_recent
            while start > 0 and costs[start - 1] <= room_back and history[start - 1].id not in recalled:
                start -= 1
                spent_recent += costs[start]
                room_back -= costs[start]
            start, spent_recent = self._step(history, start, spent_recent, costs)
            window_start = history[start].depth if start < len(history) else depth
        left_out["recent"] = start

        # assemble
        system_lines = [system_prompt.strip()] if system_prompt.strip() else []
        if memory:
            system_lines.append(f"Today is {today_phrase(now)}.")
        if slot_lines:
            system_lines.append("What you know about the user and this conversation:\n" + "\n".join(slot_lines))
        if summary_text:
            system_lines.append("Summary of the earlier conversation:\n" + summary_text)
        messages: list[ChatMessage] = []
        if system_lines:
            messages.append(ChatMessage("system", "\n\n".join(system_lines)))
        if system_prompt.strip():
            parts.append(ContextPart("system", system_prompt.strip(), self.count_text(system_prompt.strip())))
        if slot_lines:
            parts.append(ContextPart("slots", "\n".join(slot_lines), spent_slots, tuple(slot_sources), tuple(slot_ids)))
        if summary_text:
            parts.append(ContextPart("summary", summary_text, spent_summary, tuple(summary_sources)))
        recent = history[start:]
        for i, m in enumerate(recent, start=start):
            text = _recent_text(m, history, i)
            messages.append(ChatMessage(m.role.value, text))
        if recent:
            parts.append(
                ContextPart("recent", "\n".join(m.content for m in recent), spent_recent, tuple(m.id for m in recent))
            )
        last = new_message.content
        if recall_items:
            recall_items.sort(key=lambda item: item[0].depth)
            excerpts = _group_by_day(recall_items, now)
            parts.append(ContextPart("recall", excerpts, spent_recall, tuple(m.id for m, _t in recall_items)))
            last = f"(From earlier in our conversation:\n{excerpts})\n\n{last}"
        parts.append(ContextPart("message", new_message.content, self.count_text(new_message.content), (new_message.id,)))
        messages.append(ChatMessage("user", last))
        return BuiltContext(
            messages=messages,
            parts=parts,
            memory_budget=budget,
            memory_tokens=spent_slots + spent_summary + spent_recall + spent_recent,
            left_out={k: v for k, v in left_out.items() if v},
            window_start=window_start,
        )

    def _step(self, history: Sequence[Message], start: int, spent: int, costs: _LazyCosts) -> tuple[int, int]:
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
        out: dict[int, Message] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.store._query(
                "SELECT m.id, m.thread_id, m.parent_id, m.depth, m.role, m.content, m.created_at, m.status,"
                " m.model, m.prompt_tokens, m.completion_tokens, m.settings, m.error"
                f" FROM messages m WHERE m.id IN ({marks})",
                tuple(chunk),
            )
            from chatapp.store.store import _message

            for r in rows:
                out[r[0]] = _message(r, 1, 1)
        return out


def _recall_line(msg: Message) -> str:
    who = "User" if msg.role == Role.USER else "Assistant"
    return f"- {who}: {msg.content}"


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
