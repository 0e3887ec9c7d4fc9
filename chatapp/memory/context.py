"""The reply's room in the context window, and fitting a bare prompt into it.

`reply_room` is shared by every road to the model. `fit_recent` serves only a bare prompt
that names no thread (`bench engine`, the engine worker's tests): the system prompt and the
new message always go in, then as many of the latest messages as fit. A thread's context is
made by `memory.builder.ContextBuilder`, which does not use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from chatapp.domain import ChatMessage

MIN_REPLY_ROOM = 64


@dataclass(frozen=True)
class FittedContext:
    messages: list[ChatMessage]
    prompt_tokens: int
    dropped: int  # older messages left out


def reply_room(n_ctx: int, max_tokens: int | None) -> int:
    """Tokens kept free for the reply: the requested maximum, within a quarter of the context."""
    wanted = max_tokens if max_tokens and max_tokens > 0 else n_ctx // 4
    return max(MIN_REPLY_ROOM, min(wanted, n_ctx // 2))


def fit_recent(
    system: ChatMessage | None,
    history: Sequence[ChatMessage],
    count: Callable[[Sequence[ChatMessage]], int],
    budget: int,
) -> FittedContext:
    """Keep the system prompt and the newest messages whose rendered prompt fits `budget`.

    `history` ends with the message being answered. Binary search over how many
    recent messages to keep: the count is monotone in it, and each probe is one
    tokenization of the candidate prompt.
    """
    head = [system] if system is not None and system.content else []
    lo, hi = 1, len(history)  # the newest message is always sent
    best = 1
    best_tokens = count(head + list(history[-1:])) if history else count(head)
    while lo <= hi:
        mid = (lo + hi) // 2
        tokens = count(head + list(history[-mid:]))
        if tokens <= budget:
            best, best_tokens = mid, tokens
            lo = mid + 1
        else:
            hi = mid - 1
    kept = list(history[-best:]) if history else []
    # a chat must not open with an assistant turn; templates may reject it
    while len(kept) > 1 and kept[0].role == "assistant":
        kept = kept[1:]
    if len(kept) != best:
        best_tokens = count(head + kept)
    return FittedContext(head + kept, best_tokens, len(history) - len(kept))
