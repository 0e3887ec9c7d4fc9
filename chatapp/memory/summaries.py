"""Rolling summaries: the oldest unsummarised span of a thread is summarised by the model,
in the background after a reply; summaries of summaries keep the top level short.

Each summary records the messages it covers; editing or deleting one of them
makes it stale (a database trigger), and a stale summary is made again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from chatapp.domain import ChatMessage, GenerationSettings, Message, Role
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SummaryRow

PROMPT = (
    "Summarize the conversation below in at most {sentences} short sentences. "
    "Keep names, places, dates, numbers and anything the user said about themselves. "
    "Write only the summary."
)
SETTINGS = GenerationSettings(temperature=0.2, top_p=0.9, top_k=40, min_p=0.05, repeat_penalty=1.15, max_tokens=160)


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


def next_job(store: Store, thread_id: int, params: SummaryParams | None = None) -> SummaryJob | None:
    """The next summary worth making, or None: a stale one first, then a fold, then a new span."""
    p = params or SummaryParams()
    tables = MemoryTables(store)
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
                thread_id, level + 1, chosen[0].first_depth, chosen[-1].last_depth,
                [i for s in chosen for i in s.message_ids],
                "\n".join(s.text for s in chosen), [s.id for s in chosen],
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
        thread_id, 0, msgs[0].depth, msgs[-1].depth, [m.id for m in msgs], "\n".join(lines), [], replaces
    )


def prompt(job: SummaryJob, char_limit: int = 6000) -> list[ChatMessage]:
    sentences = 3 if job.level == 0 else 4
    text = job.source_text if len(job.source_text) <= char_limit else job.source_text[-char_limit:]
    return [
        ChatMessage("system", "You write short, factual summaries."),
        ChatMessage("user", PROMPT.format(sentences=sentences) + "\n\n" + text),
    ]


def run_job(
    store: Store,
    job: SummaryJob,
    generate: Callable[[list[ChatMessage], GenerationSettings, threading.Event], str],
    cancel: threading.Event,
    model: str | None,
) -> int | None:
    """Summarise with the model and store the result; None when cancelled or empty."""
    text = generate(prompt(job), SETTINGS, cancel).strip()
    if cancel.is_set() or not text:
        return None
    tables = MemoryTables(store)
    if job.replaces is not None:
        tables.delete_summary(job.replaces)
    return tables.add_summary(
        job.thread_id, job.level, job.first_depth, job.last_depth, job.message_ids, text, model, job.supersedes
    )
