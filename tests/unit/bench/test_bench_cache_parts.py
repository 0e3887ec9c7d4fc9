"""bench cache's note of where a prompt first differs from the one before, on prompts rendered
in the default model's ChatML layout."""

from __future__ import annotations

from chatapp.bench.cache import _common_prefix, _part_at
from chatapp.domain import ChatMessage

SYSTEM = (
    "Be brief.\n\nToday is Tuesday 1 December 2026.\n\n"
    "Excerpts from earlier in this conversation:\nOn Monday:\n- User: I like tea.\n\n"
    "What you know about the user and this conversation:\n- My name is Ada."
)


def chatml(messages: list[ChatMessage]) -> str:
    body = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def prompt(system: str = SYSTEM, first: str = "Hello", last: str = "How are you?"):  # type: ignore[no-untyped-def]
    return [
        ChatMessage("system", system),
        ChatMessage("user", first),
        ChatMessage("assistant", "Hi."),
        ChatMessage("user", last),
    ]


def test_the_part_that_changed_is_named() -> None:
    before = chatml(prompt())
    cases = {
        "recall": prompt(SYSTEM.replace("tea", "coffee")),
        "slots": prompt(SYSTEM.replace("Ada", "Eva")),
        "date": prompt(SYSTEM.replace("Tuesday 1", "Wednesday 2")),
        "recent[0]": prompt(first="Good morning"),
        "last message": prompt(last="And the weather?"),
    }
    for part, messages in cases.items():
        assert _part_at(chatml(messages), before, messages) == part
    assert _part_at(before, before, prompt()) == "none"


def test_common_prefix() -> None:
    assert _common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert _common_prefix([], [1]) == 0
    assert _common_prefix([1, 2], [1, 2]) == 2
