"""A request to the assistant is no fact about anyone: "Tell me about Lisbon." became a memory
slot beside "I live in Lisbon" (walkthrough, defect 7)."""

from __future__ import annotations

import pytest

from chatapp.memory.facts import candidates

REQUESTS = [
    "Tell me about Lisbon.",
    "Please write a poem about my dog Rex.",
    "Give me three dinner ideas for Friday.",
    "Could you summarise the history of Porto.",
    "Help me plan a weekend in Lisbon.",
    "Show me how Python decorators work.",
    "Recommend a few restaurants in Alfama.",
]
FACTS = [
    "I live in Lisbon.",
    "Remember that I'm allergic to peanuts.",
    "My sister Ana teaches history in Porto.",
    "Writing short stories is my favourite hobby.",
    "Showing my photos at the Lisbon gallery was a dream come true for me.",
    "Please suggest a gift for my wife Maria, she loves gardening.",
]


@pytest.mark.parametrize("by_meaning", [False, True])
def test_requests_to_the_assistant_are_not_facts(by_meaning: bool) -> None:
    for text in REQUESTS:
        assert candidates(text, 1, by_meaning=by_meaning) == [], text


@pytest.mark.parametrize("by_meaning", [False, True])
def test_statements_that_open_like_a_request_are_still_facts(by_meaning: bool) -> None:
    for text in FACTS:
        assert [c.text for c in candidates(text, 1, by_meaning=by_meaning)] == [text], text
