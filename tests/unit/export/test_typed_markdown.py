"""The user's own messages show what was typed, in the window and in HTML/PDF exports alike
(review items 11/12: Markdown joined Shift+Enter lines, ate `2*3*4`'s asterisks and `<b>`),
and every view names who wrote a message alike (item 20)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from chatapp.domain import Role
from chatapp.export import writer
from chatapp.store import Store
from chatapp.typed_markdown import typed_markdown

TYPED = [
    "line one\nline two",
    "2*3*4 and a_b_c",
    "<b>hi</b> &amp; <script>x</script>",
    "first\n\nsecond paragraph\nits second line",
]


class Text(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.inside: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag == "p" and dict(attrs).get("class") == "who":
            self.inside.append("who")

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "p" and self.inside:
            self.inside.pop()

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if not self.inside:
            self.parts.append(data)


@pytest.mark.parametrize("typed", TYPED)
def test_the_html_export_shows_what_was_typed(tmp_path: Path, typed: str) -> None:
    store = Store.open(tmp_path / "t.sqlite3")
    t = store.create_thread("typed")
    store.add_message(t.id, Role.USER, typed)
    path = tmp_path / "t.html"
    writer.export_threads(store, [t.id], "html", path)
    page = path.read_text(encoding="utf-8")
    body = page[page.index("<body") :]
    shown = "".join(Text(body).parts)
    for line in typed.split("\n"):
        if line:
            assert f"{line}\n" in shown or shown.rstrip().endswith(line), (line, shown)
    assert "<script>x" not in page and "<b>hi" not in page  # literal, escaped
    store.close()


def test_markdown_still_works_in_typed_text() -> None:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    assert "<strong>bold</strong>" in md.render(typed_markdown("**bold** text"))
    assert "<li>a</li>" in md.render(typed_markdown("- a\n- b"))
    code = "```\nx = 2*3*4\n<b>\n```"
    assert typed_markdown(code) == code  # code blocks are shown verbatim already


@pytest.mark.parametrize("typed", TYPED + ["**bold** `a<b*c`", "```\n<b>2*3\n```\nafter"])
def test_the_window_and_the_export_agree(qapp, tmp_path: Path, typed: str) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFont

    from chatapp.export.html_format import message_html
    from chatapp.ui.transcript import MessageDelegate

    store = Store.open(tmp_path / "a.sqlite3")
    msg = store.add_message(store.create_thread("t").id, Role.USER, typed)
    in_window = MessageDelegate()._document(msg, 600, QFont()).toPlainText()
    exported = "".join(Text(message_html(msg)).parts)
    assert [ln for ln in in_window.split("\n") if ln.strip()] == [
        ln for ln in exported.split("\n") if ln.strip()
    ]
    store.close()


def test_every_view_names_the_speaker_alike(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    from chatapp.export.html_format import message_html
    from chatapp.ui.transcript import TranscriptModel, _header

    store = Store.open(tmp_path / "w.sqlite3")
    t = store.create_thread("names")
    cases = [
        (Role.SYSTEM, None, "System"),
        (Role.USER, None, "You"),
        (Role.ASSISTANT, "SmolLM2", "SmolLM2"),
        (Role.ASSISTANT, None, "Assistant"),
    ]
    for role, model, _name in cases:
        store.add_message(t.id, role, f"from {role.value}", model=model)
    md = writer.render(store, [t.id], "md")
    txt = writer.render(store, [t.id], "txt")
    transcript = TranscriptModel(store)
    transcript.load_thread(t.id)
    for row, (_role, _model, name) in enumerate(cases):
        msg = transcript.message_at(row)
        assert _header(msg).split("  ·  ")[0] == name
        assert transcript.data(
            transcript.index(row), Qt.ItemDataRole.AccessibleTextRole
        ).startswith(f"{name}: ")
        assert f'<p class="who">{name} · ' in message_html(msg)
        assert f"### {name} — " in md and f"] {name}:" in txt
    store.close()
