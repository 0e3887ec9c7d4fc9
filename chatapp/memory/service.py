"""Keeping a thread's memory up to date after each exchange (Qt-free; runs on a worker thread).

New messages get their embedding; the user's new messages give candidate facts,
which are written into the thread's memory slots through the gates, and later the
sentences their one vector blurs get vectors of their own (recall.diluted_sentences). A
candidate with names is embedded a second time with them masked
(chatapp.memory.attributes.mask_names): what it is about is read from both, its key is the
sentence as written.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from chatapp.memory import facts
from chatapp.memory.attributes import AttributeModel, mask_names, model_for, says_stop
from chatapp.memory.recall import diluted_sentences
from chatapp.memory.slots import GateParams, SlotBank
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables

log = logging.getLogger("chatapp.memory")

Encode = Callable[[list[str]], np.ndarray]
MAX_PER_MESSAGE = 3  # facts kept from one message
USERS_OWN = {"partner"}
PARTNERS = {"partner", "boyfriend", "girlfriend", "wife", "husband"}


@dataclass
class IngestReport:
    embedded: int = 0
    candidates: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    judged_out: int = 0  # candidates the embedder read as passing talk, not lasting facts
    embedded_replies: int = 0
    sentences: int = 0  # user messages looked at for sentence vectors (recall.diluted_sentences)
    # replies, or user messages for sentence vectors, left for embed_later (ingest's reply_limit)
    replies_waiting: bool = False


class MemoryService:
    def __init__(
        self, store: Store, encode: Encode, model_name: str, gates: GateParams | None = None
    ) -> None:
        self.store = store
        self.tables = MemoryTables(store)
        self.encode = encode
        self.model_name = model_name
        self.gates = gates or GateParams()
        self._attributes: AttributeModel | None = None

    @property
    def attributes(self) -> AttributeModel:
        """The attribute examples' embeddings, made on first use (one encode of ~120 lines)."""
        if self._attributes is None:
            self._attributes = model_for(self.encode)
        return self._attributes

    def ingest(
        self,
        thread_id: int,
        *,
        now: float | None = None,
        batch: int = 256,
        reply_limit: int | None = None,
    ) -> IngestReport:
        """Embed the thread's new messages and write the user's facts into its slots.

        The user's messages go first. `reply_limit`: at most this many of the other messages
        (the assistant's replies, four fifths of the words in user-assistant histories) are
        embedded now, None: all; embed_later does the rest later. Until then search finds
        those replies by their words and by the rank of the message they answer. The
        sentence vectors of the user's messages (recall.diluted_sentences) come after the
        replies, in the same allowance: a message's own vector serves while it is in the
        recent window, where the context shows it whole anyway."""
        report = IngestReport()
        self._key_notes(thread_id)
        while pending := self.tables.missing_embeddings(thread_id, limit=batch, user=True):
            self._ingest_users(thread_id, pending, now, report)
        while reply_limit is None or report.embedded_replies + report.sentences < reply_limit:
            done = report.embedded_replies + report.sentences
            step = batch if reply_limit is None else min(batch, reply_limit - done)
            replies, sentences = self._embed_later(thread_id, step)
            report.embedded += replies
            report.embedded_replies += replies
            report.sentences += sentences
            if replies + sentences < step:
                return report
        report.replies_waiting = bool(
            self.tables.missing_embeddings(thread_id, limit=1, user=False)
            or self.tables.missing_sentence_vectors(thread_id, limit=1)
        )
        return report

    def embed_later(self, thread_id: int, limit: int) -> int:
        """What an ingest leaves for later, up to `limit` messages, oldest first: the other
        messages still without a vector, then the user's messages still to be looked at for
        sentence vectors; returns how many (0: nothing was waiting)."""
        return sum(self._embed_later(thread_id, limit))

    def _embed_later(self, thread_id: int, limit: int) -> tuple[int, int]:
        """(replies embedded, user messages looked at for sentence vectors)."""
        pending = self.tables.missing_embeddings(thread_id, limit=limit, user=False)
        if pending:
            vectors = self.encode([text for _id, text in pending])
            items = [(mid, v) for (mid, _t), v in zip(pending, vectors)]
            self.tables.put_embeddings(self.model_name, items)
        if len(pending) == limit:
            return len(pending), 0
        users = self.tables.missing_sentence_vectors(thread_id, limit=limit - len(pending))
        if users:
            self._embed_sentences(users)
        return len(pending), len(users)

    def _embed_sentences(self, pending: list[tuple[int, str]]) -> None:
        """The vectors of the user's sentences that their message's vector blurs (a passing
        remark in a message about something else); a message with none is marked looked at.
        The user's only: they state the facts asked about later, and the assistant's replies
        hold four fifths of the words (their sentences would cost four times the user's)."""
        found = [(mid, diluted_sentences(text)) for mid, text in pending]
        vectors = self.encode([s for _mid, sentences in found for s in sentences])
        items = []
        at = 0
        for mid, sentences in found:
            items.append((mid, vectors[at : at + len(sentences)]))
            at += len(sentences)
        self.tables.put_sentence_vectors(self.model_name, items)

    def _ingest_users(
        self,
        thread_id: int,
        pending: list[tuple[int, str]],
        now: float | None,
        report: IngestReport,
    ) -> None:
        """The user's messages: their vectors, and the facts they state into the slots."""
        vectors = self.encode([text for _id, text in pending])
        created = self.store.message_times([i for i, _t in pending])
        found: list[facts.Candidate] = []
        for message_id, text in pending:
            found.extend(facts.candidates(text, message_id, by_meaning=True))
        report.embedded += len(pending)
        report.candidates += len(found)
        if found:

            def when(c: facts.Candidate, created: dict[int, float] = created) -> float:
                return now if now is not None else created.get(c.source_id, time.time())

            self._write_facts(thread_id, found, when, report, judge=True)
        items = [(mid, v) for (mid, _t), v in zip(pending, vectors)]
        self.tables.put_embeddings(self.model_name, items)

    def write_facts(
        self, thread_id: int, found: list[facts.Candidate], when: float
    ) -> IngestReport:
        """Facts found elsewhere (the model's extraction prompt) into the thread's slots."""
        report = IngestReport(candidates=len(found))
        self._write_facts(thread_id, found, lambda _c: when, report)
        return report

    def _write_facts(
        self,
        thread_id: int,
        found: list[facts.Candidate],
        when: Callable[[facts.Candidate], float],
        report: IngestReport,
        judge: bool = False,
    ) -> None:
        """`judge`: keep only the candidates the embedder reads as lasting facts about a
        person (not passing talk), at most MAX_PER_MESSAGE per message, the likeliest first.
        The facts a model listed are kept as they are."""
        keys = self.encode([c.text for c in found])
        masked = self._masked(found, keys)
        readings = self.attributes.read(keys, masked)
        # who one's partner is belongs to oneself ("My girlfriend Aisha…" and "I'm seeing
        # Jess now" are one slot), though the sentence is about the partner
        # ("My boyfriend these days is Tariq" reads as no attribute at all: names weaken the
        # likeness; it still says who one's partner is, not what the partner does)
        found = [
            dataclasses.replace(c, owner="user")
            if c.owner in PARTNERS and (r.attribute in USERS_OWN or r.attribute is None)
            else c
            for c, r in zip(found, readings)
        ]
        items = list(zip(found, keys, masked, (r.attribute for r in readings)))
        change_only: set[int] = set()
        if judge:
            best: dict[int, list[tuple[float, int]]] = {}
            for n, (cand, reading) in enumerate(zip(found, readings)):
                if reading.kept(cand.text):
                    best.setdefault(cand.source_id, []).append((-reading.fact, n))
                elif says_stop(cand.text):
                    # "I gave up climbing" reads as passing talk to the judge; it may still
                    # end a value it names, but takes no slot of its own (SlotBank.write)
                    best.setdefault(cand.source_id, []).append((1.0, n))
                    change_only.add(n)
            kept = [n for ranked in best.values() for _s, n in sorted(ranked)[:MAX_PER_MESSAGE]]
            # in the order said: "Handed in my notice as a chef; from Monday I'm a nurse" ends
            # a nurse, though the first clause is the surer fact
            kept.sort(key=lambda n: (found[n].source_id, found[n].position, n))
            report.judged_out += len(found) - len(kept)
            items = [(*items[n], n in change_only) for n in kept]
        else:
            items = [(*item, False) for item in items]
        if not items:
            return
        # the slot bank is read, changed and saved whole; the memory thread (rules) and the
        # engine thread (extraction prompt) both write it, so one at a time
        with self.store._lock:
            self._write_bank(thread_id, items, when, report, self.gates)
            about_user = [item for item in items if item[0].owner == "user"]
            if about_user and self.tables.global_memory():
                shared = dataclasses.replace(self.gates, capacity=self.gates.global_capacity)
                self._write_bank(None, about_user, when, IngestReport(), shared)

    def _masked(self, found: list[facts.Candidate], keys: np.ndarray) -> np.ndarray:
        """The candidates' vectors with their names masked (`mask_names`): a name the
        examples cannot know weakens what the sentence says ("Met someone: Tariq" is 0.37
        like a partner, 0.46 with the name masked). A sentence without names keeps its key."""
        texts = [mask_names(c.text) for c in found]
        todo = [n for n, (c, t) in enumerate(zip(found, texts)) if t != c.text]
        out = np.array(keys, dtype=np.float32, copy=True)
        if todo:
            out[todo] = self.encode([texts[n] for n in todo])
        return out

    def _write_bank(
        self,
        thread_id: int | None,
        items: list[tuple[facts.Candidate, np.ndarray, np.ndarray, str | None, bool]],
        when: Callable[[facts.Candidate], float],
        report: IngestReport,
        gates: GateParams,
    ) -> None:
        """Candidates into one bank: the thread's, or (None) the global one about the user."""
        bank = SlotBank(self.tables.slots(thread_id), gates, self.attributes)
        before = {s.id for s in bank.slots if s.id is not None}
        for cand, key, masked, attribute, change_only in items:
            result = bank.write(
                cand.text,
                cand.owner,
                key,
                [cand.source_id],
                when(cand),
                attribute,
                change_only,
                masked=masked,
            )
            report.actions[result.action] = report.actions.get(result.action, 0) + 1
            if result.evicted is not None and result.evicted.id is not None:
                self.tables.delete_slot(result.evicted.id)
            if result.action == "replace" and result.slot is not None and result.slot.history:
                # a value whose messages were edited away was a mistake corrected, not a change
                latest = result.slot.history[-1]
                if latest.sources and not self.tables.shown_messages(latest.sources):
                    result.slot.history = result.slot.history[:-1]
            if result.slot is not None:
                result.slot.thread_id = thread_id
                self.tables.save_slot(result.slot)
        kept = {s.id for s in bank.slots}
        for gone in before - kept:
            self.tables.delete_slot(gone)

    def add_slot_by_hand(self, thread_id: int | None, text: str, pinned: bool = True) -> None:
        """The user's own note: stored as a pinned slot (never evicted)."""
        _save_note(self.tables, thread_id, text, pinned, self.encode([text])[0])

    def _key_notes(self, thread_id: int) -> None:
        """Notes written while the embedding model was unavailable get their key."""
        keyless = [
            s for s in self.tables.slots(thread_id, include_global=True) if not np.any(s.key)
        ]
        if keyless:
            for slot, key in zip(keyless, self.encode([s.text for s in keyless])):
                slot.key = key
                self.tables.save_slot(slot)


def add_note_without_key(
    store: Store, thread_id: int | None, text: str, pinned: bool = True
) -> None:
    """The user's note when no embedding model can be loaded: kept with a zero key (read
    as unrelated to every message; pinned notes are shown first anyway) until a later
    ingest gives it one."""
    from chatapp.memory.embedder import DIM

    _save_note(MemoryTables(store), thread_id, text, pinned, np.zeros(DIM, dtype=np.float32))


def _save_note(
    tables: MemoryTables, thread_id: int | None, text: str, pinned: bool, key: np.ndarray
) -> None:
    from chatapp.store.memory_tables import SlotRow

    now = time.time()
    tables.save_slot(
        SlotRow(None, thread_id, text, facts.owner_of(text), key, 1.0, pinned, [], now, now, None)
    )
