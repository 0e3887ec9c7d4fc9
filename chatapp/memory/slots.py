"""Gated memory slots: a fixed-capacity bank of durable facts, written with GRU-like gates.

Writing a candidate fact x (an embedding) into a bank of slot keys K; each slot i also
knows its attribute A_i (home, work, partner, pet, … read by the embedder, see
chatapp.memory.attributes), and s_a(x) is x's best similarity to attribute a's examples:

    a = softmax(K x / τ)                 attention over the slots of the same owner
    r_i = cos(K_i, x)
    z_i = σ((r_i − θ_dup) / w)           update gate: is x the same fact as slot i?
    ρ_i                                  reset gate: does x state slot i's fact anew?
        = σ((s_{A_i}(x) − max_a s_a(x) + δ) / w_a)   when A_i holds one value (one home, one
                                          job, one partner, one diet): x is about A_i, and
                                          says something changed or states A_i plainly
                                          (s_{A_i}(x) ≥ 0.55, or r_i ≥ 0.5)
        = σ((r_i − θ_topic) / w) · c     otherwise (hobbies, pets, family): x is on i's
                                          subject and says something changed (c = 1 for
                                          "no longer", "gave up", "now", "instead", …)
    a change may also name what it replaced ("Picked up the Fiat, the Kia went for
    scrap": the slot's names and others besides); a slot read as no attribute (names
    weaken the likeness) takes x's when both are most like it
        ρ_i = 0 when x is most like another known attribute than A_i (by more than
                                          δ_other) and names none of slot i's values: "I
                                          teach maths now" never pushes the home into history

    the best-attended slot j with z_j ≥ ½ that gives the same value (its words, common
        ones aside, are mostly x's) → refresh j: its text stays, sources merge, salience grows
    else the best-attended j with ρ_j ≥ ½ → replace j's text with x ("these days I'm based
        in Rotterdam" replaces "I live in Utrecht"); the old text becomes j's history with
        the time it was stated and the time it was replaced, and j's key becomes x
    else → x takes a new slot (a free one, else the least salient unpinned one)
    refresh key update  h ← normalise(z·h + (1 − z)·x)

Alike in wording is not the same value: "I live in Berlin" and "I live in Lisbon" score
above θ_dup, so a refresh also needs the same words (days and months are no values: "The
Ravens play on Sunday" is still the Ravens). A statement without change words that names
only values the owner's slots held before ("I found a great bakery in Ghent", after the
move from Ghent) is a mention of the past, not a move back, and is dropped: it replaced the
new home (bench updates, seed 11 test). A value whose messages were edited
away is a corrected mistake, not a change: it leaves no history (MemoryService).

Without the attribute or c, every fact on a subject overwrote the last ("I am vegetarian"
replaced "I am allergic to peanuts", cosine 0.46; "I collect vinyl records" replaced "I
play the cello", 0.40): related facts usually stand together. Salience decays with a half-
life and is reinforced when a slot is written or read. Reading is attention of the current
message over the keys, the best first (pinned slots always first). When the slots do not
all fit in their budget, those the message attends to go first (at least `read_floor` times
an even share, 1/n, or the best one) and the others fill the room left, in reading order.
Showing only the attended ones gave their room to recall (LoCoMo 89.9% → 90.8% when first
measured), but one slot too many then dropped every other, and a question worded unlike
its fact lost it ("What does Bruno do in their free time these days?" attends to "These
days I'm based in Bologna"): filling the room took the knowledge-update benchmark's current
values in a slot from 87.2–91.7% to 93.6–95.8% at four times the history (test wordings,
seeds 11 and 23), LongMemEval 86.1% → 87.5%, LoCoMo 89.6% → 88.9% (`chatapp.memory.builder`).
Pin a fact to have it in every prompt.
The thresholds were set for all-MiniLM-L6-v2, where restatements of one fact score
above 0.8, facts on one subject (two cities one lives in, two jobs) 0.4–0.65,
unrelated facts below 0.3.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from chatapp.memory.attributes import (
    ATTRIBUTES,
    MIN_SIMILARITY,
    AttributeModel,
    says_change,
    says_stop,
    single_valued,
)
from chatapp.store.memory_tables import MemoryTables, SlotHistory, SlotRow
from chatapp.words import ASCII_WORD

if TYPE_CHECKING:
    import torch

# torch is imported where the gates run (the engine and memory threads), not with this
# module: the GUI imports the builder's types at start-up, and `import torch` takes 2 s.


@dataclass(frozen=True)
class GateParams:
    capacity: int = 32  # slots per thread
    global_capacity: int = 8  # slots about the user shared by all threads (when turned on)
    temperature: float = 0.1  # τ: sharpness of attention over keys
    topic_threshold: float = 0.38  # θ_topic
    duplicate_threshold: float = 0.80  # θ_dup
    gate_width: float = 0.04  # w
    half_life_days: float = 14.0
    write_boost: float = 1.0
    read_boost: float = 0.25
    read_floor: float = (
        2.0  # when slots compete for room: read those given this many even shares of attention
    )
    # reads and restatements raise salience up to this: a slot shown on every turn for a day
    # outlives an unread fresh one by about a month (two half-lives), not forever
    max_salience: float = 4.0
    # the reset gate's attribute test: the candidate is about the slot's attribute when its
    # similarity to that attribute's examples is within this margin of its best attribute's
    attribute_margin: float = 0.05
    attribute_width: float = 0.01
    # a candidate most like another attribute may still replace a slot's value when it is
    # this like the slot's: "I'm doing a PhD now" reads as work and study nearly alike
    other_attribute: float = 0.05
    history_length: int = 5  # older values kept per slot
    # a statement this like its attribute's examples replaces a single-valued slot without
    # saying that something changed ("I live in Lisbon" after "I live in Berlin": 0.56+)
    plain_statement: float = 0.55
    same_frame: float = (
        0.5  # or is worded like the slot's statement ("I live in Tallinn" / "… in Antwerp")
    )
    # a slot read as no attribute takes the candidate's when both are most like it and
    # within this of the attributes' threshold
    agreement: float = 0.05


@dataclass(frozen=True)
class WriteResult:
    action: str  # new | refresh | replace | dropped
    slot: SlotRow | None
    evicted: SlotRow | None = None
    reset_gate: float = 0.0
    update_gate: float = 0.0


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm().clamp_min(1e-8)


class SlotBank:
    """The slots of one thread (or the global ones) as torch tensors, with the gates above."""

    def __init__(
        self,
        slots: list[SlotRow],
        params: GateParams | None = None,
        attributes: AttributeModel | None = None,
    ) -> None:
        self.params = params or GateParams()
        self.slots = list(slots)
        self.attributes = attributes

    def _keys(self) -> torch.Tensor:
        import torch

        if not self.slots:
            return torch.zeros((0, 1))
        return torch.from_numpy(np.vstack([s.key for s in self.slots]).astype(np.float32))

    def salience(self, now: float) -> torch.Tensor:
        """Salience decayed to `now` from each slot's last write or read."""
        import torch

        p = self.params
        base = torch.tensor([s.salience for s in self.slots], dtype=torch.float32)
        ages = torch.tensor(
            [max(0.0, now - max(s.updated_at, s.used_at or 0.0)) / 86400.0 for s in self.slots],
            dtype=torch.float32,
        )
        return base * torch.pow(torch.tensor(0.5), ages / p.half_life_days)

    def write(
        self,
        text: str,
        owner: str,
        x: np.ndarray,
        sources: list[int],
        now: float,
        attribute: str | None = None,
        change_only: bool = False,
        masked: np.ndarray | None = None,
    ) -> WriteResult:
        """Write candidate fact `text` (embedding `x`, about `owner`) stated at `now`.
        `attribute`: what it is about, when the caller knows (else read from `x` with the
        bank's attribute model, when it has one). `change_only`: the statement may only
        replace a value it says ended ("I gave up climbing" when climbing is a slot); it
        takes no slot of its own and refreshes none (the judge read it as passing talk).
        `masked`: the embedding of `text` with its names masked, read beside `x` for what
        it is about (AttributeModel.read); the key is `x`."""
        import torch

        p = self.params
        xt = _unit(torch.from_numpy(np.asarray(x, dtype=np.float32)))
        profile = (
            self.attributes.profile(xt.numpy(), masked) if self.attributes is not None else None
        )
        if attribute is None and profile is not None:
            attribute = self.attributes.attribute_of(profile)  # type: ignore[union-attr]
        same = [i for i, s in enumerate(self.slots) if s.owner == owner]
        if same:
            keys = self._keys()
            scores = keys @ xt
            mask = torch.full_like(scores, float("-inf"))
            mask[same] = 0.0
            attention = torch.softmax(scores / p.temperature + mask, dim=0)
            r = scores.clamp(-1.0, 1.0)
            update = torch.sigmoid((r - p.duplicate_threshold) / p.gate_width)
            topic = torch.sigmoid((r - p.topic_threshold) / p.gate_width)
            mine = set(same)
            change = says_change(text)
            stop = says_stop(text)
            reset = torch.zeros_like(r)
            about = torch.zeros_like(r)
            for i in same:
                slot_i = self.slots[i]
                named = names_another(slot_i.text, text)
                reset[i], about[i] = self._reset(
                    slot_i, profile, float(topic[i]), change or named, float(r[i]), named
                )
                if stop and ends_value(slot_i.text, text):
                    reset[i] = 1.0  # "Not doing woodturning anymore" ends "I'm into woodturning"
            if not change and _of_the_past([self.slots[i] for i in same], text):
                # "I found a great bakery in Ghent" after the move from Ghent: a mention of an
                # earlier value, not a move back (one going back says so: "moved back")
                return WriteResult("dropped", None)
            order = [i for i in torch.argsort(attention, descending=True).tolist() if i in mine]
            refresh = next((i for i in order if update[i] >= 0.5), None)
            if change_only:
                refresh = None
            if refresh is not None and not same_value(self.slots[refresh].text, text):
                refresh = None  # alike in wording, another value ("I live in Berlin" / "in Lisbon")
            replace = None
            if refresh is None:
                # the slot of the attribute x is read as goes before one x might be about ("I'm
                # a carpenter now" is a new job, not the end of the woodwork hobby)
                gated = [i for i in order if reset[i] >= 0.5]
                own = [i for i in gated if attribute and self.slots[i].attribute == attribute]
                replace = (own or gated or [None])[0]
            if refresh is None and not change and not change_only:  # said again in other words
                refresh = next(
                    (
                        i
                        for i in order
                        if (reset[i] >= 0.5 or about[i] >= 0.5)
                        and same_value(self.slots[i].text, text)
                    ),
                    None,
                )
                replace = None if refresh is not None else replace
            # a pinned fact is the user's word: a change to it takes a new slot
            if replace is not None and self.slots[replace].pinned:
                replace = None
            j = refresh if refresh is not None else replace
            if j is not None:
                slot = self.slots[j]
                z, rho = float(update[j]), float(reset[j])
                h = torch.from_numpy(slot.key.astype(np.float32))
                slot.salience = min(p.max_salience, float(self.salience(now)[j]) + p.write_boost)
                slot.updated_at = now
                if slot.attribute is None:
                    slot.attribute = attribute
                if refresh is not None:
                    z = max(
                        z, 0.5
                    )  # a restatement in other words: the key stays at least half the old
                    slot.key = _unit(z * h + (1 - z) * xt).numpy()
                    slot.sources = sorted(set(slot.sources) | set(sources))
                    return WriteResult("refresh", slot, None, rho, z)
                if set(sources) & set(slot.sources) and slot.current_since == now:
                    # another clause of the message that stated the value ("Just signed the
                    # lease in Porto, I'm officially a resident"): one statement, no change.
                    # Not a message that only restated it: "I changed my diet, I'm vegan now"
                    # refreshes "I changed my diet" first, and "I'm vegan" is a change
                    slot.text = f"{slot.text} {text}"
                    slot.key = _unit(h + xt).numpy()
                    if change:  # the clause that says it changed: the value it replaces goes
                        self._fold(j, [i for i in same if i != j and reset[i] >= 0.5])
                    return WriteResult("refresh", slot, None, rho, z)
                # replaced: the key says what the slot holds now; the old value becomes history
                slot.key = xt.numpy()
                old = SlotHistory(slot.text, list(slot.sources), slot.current_since, now)
                slot.history = [*slot.history, old][-p.history_length :]
                slot.text = text
                slot.sources = sorted(set(sources))
                slot.since = now
                # (the slot keeps its attribute: giving it the new statement's turned the job
                # slot of "I teach maths at a secondary school now" into a course, as job and
                # course read nearly alike; it did keep a later course from folding a job)
                self._fold(j, [i for i in same if i != j and reset[i] >= 0.5])
                return WriteResult("replace", slot, None, rho, z)
        if change_only:
            return WriteResult("dropped", None)
        return self._take_new(text, owner, xt.numpy(), sources, now, attribute)

    def _fold(self, j: int, others: list[int]) -> None:
        """After slot j took a new value of a single-valued attribute, the other slots of the
        same owner that the statement replaces as well (their reset gates are open) become
        j's history, each until now: one home is current, not the newest one and two older
        ones that a missed change left behind. Their values and dates are kept, in the order
        they were stated."""
        slot = self.slots[j]
        attribute = slot.attribute
        if not single_valued(attribute):
            return
        folded = [
            i
            for i in others
            if not self.slots[i].pinned and self.slots[i].attribute in (attribute, None)
        ]
        if not folded:
            return
        until = slot.current_since
        older = [
            entry
            for i in folded
            for entry in [
                *self.slots[i].history,
                SlotHistory(
                    self.slots[i].text,
                    list(self.slots[i].sources),
                    self.slots[i].current_since,
                    until,
                ),
            ]
        ]
        merged = sorted([*slot.history, *older], key=lambda h: (h.since, h.until))
        slot.history = merged[-self.params.history_length :]
        slot.salience = max([slot.salience, *(self.slots[i].salience for i in folded)])
        self.slots = [s for n, s in enumerate(self.slots) if n not in set(folded)]

    def _reset(
        self,
        slot: SlotRow,
        profile: np.ndarray | None,
        topic: float,
        change: bool,
        r: float = 0.0,
        named: bool = False,
    ) -> tuple[float, float]:
        """ρ for one slot of the same owner: how surely the candidate states the slot's
        attribute anew; and how surely it is about the slot's (single-valued) attribute at
        all, which lets a restatement in other words refresh it. A single-valued attribute
        (one home, one job) is replaced by any statement of it; one that holds several
        (hobbies, pets) only by a statement that says something changed and is on the slot's
        subject."""
        p = self.params
        stated_change = topic if change else 0.0
        if profile is None or self.attributes is None:
            return stated_change, 0.0  # no attribute model: only a stated change replaces
        attribute = slot.attribute or self._agreed(slot, profile)
        if attribute is None and not named and self._leans_apart(slot, profile):
            # a slot read as no attribute is still most like one: "I'm doing birdwatching now
            # instead of origami" leans to a hobby, and "My team is the Blue Herons now" (a
            # team, worded alike) must not push it into history
            return 0.0, 0.0
        if attribute is not None and not named and not self._could_be(attribute, profile):
            # about another attribute: "I teach maths now" never pushes the home into history;
            # one that names the slot's value is about it however it reads
            return 0.0, 0.0
        if attribute is None or not single_valued(attribute):
            return stated_change, 0.0
        similarity = float(profile[self.attributes.index(attribute)])
        if similarity < MIN_SIMILARITY:
            return stated_change, 0.0  # not a statement of the attribute ("Sometimes I miss Ghent")
        lead = similarity - float(profile[:-1].max())  # ≤ 0
        about = 1.0 / (1.0 + math.exp(-(lead + p.attribute_margin) / p.attribute_width))
        # small talk near an attribute ("I'm trying to drink more water" is 0.52 like a diet)
        # must not overwrite it: a new value says it changed, or states the attribute plainly
        sure = change or similarity >= p.plain_statement or r >= p.same_frame
        return max(stated_change, about if sure else 0.0), about

    def _could_be(self, attribute: str, profile: np.ndarray) -> bool:
        """Whether a candidate may be about `attribute`: it is like no known attribute, or
        like this one within the margin of the one it is most like (job and study meet)."""
        assert self.attributes is not None
        if self.attributes.attribute_of(profile) is None:
            return True
        similarity = float(profile[self.attributes.index(attribute)])
        return similarity >= float(profile[:-1].max()) - self.params.other_attribute

    def _leans_apart(self, slot: SlotRow, profile: np.ndarray) -> bool:
        """Whether a candidate read as a known attribute is about another one than the slot
        (read as none) is most like."""
        assert self.attributes is not None
        mine = self.attributes.attribute_of(profile)
        if mine is None:
            return False
        own = self.attributes.profile(slot.key)
        return int(np.argmax(own[:-1])) != self.attributes.index(mine)

    def _agreed(self, slot: SlotRow, profile: np.ndarray) -> str | None:
        """The attribute of a slot that was read as none, when the slot and the candidate
        are both most like the same one: names weaken the likeness of a statement to the
        examples ("My partner Saskia says hi" is 0.39 like a partner), two statements that
        point the same way are surer than either alone."""
        assert self.attributes is not None
        own = self.attributes.profile(slot.key)
        c = int(np.argmax(own[:-1]))
        near = min(own[c], profile[c]) >= MIN_SIMILARITY - self.params.agreement
        agree = c == int(np.argmax(profile[:-1])) and near
        return self.attributes.attribute_of(own) or (ATTRIBUTES[c].name if agree else None)

    def _take_new(
        self,
        text: str,
        owner: str,
        x: np.ndarray,
        sources: list[int],
        now: float,
        attribute: str | None = None,
    ) -> WriteResult:
        p = self.params
        slot = SlotRow(
            None,
            None,
            text,
            owner,
            x,
            p.write_boost,
            False,
            sorted(set(sources)),
            now,
            now,
            None,
            attribute,
            now,
        )
        if len(self.slots) < p.capacity:
            self.slots.append(slot)
            return WriteResult("new", slot)
        salience = self.salience(now)
        unpinned = [i for i, s in enumerate(self.slots) if not s.pinned]
        if not unpinned:
            return WriteResult("dropped", None)
        victim = min(unpinned, key=lambda i: float(salience[i]))
        evicted = self.slots[victim]
        self.slots[victim] = slot
        return WriteResult("new", slot, evicted)

    def read(
        self, query: np.ndarray | None, now: float, attended_only: bool = False
    ) -> list[tuple[SlotRow, float]]:
        """Slots ordered for the context: pinned first, then by attention of the query over
        the keys, nudged by salience. `attended_only`: only the pinned ones, those the query
        attends to (at least `read_floor` even shares, or the best one) and those without a
        key yet (edited, added while the model loaded, damaged: they cannot be judged)."""
        import torch

        if not self.slots:
            return []
        salience = self.salience(now)
        n = len(self.slots)
        chosen = range(n)
        if query is None:
            relevance = torch.zeros(n)
        else:
            q = _unit(torch.from_numpy(np.asarray(query, dtype=np.float32)))
            keys = self._keys()
            relevance = torch.softmax((keys @ q) / self.params.temperature, dim=0)
            if attended_only:
                best = int(torch.argmax(relevance))
                chosen = [
                    i
                    for i in range(n)
                    if self.slots[i].pinned
                    or i == best
                    or float(relevance[i]) * n >= self.params.read_floor
                    or float(keys[i].norm()) < 1e-6
                ]
        score = relevance + 0.02 * torch.log1p(salience)
        order = sorted(chosen, key=lambda i: (not self.slots[i].pinned, -float(score[i])))
        return [(self.slots[i], float(score[i])) for i in order]


_FRAME_WORDS = """i im i'm me my mine we our us a an and or of to in on at for with from by is are
    was were be been has have had am do does did not no now still just really so very the this
    that it its as about these days also too here there then currently"""
_FRAME = set(_FRAME_WORDS.split())
# the words `says_stop` reads, and the verbs it leaves open ("not doing … anymore")
_STOP_VOCABULARY_WORDS = """gave given giving quit quitting stopped longer doing going playing
    anymore more said goodbye passed away rehomed sold got rid broke split divorced ended over
    finished moved out don't doesn't won't"""
_STOP_VOCABULARY = set(_STOP_VOCABULARY_WORDS.split())


def same_value(old: str, new: str) -> bool:
    """Whether two statements give the same value: the words of one (common ones aside)
    are mostly in the other ("I work as a nurse" / "I work as a nurse at the hospital"),
    not two values in one frame ("I live in Berlin" / "I live in Lisbon")."""
    a = {w for w in ASCII_WORD.findall(old.lower()) if w not in _FRAME}
    b = {w for w in ASCII_WORD.findall(new.lower()) if w not in _FRAME}
    if not a or not b:
        return a == b
    before, after = _names(old), _names(new)
    if before & after and after <= before:
        return True  # "I live in Bologna" / "Rent in Bologna keeps going up": still Bologna
    if names_another(old, new):
        return False  # "I drive a Kia" / "I sold the Kia and bought a Fiat Panda": another car
    return a <= b or b <= a or len(a & b) / len(a | b) >= 0.6


def ends_value(old: str, stop: str) -> bool:
    """Whether a statement that something ended (`says_stop`) names only what `old` holds:
    its words, past the frame and the stop's own, are all `old`'s ("I'm really into
    woodturning" / "Not doing woodturning anymore"). A stop that says more is about more
    ("I stopped going to the gym after work" does not end "I work as a nurse")."""
    a = {w for w in ASCII_WORD.findall(old.lower()) if w not in _FRAME}
    b = {w for w in ASCII_WORD.findall(stop.lower()) if w not in _FRAME | _STOP_VOCABULARY}
    return bool(b) and b <= a


def names_another(old: str, new: str) -> bool:
    """Whether `new` names what `old` holds and something else besides: a change that says
    what it replaced ("Picked up the Nissan, the Renault went for scrap")."""
    before, after = _names(old), _names(new)
    return bool(before & after) and bool(after - before)


def _of_the_past(slots: list[SlotRow], text: str) -> bool:
    """Whether `text` names only values the slots held before and none holds now."""
    names = _names(text)
    if not names:
        return False
    now = set().union(*(_names(s.text) for s in slots))
    before = set().union(*(_names(h.text) for s in slots for h in s.history))
    return names <= before and not names & now


# days and months date a statement; they are no value of it ("The Ravens play on Sunday")
_DATE_WORDS = """monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december"""
_DATES = set(_DATE_WORDS.split())


def _names(text: str) -> set[str]:
    """Capitalised words past a sentence's first word, and numbers: the names of things."""
    return {
        w.lower()
        for n, w in enumerate(re.findall(r"[\w'-]+", text))
        if (n and w[:1].isupper() and w.lower() not in _FRAME | _DATES) or w.isdigit()
    }


def decay_factor(days: float, half_life_days: float) -> float:
    return math.pow(0.5, days / half_life_days)


def reinforce_read(
    tables: MemoryTables, slot_ids: list[int], now: float, params: GateParams
) -> None:
    """Slots shown to the model at `now`: each one's salience decays to now, then gains the
    read boost (up to max_salience). Adding the boost to the stored value alone would undo
    the decay since the last write or read."""
    tables.touch_slots(
        [
            (
                i,
                min(
                    params.max_salience,
                    stored * decay_factor(max(0.0, now - since) / 86400.0, params.half_life_days)
                    + params.read_boost,
                ),
            )
            for i, stored, since in tables.slot_saliences(slot_ids)
        ],
        now,
    )
