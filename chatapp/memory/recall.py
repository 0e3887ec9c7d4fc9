"""Recall: old messages relevant to the new one, by lexical (FTS5/BM25) and semantic
(sentence embedding) search fused with reciprocal ranks.

Three rankings are fused (RRF, k=10): BM25 over the words of the new message,
cosine similarity of the message embeddings, and the same similarity with 0.8 of
the next message's added (a short reply often carries the meaning of the
turn it answers). The turn after each lexical hit shares in that hit's rank:
the words of a question are in the question, its answer is the next message
("What are your plans for the summer?" → "Researching adoption agencies"). A reply with the
words itself counts once, at the better of the two ranks (see _lift_answers).
Then every hit gains a share (DAY_SHARE) of the mean of its day's three best
fused scores: a topic tends to come up on a day and be talked over, and excerpts
of one day share their date line in the prompt.

The semantic rankings search with the new message's embedding plus twice that of the
message without the words in over 30% of the thread's recent messages (focused_text):
in a thread where every message names who is talking, "What activities does Melanie
do?" was closest to every short "Thanks, Melanie!". That raised the builder's
evidence recall from 87.0% to 89.4% at 2,048 tokens and from 79.4% to 84.6% at 1,024
(the focused text alone: 88.8% and 81.4%; weights 1–3 and thresholds 0.1–0.5 of the
messages: 88.7–89.9% and 82.7–84.3%). With it, a larger share of the next message
(NEXT_WEIGHT 0.8, was 0.5) and slots read only when the message attends to them
(slots.py) took it to 90.8% and 84.6% (NEXT_WEIGHT 0.65–1.0: 90.4–90.8%, 83.8–84.8%).

On the LoCoMo development set the lexical "answer follows" share raised the
evidence recall of the whole builder from 81.4% to 86.5% at 2,048 tokens and
from 69.6% to 76.9% at 1,024; the day's share then to 87.3% and 78.9% (shares
0.15–0.6, top 1–5 of the day, a ±4–20 message window instead of the day: all
+0.5 to +2.5; pushing a day's further hits down instead: −4 to −14). PRF query
expansion, other RRF k, more candidates, other weights, shorter date lines, a
learned (logistic) fusion of the same signals and extra query forms (content
words, the question as a statement) gave ±1 point or less; see the memory
issue's notes.

Tried, not kept: vectors for the windows of a long message beyond the 256 word pieces
all-MiniLM-L6-v2 reads, a message scored by the best of its vectors (LongMemEval dev
87.5% → 87.5%, ingest CPU +31%). Of its 34 evidence turns only one is longer than the
window (its answer is in the part the vector reads): the facts lost at 10× are diluted
within messages of 34-127 pieces, not cut off; windows as long as the model reads only
dilute a passing remark again, and can only lift long replies past them.

Sentence vectors (diluted_sentences): a user's sentence holding under a third of its
message's content words, with four of its own, gets a vector, and a message's likeness is
the best of its vectors (3,675 sentence vectors for 4,489 user messages on LongMemEval
dev, 376 for 396 on LoCoMo; the assistant's replies get none). Evidence recall at 2,048
tokens, categories 1-4, before → with: LongMemEval dev at 10× 73.9% → 78.1% (category 1
28.9% → 45.6%), at 1× 86.1% → 86.1%; LoCoMo dev 90.2% → 89.9% (in a row 87.8% → 87.5%).
At 10× the evidence still lost is ranked but left out for room (category 1: 71% → 54%
of its turns), not unranked. The semantic ranking alone (offline, the question's search
vector against every message): evidence turns in its top 100 at 10× 85.3% → 88.2%, in
its top 20 44.1% → 47.1% (1×: 97.1% both, 76.5% → 79.4%). Tried, not kept: the sentence
vectors as an RRF ranking of their own instead of the max (LoCoMo 87.4%, −2.8); a
sentence vector for every message (an earlier session: +1.4 to +4.2 points at 10×, −1 to
−1.5 on LoCoMo).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from chatapp.domain import Message
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.words import SENTENCE, WORD

RRF_K = 10
NEXT_WEIGHT = (
    0.8  # a message is also judged by the reply that follows it (0.5 before the focus, below)
)
ANSWER_SHARE = (
    1.0  # the message after a lexical hit ranks as that hit does (0.7: 1 point lower @1024)
)
CANDIDATES = 100
DAY_SHARE = 0.3  # of the mean of the day's three best hits, added to each of its hits
COMMON_SHARE = (
    0.3  # a word in more of the thread's recent messages than this tells none of them apart
)
COMMON_MIN_MESSAGES = 40  # fewer recent messages say too little about which words are common
FOCUS_WEIGHT = 2.0  # the new message without its common words, against the whole message (1)
# a sentence of a user's message gets a vector of its own when it holds less than this share of
# the message's content words: a mean-pooled vector keeps about share/sqrt(share² + (1-share)²)
# of an unrelated rest's sentence's likeness, under half below a third (measured: 0.46 alone,
# 0.15 in its message), and ...
SENTENCE_SHARE = 1 / 3
# ... when it has at least this many content words: a reaction or a greeting has up to three
# ("Caroline: Wow, that's great!", "Thanks so much, Mel!") and matches any question on them;
# a remark worth finding names a thing and says something of it ("planted 12 tomato saplings")
SENTENCE_WORDS = 4

STOP_WORDS = {
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "ever",
    "also",
    "really",
    "much",
    "many",
    "get",
    "got",
    "like",
    "one",
}


@dataclass(frozen=True)
class Hit:
    message_id: int
    depth: int
    score: float


def words(text: str) -> set[str]:
    return set(WORD.findall(text.lower()))


def content_words(text: str) -> list[str]:
    return [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1]


def diluted_sentences(text: str) -> list[str]:
    """The sentences of a message that its one vector blurs: a passing remark ("I just planted
    12 new tomato saplings today") inside a message about something else. Those holding most
    of the message are what its vector already says, and those with too few words of their
    own say nothing apart from it (SENTENCE_SHARE, SENTENCE_WORDS)."""
    total = len(content_words(text))
    out = []
    for sentence in SENTENCE.split(text):
        sentence = (sentence or "").strip()
        own = len(content_words(sentence))
        if own >= SENTENCE_WORDS and own < SENTENCE_SHARE * total:
            out.append(sentence)
    return out


def focused_text(text: str, recent_words: Sequence[set[str]]) -> str | None:
    """The new message without the words in more than COMMON_SHARE of the recent messages
    (the names of who is talking, a project every message is about), or None when it has
    none or nothing else. The semantic ranking searches with both: a sentence embedding
    weighs every word, and a name in a question made every short message with that name
    look alike ("Glad it helped, Melanie!" for "What activities does Melanie do?").
    BM25 needs no help: such words have next to no weight there."""
    if len(recent_words) < COMMON_MIN_MESSAGES:
        return None
    limit = COMMON_SHARE * len(recent_words)
    common = {
        w
        for w in words(text)
        if w not in STOP_WORDS and len(w) > 1 and sum(1 for s in recent_words if w in s) > limit
    }
    if not common:
        return None
    kept = " ".join(token for token in text.split() if not words(token) & common)
    return kept if words(kept) - STOP_WORDS else None


def query_vector(
    embed: Callable[[str], np.ndarray | None], text: str, focused: str | None
) -> np.ndarray | None:
    """The embedding searched with: the message's, plus FOCUS_WEIGHT times its focused
    text's, normalised (None while no embedding model is at hand)."""
    vector = embed(text)
    if vector is None:
        return None
    vector = np.asarray(vector, dtype=np.float32)
    extra = embed(focused) if focused else None
    if extra is not None:
        vector = vector + FOCUS_WEIGHT * np.asarray(extra, dtype=np.float32)
        vector /= max(float(np.linalg.norm(vector)), 1e-8)
    return vector


def lexical_query(text: str) -> str:
    words = [w for w in WORD.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


class EmbeddingCache:
    """A thread's message vectors, checked against the store when their number changed;
    then only the vectors it lacks are read (a year's thread holds megabytes of them, and
    each exchange adds two)."""

    def __init__(self, tables: MemoryTables) -> None:
        self.tables = tables
        self._cache: dict[int, tuple[list[int], np.ndarray, np.ndarray]] = {}
        # per thread: each looked-at message's sentence vectors, the (rows, last id) they were
        # read at, and for the ids of get() they were placed for: (owners, matrix)
        self._rows: dict[int, tuple[dict[int, np.ndarray], tuple[int, int]]] = {}
        self._placed: dict[int, tuple[list[int], tuple[int, int], np.ndarray, np.ndarray]] = {}

    def get(self, thread_id: int) -> tuple[list[int], np.ndarray, np.ndarray]:
        """(ids, depths, matrix) of the thread's shown messages."""
        cached = self._cache.get(thread_id)
        if cached is None or len(cached[0]) != self.tables.embedding_count(thread_id):
            known = dict(zip(cached[0], cached[2])) if cached is not None else {}
            ids, depths = self.tables.embedded(thread_id)
            known.update(self.tables.vectors([mid for mid in ids if mid not in known]))
            shown = [(mid, depth) for mid, depth in zip(ids, depths) if mid in known]
            matrix = (
                np.vstack([known[mid] for mid, _d in shown]).astype(np.float32, copy=False)
                if shown
                else np.zeros((0, 0), dtype=np.float32)
            )
            cached = (
                [mid for mid, _d in shown],
                np.asarray([d for _m, d in shown], dtype=np.int64),
                matrix,
            )
            self._cache[thread_id] = cached
        return cached

    def remark(self, message: Message, query_vector: np.ndarray) -> str | None:
        """The sentence of `message` (diluted_sentences) whose vector is closer to the query
        than the message's own vector, the closest of them; None when there is none (or the
        thread's sentence vectors were not read in this build's recall)."""
        rows = self._rows.get(message.thread_id, ({}, (0, 0)))[0].get(message.id)
        if rows is None or not len(rows):
            return None
        texts = diluted_sentences(message.content)
        if len(texts) != len(rows):  # made from another text: wait for the new ones
            return None
        query = np.asarray(query_vector, dtype=np.float32)
        sims = rows @ query
        best = int(np.argmax(sims))
        ids, _depths, matrix = self.get(message.thread_id)
        try:
            whole = float(matrix[ids.index(message.id)] @ query)
        except ValueError:
            whole = -1.0
        return texts[best] if float(sims[best]) > whole else None

    def sentences(self, thread_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(owners, matrix): the thread's sentence vectors (diluted_sentences) and for each row
        the position of its message in get()'s ids. Only rows made since the last read are
        read, unless some were dropped or replaced meanwhile (an edit in place, a deletion)."""
        ids = self.get(thread_id)[0]
        state = self.tables.sentence_state(thread_id)
        rows, seen = self._rows.get(thread_id, ({}, (0, 0)))
        if state != seen:
            new, last = self.tables.sentence_vectors_after(thread_id, seen[1])
            if seen[0] + len(new) != state[0]:
                new, last = self.tables.sentence_vectors_after(thread_id, 0)
                rows = {}
            rows.update(new)
            seen = (state[0], last)
            self._rows[thread_id] = (rows, seen)
        placed = self._placed.get(thread_id)
        if placed is None or placed[0] is not ids or placed[1] != seen:
            owners: list[int] = []
            blocks: list[np.ndarray] = []
            for pos, mid in enumerate(ids):
                block = rows.get(mid)
                if block is not None and len(block):
                    owners.extend([pos] * len(block))
                    blocks.append(block)
            matrix = (
                np.vstack(blocks).astype(np.float32, copy=False)
                if blocks
                else np.zeros((0, 0), dtype=np.float32)
            )
            placed = (ids, seen, np.asarray(owners, dtype=np.int64), matrix)
            self._placed[thread_id] = placed
        return placed[2], placed[3]


def recall(
    store: Store,
    thread_id: int,
    text: str,
    query_vector: np.ndarray | None,
    before_depth: int,
    embeddings: EmbeddingCache | None,
) -> list[Hit]:
    """Shown messages with depth < before_depth, best first (lexical and semantic ranks fused)."""
    fused: dict[int, float] = {}
    depths: dict[int, int] = {}
    query = lexical_query(text)
    if query and before_depth > 0:
        rows = store.fts_hits(thread_id, query, before_depth=before_depth, limit=CANDIDATES)
        for rank, (mid, depth) in enumerate(rows):
            fused[mid] = fused.get(mid, 0.0) + 1.0 / (RRF_K + rank)
            depths[mid] = depth
        _lift_answers(store, thread_id, rows, before_depth, fused, depths)
    if query_vector is not None and embeddings is not None and before_depth > 0:
        ids, id_depths, matrix = embeddings.get(thread_id)
        if ids:
            allowed = id_depths < before_depth
            if allowed.any():
                query_vec = np.asarray(query_vector, dtype=np.float32)
                sims = matrix @ query_vec
                # a message is as close as the best of its vectors (a passing remark's own)
                owners, sentence_matrix = embeddings.sentences(thread_id)
                if len(owners):
                    best = np.full(len(ids), -np.inf, dtype=np.float32)
                    np.maximum.at(best, owners, sentence_matrix @ query_vec)
                    sims = np.maximum(sims, best)
                # a second ranking lets an answer lift the turn it answers
                with_next = sims + NEXT_WEIGHT * np.concatenate([sims[1:], [0.0]]).astype(
                    np.float32
                )
                for ranking in (sims, with_next):
                    ranking = ranking.copy()
                    ranking[~allowed] = -np.inf
                    top = np.argsort(-ranking)[:CANDIDATES]
                    for rank, idx in enumerate(top):
                        if not np.isfinite(ranking[idx]):
                            break
                        mid = ids[int(idx)]
                        fused[mid] = fused.get(mid, 0.0) + 1.0 / (RRF_K + rank)
                        depths[mid] = int(id_depths[int(idx)])
    _lift_days(store, fused)
    hits = [Hit(mid, depths[mid], score) for mid, score in fused.items()]
    hits.sort(key=lambda h: (-h.score, -h.depth))
    return hits


def _lift_days(store: Store, fused: dict[int, float]) -> None:
    """Each hit shares in the best hits of its day (the mean of the top three): what was
    said on the day a topic came up is likelier to matter than a lone match elsewhere,
    and excerpts of one day share their date line."""
    if not fused:
        return
    ids = list(fused)
    days = {mid: time.localtime(created)[:3] for mid, created in store.message_times(ids).items()}
    scores: dict[tuple[int, int, int], list[float]] = {}
    for mid, score in fused.items():
        scores.setdefault(days.get(mid, (0, 0, 0)), []).append(score)
    bonus = {day: sum(sorted(v, reverse=True)[:3]) / 3 for day, v in scores.items()}
    for mid in ids:
        fused[mid] += DAY_SHARE * bonus[days.get(mid, (0, 0, 0))]


def _lift_answers(
    store: Store,
    thread_id: int,
    rows: list,
    before_depth: int,
    fused: dict[int, float],
    depths: dict[int, int],
) -> None:
    """The message after each lexical hit (the reply to it) shares in the hit's rank; a reply
    that is a lexical hit itself ranks once, at the better of its own rank and its question's.
    Counted twice, replies that repeat the question's words (an assistant's long answer to
    "Can you suggest wedding venues?") crowded what the user said out of user–assistant
    histories: LongMemEval dev evidence recall 60.4% → 78.9% at 2,048 tokens (LoCoMo dev
    90.8% → 90.6%; counting such replies by their own rank alone, 89.8%)."""
    own = {depth: rank for rank, (_mid, depth) in enumerate(rows)}
    wanted = {
        depth + 1: rank for rank, (_mid, depth) in enumerate(rows) if depth + 1 < before_depth
    }
    if not wanted:
        return
    for mid, depth in store.on_path_at_depths(thread_id, wanted):
        share = ANSWER_SHARE / (RRF_K + wanted[depth])
        if depth in own:  # a lexical hit itself: counted once, at the better of the two ranks
            share = max(0.0, share - 1.0 / (RRF_K + own[depth]))
        fused[mid] = fused.get(mid, 0.0) + share
        depths[mid] = depth
