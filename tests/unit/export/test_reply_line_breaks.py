"""A reply's single line breaks are kept, in the HTML (and so PDF) export as in the window,
as chat apps show them; its Markdown structure reads as before (walkthrough 2, item 16)."""

from __future__ import annotations

import pytest

from chatapp.export.html_format import markdown_to_html
from chatapp.typed_markdown import reply_markdown

POEM = "Roses are red,\nviolets are blue,\nsugar is sweet."

STRUCTURE = [
    "- one\n- two\n- three",
    "1. first\n2. second",
    "# Title\nbody line",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "```python\nx = 1\n\ny = 2\n```",
    "para one\n\npara two",
    "**bold** and *em* and `code`",
]


def test_a_poems_lines_stay_lines_in_the_html() -> None:
    html = markdown_to_html(reply_markdown(POEM))
    assert html.count("<br") == 2
    assert "<br" not in markdown_to_html(POEM)  # what plain Markdown did: one paragraph


@pytest.mark.parametrize("text", STRUCTURE)
def test_markdown_structure_is_unchanged(text: str) -> None:
    assert markdown_to_html(reply_markdown(text)) == markdown_to_html(text)


def test_a_quoted_verse_keeps_its_lines_too() -> None:
    assert "quoted<br />\nmore" in markdown_to_html(reply_markdown("> quoted\n> more"))


def test_code_keeps_its_lines_verbatim() -> None:
    text = "Run:\n```sh\nls  \ncd /\n```\ndone"
    out = reply_markdown(text)
    assert "```sh\nls  \ncd /\n```" in out  # nothing added inside the fence
