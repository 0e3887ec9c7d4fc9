"""The user's own messages as Markdown that shows exactly what was typed.

A pasted list, table or code block should read as one, so the user's messages
are rendered as Markdown too; but plain Markdown changes ordinary typing: lines
typed with Shift+Enter are joined into one, `2*3*4` loses its asterisks to
emphasis and `<b>hi</b>` is taken as HTML. Here every line end outside a code
block becomes a hard break, raw HTML and entities are escaped to literal text,
and an asterisk between two letters or digits stays an asterisk. The transcript
and the HTML/PDF exports both render this, so they agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
_INTRAWORD_STAR = re.compile(r"(?<=[^\W_])\*(?=[^\W_])")


def typed_markdown(text: str) -> str:
    """`text` with its line breaks kept and HTML, entities and in-word asterisks literal
    (code blocks and code spans are left as they are: Markdown shows them verbatim)."""
    return _hard_breaks(text, _literal)


def reply_markdown(text: str) -> str:
    """A model's reply with its single line breaks kept (a poem's lines, an address), as chat
    apps show them; its Markdown (emphasis, lists, tables, code) is otherwise untouched. A
    hard break at the end of a block is ignored by Markdown, so lists and headings read as
    before."""
    return _hard_breaks(text, lambda line: line)


def _hard_breaks(text: str, literal: Callable[[str], str]) -> str:
    """Every line end outside a code block made a hard break; `literal` applied to those
    lines."""
    out: list[str] = []
    fence: str | None = None
    lines = text.split("\n")
    for number, line in enumerate(lines):
        opening = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            out.append(line)
            continue
        last = number == len(lines) - 1
        out.append(literal(line) + ("" if last or not line.strip() else "  "))
    return "\n".join(out)


def _literal(line: str) -> str:
    """Escape outside code spans: `<` and `&` (no HTML, no entities), in-word `*`."""
    parts: list[str] = []
    at = 0
    for span in _CODE_SPAN.finditer(line):
        parts.append(_escape(line[at : span.start()]))
        parts.append(span.group())
        at = span.end()
    parts.append(_escape(line[at:]))
    return "".join(parts)


def _escape(text: str) -> str:
    text = text.replace("\\<", "\\\\<").replace("<", "\\<").replace("&", "\\&")
    return _INTRAWORD_STAR.sub(r"\\*", text)
