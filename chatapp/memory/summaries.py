"""Rolling summaries: the oldest unsummarised span of a thread is summarised by the model,
in the background after a reply; summaries of summaries keep the top level short.

Each summary records the messages it covers; editing or deleting one of them
makes it stale (a database trigger), and a stale summary is made again.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from chatapp.domain import ChatMessage, GenerationSettings, Message, Role
from chatapp.memory.extraction import content_stems as stems
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SummaryRow
from chatapp.words import SENTENCE

# Asked as a question about the conversation: told to "summarize" a transcript, SmolLM2-135M
# goes on with the dialogue ("User: Thanks, Melissa…", inventing people); asked what the
# conversation was about, it answers in prose ("This conversation is about a dance studio
# startup…"). The reply is cleaned (see `clean`) and never left empty.
PROMPT = (
    "Here is a conversation between a user and an assistant:\n\n{text}\n\n"
    "What was this conversation about? Answer in at most {sentences} sentences. "
    "Keep names, places and dates."
)
FOLD_PROMPT = (
    "Here are summaries of consecutive parts of a conversation between a user and an "
    "assistant:\n\n{text}\n\n"
    "What was the whole conversation about? Answer in at most {sentences} sentences. "
    "Keep names, places and dates."
)
SYSTEM = "You write short, factual summaries."
SETTINGS = GenerationSettings(
    temperature=0.0, top_p=1.0, top_k=1, min_p=0.0, repeat_penalty=1.15, max_tokens=160
)


@dataclass(frozen=True)
class SummaryParams:
    keep_recent: int = 24  # messages never summarised (the recent window lives there)
    span: int = 16  # messages per level-0 summary
    fold: int = 4  # this many summaries of one level make one of the next


@dataclass(frozen=True)
class SummaryJob:
    thread_id: int
    level: int
    first_depth: int
    last_depth: int
    message_ids: list[int]
    source_text: str
    supersedes: list[int]
    replaces: int | None = None  # a stale summary this one rebuilds


def next_job(
    store: Store, thread_id: int, params: SummaryParams | None = None
) -> SummaryJob | None:
    """The next summary worth making, or None: a stale one first, then a fold, then a new span."""
    p = params or SummaryParams()
    tables = MemoryTables(store)
    current = tables.summaries(thread_id)
    # a stale summary of summaries (a message under it was edited or deleted) is unfolded:
    # the summaries it folded are current again, the stale one among them is made again
    # below, and they are folded anew (before, the range lost its summary for good)
    while folded := [s for s in current if s.stale and s.level > 0]:
        tables.unfold_summary(max(folded, key=lambda s: s.level))
        current = tables.summaries(thread_id)
    for s in current:
        if s.stale and s.level == 0:
            msgs = store.path(thread_id, s.first_depth, s.last_depth + 1)
            if msgs:
                return _message_job(thread_id, msgs, replaces=s.id)
    level0 = [s for s in current if s.level == 0 and not s.stale]
    by_level: dict[int, list[SummaryRow]] = {}
    for s in current:
        if not s.stale:
            by_level.setdefault(s.level, []).append(s)
    for level in sorted(by_level):
        group = sorted(by_level[level], key=lambda s: s.first_depth)
        if len(group) > p.fold:
            chosen = group[: p.fold]
            return SummaryJob(
                thread_id,
                level + 1,
                chosen[0].first_depth,
                chosen[-1].last_depth,
                [i for s in chosen for i in s.message_ids],
                "\n".join(s.text for s in chosen),
                [s.id for s in chosen],
            )
    covered = max((s.last_depth for s in current if s.level >= 0), default=-1)
    total = store.path_length(thread_id)
    if total - p.keep_recent - (covered + 1) >= p.span:
        msgs = store.path(thread_id, covered + 1, covered + 1 + p.span)
        return _message_job(thread_id, msgs)
    del level0
    return None


def _message_job(thread_id: int, msgs: list[Message], replaces: int | None = None) -> SummaryJob:
    lines = [f"{'User' if m.role == Role.USER else 'Assistant'}: {m.content}" for m in msgs]
    return SummaryJob(
        thread_id,
        0,
        msgs[0].depth,
        msgs[-1].depth,
        [m.id for m in msgs],
        "\n".join(lines),
        [],
        replaces,
    )


def prompt(job: SummaryJob, char_limit: int = 6000) -> list[ChatMessage]:
    """The request for one summary; a span longer than `char_limit` has each of its lines cut
    to its share, so every message of the span is seen (not only the last ones)."""
    sentences = 3 if job.level == 0 else 4
    lines = job.source_text.split("\n")
    if len(job.source_text) > char_limit:
        share = max(120, char_limit // max(1, len(lines)))
        lines = [line if len(line) <= share else line[:share].rstrip() + "…" for line in lines]
    template = PROMPT if job.level == 0 else FOLD_PROMPT
    return [
        ChatMessage("system", SYSTEM),
        ChatMessage("user", template.format(text="\n".join(lines), sentences=sentences)),
    ]


# a line of dialogue ("User: …", "Gina: …"), the request said back, a heading or a list number
_NOT_SUMMARY = re.compile(
    r"^(?:[\w .'-]{1,30}:|here (?:is|are)\b|conversation\b|summary\b|\*\*|#|\d+[.)]?$)",
    re.IGNORECASE,
)
_FRAME = re.compile(r"\s*\bbetween a user and an assistant\b,?")
_FIRST_PERSON = re.compile(
    r"^(?:i|i'm|i've|i'd|i'll|my|we|we're|our|you|you're|your)\b", re.IGNORECASE
)
# words a summary uses about any conversation: not counted when checking it against the source
_FRAMING = stems(
    """this that conversation user users assistant about between discuss discussed discusses
    discussion talk talked talks explores explored mention mentioned mentions share shared shares
    express expressed expresses highlight highlights focus focused focuses revolve revolves around
    various aspects including also their they them the and with for was were is are has have had
    its it who what how which both other each whole part parts"""
)


def clean(reply: str, source: str, sentences: int) -> str:
    """The model's summary without the dialogue it went on with, prompt echoes, list numbers
    or sentences whose words are mostly not in the source (made up), cut to `sentences`."""
    known = stems(source) - _FRAMING
    kept: list[str] = []
    for piece in SENTENCE.split(reply):
        piece = re.sub(r"^\s*(?:[-*•]+|\d{1,2}[.)])\s*", "", piece).strip()
        if (
            len(piece.split()) < 3
            or piece.endswith("?")
            or _NOT_SUMMARY.match(piece)
            or _FIRST_PERSON.match(piece)
        ):
            continue  # a summary speaks of the user and the assistant, not as them
        own = stems(piece) - _FRAMING
        if not own or len(own & known) * 2 < len(own):
            continue
        kept.append(_FRAME.sub("", piece).strip())
        if len(kept) == sentences:
            break
    return " ".join(kept)


def extractive(job: SummaryJob, sentences: int = 3) -> str:
    """A stand-in when the model's reply had nothing usable: the first statements of the
    span as they were written, or the first sentence of each summary folded (never empty
    for a span with text)."""
    if job.level > 0:
        firsts = [
            SENTENCE.split(line.strip())[0] for line in job.source_text.split("\n") if line.strip()
        ]
        return " ".join(firsts[: sentences + 1])
    picked: list[str] = []
    speaker = "Someone"
    for line in job.source_text.split("\n"):
        who, _, text = line.partition(": ")
        if who in ("User", "Assistant"):
            speaker = f"The {who.lower()}"
        else:
            text = line  # a message's further lines are its writer's
        for piece in SENTENCE.split(text):
            piece = piece.strip()
            if len(piece.split()) >= 4 and not piece.endswith("?"):
                picked.append(
                    f'{speaker} said: "{piece}"'
                )  # reported, so it does not read as the dialogue itself
                break
        if len(picked) == sentences:
            break
    return " ".join(picked) or job.source_text[:300]


def run_job(
    store: Store,
    job: SummaryJob,
    generate: Callable[[list[ChatMessage], GenerationSettings, threading.Event], str],
    cancel: threading.Event,
    model: str | None,
) -> int | None:
    """Summarise with the model and store the result; None when cancelled or empty."""
    reply = generate(prompt(job), SETTINGS, cancel)
    if cancel.is_set() or not job.source_text.strip():
        return None
    sentences = 3 if job.level == 0 else 4
    text = clean(reply, job.source_text, sentences) or extractive(job, sentences)
    tables = MemoryTables(store)
    if job.replaces is not None:
        tables.delete_summary(job.replaces)
    return tables.add_summary(
        job.thread_id,
        job.level,
        job.first_depth,
        job.last_depth,
        job.message_ids,
        text,
        model,
        job.supersedes,
    )
