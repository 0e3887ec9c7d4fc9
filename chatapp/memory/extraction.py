"""Facts by prompt: a model big enough to follow instructions also reads each new user
message and lists the lasting facts it states; they go into the memory slots through
the same gates as the rule-based candidates of `facts` (which still run for every model).

It runs in the background after a reply, before the summaries, and stops when the user
sends again. Small models are not asked: SmolLM2-135M repeats the prompt or invents
facts, so below MIN_PARAMS the rules alone fill the slots. What a model lists is kept
only where most of its words come from the message (a fact the user did not state must
not become a memory), and each message is read once (`fact_reads`).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from chatapp.domain import ChatMessage, GenerationSettings
from chatapp.memory.facts import (
    Candidate,
    about_the_past,
    names_no_value,
    owner_of,
    sentences,
)
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.words import ASCII_WORD, stems

log = logging.getLogger("chatapp.memory")

MIN_PARAMS = 1_000_000_000  # Llama-3.2-1B, Qwen2.5-1.5B and up follow the prompt
RECENT_MESSAGES = 4  # the newest unread user messages read after an exchange (not a whole import)
MAX_FACTS = 5  # per message
SETTINGS = GenerationSettings(
    temperature=0.0, top_p=1.0, top_k=1, min_p=0.0, repeat_penalty=1.1, max_tokens=160
)

SYSTEM = (
    "You read a chat message and list the lasting facts its writer states. You never add anything."
)
PROMPT = (
    "Message from the user:\n<<<\n{text}\n>>>\n\n"
    "List the lasting facts the user states about themselves or the people, pets and places in "
    "their life: name, age, home, work, family, health, likes and dislikes, plans with their "
    "dates. "
    "Skip greetings, questions, requests and passing moods. Write one fact per line, as a short "
    'sentence in the user\'s own words, starting with "I" or "My". If there are none, write NONE.'
)

_BULLET = re.compile(r"^\s*(?:[-*•·]+|\d{1,2}[.)])\s*")
_NOTHING = re.compile(
    r"^(none|no (lasting )?facts|there are no|the message (does not|doesn't))", re.IGNORECASE
)
_FACT = re.compile(r"^(?:i|i'm|i've|i'd|i'll|my|we|we're|we've|our)\s+\w", re.IGNORECASE)
_COMMON = {
    "i",
    "im",
    "me",
    "my",
    "mine",
    "we",
    "our",
    "us",
    "a",
    "an",
    "and",
    "or",
    "of",
    "to",
    "in",
    "on",
    "at",
    "for",
    "with",
    "from",
    "by",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "has",
    "have",
    "had",
    "their",
    "they",
    "them",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "as",
    "about",
    "who",
    "whom",
    "which",
    "what",
    "when",
    "where",
    "also",
    "not",
}


def worth_asking(n_params: int, min_params: int | None = None) -> bool:
    """Whether a model of this size is asked for facts; one of unknown size (0: a server)
    is not."""
    return n_params > 0 and n_params >= (MIN_PARAMS if min_params is None else min_params)


def prompt(text: str, char_limit: int = 4000) -> list[ChatMessage]:
    return [
        ChatMessage("system", SYSTEM),
        ChatMessage("user", PROMPT.format(text=text[:char_limit])),
    ]


def content_stems(text: str) -> set[str]:
    return stems(text, _COMMON, 2, ASCII_WORD)


def parse(reply: str, message: str, limit: int = MAX_FACTS) -> list[str]:
    """The facts of a model's list that the message backs: at least half of each fact's
    words (cut to five letters, common words aside) must be in the message."""
    source = content_stems(message)
    out: list[str] = []
    seen: set[str] = set()
    for raw in reply.splitlines():
        line = _BULLET.sub("", raw).strip().strip('"').strip()
        if not line or _NOTHING.match(line) or line.endswith(("?", ":")):
            continue
        if not _FACT.match(line):
            continue  # a heading, a remark, or the prompt said back
        words = line.split()
        if not 3 <= len(words) <= 30:
            continue
        own = content_stems(line)
        if not own or len(own & source) * 2 < len(own):
            continue
        line = line if line[-1] in ".!" else line + "."
        if line.lower() in seen:
            continue
        seen.add(line.lower())
        out.append(line)
        if len(out) == limit:
            break
    return out


def apart(listed: list[str]) -> list[str]:
    """A model's facts one attribute each, as the rules make them ("I live in Lyon and work as
    a baker" is two), without the changes that name no value ("We moved last week")."""
    return [
        part
        for fact in listed
        for part in sentences(fact)
        if not names_no_value(part) and not about_the_past(part) and len(part.split()) > 1
    ]


def read_new_messages(
    store: Store,
    thread_id: int,
    generate: Callable[[list[ChatMessage], GenerationSettings, threading.Event], str],
    write: Callable[[int, list[Candidate], float], None],
    cancel: threading.Event,
    model: str | None,
    limit: int = RECENT_MESSAGES,
) -> int:
    """Ask the model for the facts of the thread's newest unread user messages and write
    them with `write(thread_id, candidates, when)`; the number of facts written. A message
    is marked read only once its facts are written (a cancelled one is read next time)."""
    tables = MemoryTables(store)
    written = 0
    for message_id, text in tables.unread_user_messages(thread_id, limit):
        if cancel.is_set():
            break
        try:
            reply = generate(prompt(text), SETTINGS, cancel)
        except Exception as exc:  # noqa: BLE001 (llama.cpp raises many kinds)
            # marked read (the rules still read it), so a message the model cannot take is not
            # tried again after every exchange
            log.warning("the model could not read message %d for facts: %s", message_id, exc)
            tables.mark_read(message_id, model, 0)
            continue
        if cancel.is_set():
            break
        found = [
            Candidate(f, owner_of(f), message_id, 1.0, n)
            for n, f in enumerate(apart(parse(reply, text)))
        ]
        if found:
            write(thread_id, found, time.time())
        tables.mark_read(message_id, model, len(found))
        written += len(found)
    return written
