"""Syntax colouring of fenced code blocks in rendered Markdown (a light, language-agnostic pass)."""

from __future__ import annotations

import re

from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor, QTextDocument, QTextFormat

KEYWORDS = [
    "and",
    "as",
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "def",
    "default",
    "del",
    "do",
    "elif",
    "else",
    "enum",
    "except",
    "export",
    "extends",
    "false",
    "final",
    "finally",
    "fn",
    "for",
    "from",
    "func",
    "function",
    "if",
    "impl",
    "import",
    "in",
    "interface",
    "is",
    "let",
    "match",
    "mod",
    "new",
    "nil",
    "none",
    "not",
    "null",
    "or",
    "package",
    "private",
    "protected",
    "pub",
    "public",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "type",
    "typeof",
    "use",
    "var",
    "void",
    "while",
    "with",
    "yield",
]
_RULES = [
    ("comment", re.compile(r"(#|//).*$|/\*.*?\*/", re.MULTILINE)),
    ("string", re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`[^`]*`")),
    ("number", re.compile(r"\b\d+(?:\.\d+)?\b")),
    ("keyword", re.compile(r"\b(?:" + "|".join(KEYWORDS) + r")\b", re.IGNORECASE)),
]
# a fence left open (a reply stopped or still streaming) runs to the end, as Markdown reads it
_CODE_BLOCK = re.compile(r"^\s*```[^\n]*\n(.*?)(?:(?P<close>^\s*```)|\Z)", re.MULTILINE | re.DOTALL)


def _formats(dark: bool) -> dict[str, QTextCharFormat]:
    colours = {
        "comment": "#7f8c8d" if dark else "#6a737d",
        "string": "#98c379" if dark else "#22863a",
        "number": "#d19a66" if dark else "#005cc5",
        "keyword": "#c678dd" if dark else "#d73a49",
    }
    out = {}
    for name, colour in colours.items():
        fmt = QTextCharFormat()
        fmt.setForeground(QColor(colour))
        if name == "keyword":
            fmt.setFontWeight(QFont.Weight.Bold)
        out[name] = fmt
    return out


def highlight_code(doc: QTextDocument, dark: bool = False) -> int:
    """Colour the code blocks of a document made by setMarkdown; returns how many were found."""
    formats = _formats(dark)
    found = 0
    block = doc.begin()
    while block.isValid():
        if block.blockFormat().hasProperty(
            QTextFormat.Property.BlockCodeFence
        ) or block.blockFormat().hasProperty(QTextFormat.Property.BlockCodeLanguage):
            found += 1
            text = block.text()
            taken = [False] * len(text)
            for name, pattern in _RULES:
                for m in pattern.finditer(text):
                    if any(taken[m.start() : m.end()]):
                        continue
                    for i in range(m.start(), m.end()):
                        taken[i] = True
                    cursor = QTextCursor(block)
                    cursor.setPosition(block.position() + m.start())
                    cursor.setPosition(block.position() + m.end(), QTextCursor.MoveMode.KeepAnchor)
                    cursor.mergeCharFormat(formats[name])
        block = block.next()
    return found


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of a message, for Copy code; an unclosed last one included."""
    return [
        m.group(1).rstrip("\n")
        for m in _CODE_BLOCK.finditer(markdown)
        if m.group("close") or m.group(1).strip()  # an open fence with nothing yet: no block
    ]
