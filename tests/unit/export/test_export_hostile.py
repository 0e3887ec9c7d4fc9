"""Exports of hostile content and to hostile targets (issue 22), and the Markdown the
transcript renders in HTML and PDF (issue 19, items 3 and 4). Every file is read back."""

from __future__ import annotations

import os
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from chatapp.domain import Role
from chatapp.export import writer
from chatapp.export.progress import ExportCancelled, Progress
from chatapp.store import Store
from chatapp.timestamps import format_local
from chatapp.ui.pdf_export import write_pdf

MARKDOWN = (
    "Here is the plan:\n\n"
    "| City | Population |\n|---|---:|\n| Lisbon | 545000 |\n| Porto | 232000 |\n\n"
    "> Quoted wisdom\n\n"
    "See [the docs](https://example.org/docs) and [a trap](javascript:alert(1)).\n\n"
    "1. first\n2. second\n   - nested\n\n"
    "```python\nprint('<hi>')\n```\n\n"
    "![a cat](https://example.org/cat.png) <img src=x onerror=alert(1)> ~~gone~~ **bold**"
)


def thread_with_markdown(store: Store) -> int:
    t = store.create_thread("Markdown")
    store.add_message(t.id, Role.USER, "Show me *a table*\nplease", created_at=1_700_000_000)
    store.add_message(t.id, Role.ASSISTANT, MARKDOWN, model="SmolLM2", created_at=1_700_000_060)
    return t.id


class Parsed(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.cells: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, dict(attrs)))
        self.stack.append(tag)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.text.append(data)
        if self.stack and self.stack[-1] in ("td", "th") and data.strip():
            self.cells.append(data.strip())

    def within(self, tag: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag]


def test_html_renders_the_transcripts_markdown_and_stays_safe(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "t.html"
    writer.export_threads(store, [thread_with_markdown(store)], "html", path)
    page = Parsed(path.read_text(encoding="utf-8"))
    tags = {t for t, _a in page.tags}
    assert {
        "table",
        "th",
        "td",
        "blockquote",
        "ol",
        "ul",
        "li",
        "pre",
        "code",
        "a",
        "strong",
        "s",
    } <= tags
    assert page.cells == ["City", "Population", "Lisbon", "545000", "Porto", "232000"]
    assert [a["href"] for a in page.within("a")] == ["https://example.org/docs"]
    text = "".join(page.text)
    assert "[a trap](javascript:alert(1))" in text  # not a link
    assert "[image: a cat]" in text and "<img src=x onerror=alert(1)>" in text  # shown, not loaded
    assert "print('<hi>')" in text and "| City |" not in text and "> Quoted" not in text
    # the escaping guarantees: no script, image, handler or load from anywhere
    assert (
        "script" not in tags and "img" not in tags and "iframe" not in tags and "link" not in tags
    )
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs)
        assert "src" not in attrs
        for name, value in attrs.items():
            if value and name != "href":
                assert "http" not in value and "url(" not in value, (tag, name, value)
    # the user's own message is Markdown as the transcript shows it: emphasis, both lines kept
    assert "Show me <em>a table</em><br />\nplease" in path.read_text(encoding="utf-8")
    assert "Show me a table\nplease" in text


def test_pdf_renders_the_markdown_with_the_header_apart(qapp, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    path = tmp_path / "t.pdf"
    writer.export_threads(store, [thread_with_markdown(store)], "pdf", path, pdf=write_pdf)
    text = "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    when = format_local(1_700_000_000, "%A %d %B %Y, %H:%M")
    at = lines.index(f"You · {when}")  # the header is a line of its own
    # the user's message as the window shows it: "a table" in italics (pypdf reads the
    # italic run as a line of its own), "please" on its own line
    end = lines.index("please", at)
    assert " ".join(lines[at + 1 : end]) == "Show me a table" and end <= at + 3
    for cell in ("City", "Population", "Lisbon", "545000", "Porto", "232000"):
        assert cell in lines  # table cells, not "| Lisbon | 545000 |"
    assert not any("|" in line for line in lines)
    assert "Quoted wisdom" in lines and "print('<hi>')" in lines
    assert (
        "the docs" in lines and "](https://example.org/docs)" not in text
    )  # a link, not its source


def test_control_characters_are_shown_not_written_raw(store: Store, tmp_path: Path) -> None:
    t = store.create_thread("Title \x1b]0;pwned\x07")
    store.add_message(t.id, Role.USER, "red \x1b[31mtext\x1b[0m, bell \x07, back\rover, nul \x00")
    store.add_message(t.id, Role.ASSISTANT, "C1 \x9b31m and \x7f", model="m\x1b")
    for fmt in ("txt", "md", "html"):
        data = writer.render(store, [t.id], fmt)
        assert not any(ord(c) < 32 and c not in "\n\t" or 0x7F <= ord(c) <= 0x9F for c in data), fmt
        assert "red ␛[31mtext␛[0m, bell ␇, back␍over, nul ␀" in data
    Parsed(writer.render(store, [t.id], "html"))  # still well-formed enough to parse


def test_json_keeps_control_characters_exactly(store: Store, tmp_path: Path) -> None:
    """JSON escapes them, so the lossless format keeps them as they were."""
    import json

    t = store.create_thread("x")
    store.add_message(t.id, Role.USER, "a\x1b[31mb")
    data = writer.render(store, [t.id], "json")
    assert "\x1b" not in data
    assert json.loads(data)["threads"][0]["messages"][0]["content"] == "a\x1b[31mb"


# -- targets --------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["md", "pdf"])
def test_devices_folders_and_pipes_are_refused(
    qapp, store: Store, tmp_path: Path, fmt: str
) -> None:  # type: ignore[no-untyped-def]
    t = store.create_thread("x")
    store.add_message(t.id, Role.USER, "hello")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for target, why in (
        (Path("/dev/full"), "not a regular file"),
        (Path("/dev/null"), "not a regular file"),
        (fifo, "not a regular file"),
        (tmp_path, "is a folder"),
    ):
        with pytest.raises(writer.ExportFailed, match=why):
            writer.export_threads(store, [t.id], fmt, target, pdf=write_pdf)
    assert Path("/dev/null").is_char_device() and fifo.is_fifo()
    link = tmp_path / "to-null"
    link.symlink_to("/dev/null")
    with pytest.raises(writer.ExportFailed, match="not a regular file"):
        writer.export_threads(store, [t.id], fmt, link, pdf=write_pdf)
    assert link.is_symlink()


@pytest.mark.parametrize("fmt", ["txt", "pdf"])
def test_a_symlink_is_written_through_and_stays(
    qapp, store: Store, tmp_path: Path, fmt: str
) -> None:  # type: ignore[no-untyped-def]
    t = store.create_thread("x")
    store.add_message(t.id, Role.USER, "through the link")
    real = tmp_path / "real" / f"export.{fmt}"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / f"link.{fmt}"
    link.symlink_to(real)
    writer.export_threads(store, [t.id], fmt, link, pdf=write_pdf)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() != b"old" and real.stat().st_size > 0
    dangling = tmp_path / f"dangling.{fmt}"
    dangling.symlink_to(tmp_path / "real" / f"new.{fmt}")
    writer.export_threads(store, [t.id], fmt, dangling, pdf=write_pdf)
    assert (tmp_path / "real" / f"new.{fmt}").is_file() and dangling.is_symlink()
    assert sorted(p.name for p in real.parent.iterdir()) == [
        f"export.{fmt}",
        f"new.{fmt}",
    ]  # no temp files


def test_a_file_size_limit_is_reported_as_the_output_files_problem(
    store: Store, tmp_path: Path
) -> None:
    import subprocess
    import sys

    t = store.create_thread("big")
    store.add_message(t.id, Role.USER, "x" * 200_000)
    store.close()
    code = (
        "import resource, sys\n"
        "from chatapp.store import Store\n"
        "from chatapp.export import writer\n"
        f"s = Store.open({str(store.db_path)!r})\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))\n"
        "try:\n"
        "    writer.export_threads(s, [1], 'txt', "
        f"__import__('pathlib').Path({str(tmp_path / 'out.txt')!r}))\n"
        "except writer.ExportFailed as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=os.getcwd()
    )
    assert "out.txt could not be written: the disk is full for this file" in out.stdout, out.stderr
    assert not list(tmp_path.glob(".out.txt*"))


def test_the_typed_extension_decides_the_format() -> None:
    assert writer.choose_format("/x/a.html", "md") == ("html", Path("/x/a.html"))
    assert writer.choose_format("/x/a.HTM", "pdf") == ("html", Path("/x/a.HTM"))
    assert writer.choose_format("/x/a.json", None) == ("json", Path("/x/a.json"))
    assert writer.choose_format("/x/notes", "pdf") == ("pdf", Path("/x/notes.pdf"))
    assert writer.choose_format("/x/v1.2", "txt") == ("txt", Path("/x/v1.2.txt"))
    assert writer.choose_format("/x/a", None) == ("md", Path("/x/a.md"))


# -- giant messages in PDF ----------------------------------------------------------


def test_a_giant_message_is_cut_in_the_pdf_with_a_note(qapp, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    from chatapp.ui import pdf_export

    t = store.create_thread("giant")
    store.add_message(t.id, Role.USER, "start " + "word " * 2_000_000 + "THE END")  # 10 MB
    store.add_message(t.id, Role.ASSISTANT, "a normal reply after it")
    out = tmp_path / "out"
    out.mkdir()
    path = out / "g.pdf"
    writer.export_threads(store, [t.id], "pdf", path, pdf=write_pdf)
    reader = PdfReader(str(path))
    first, last = reader.pages[0].extract_text(), reader.pages[-1].extract_text()
    assert "start word" in " ".join(first.split())
    tail = " ".join(last.split())
    assert "more characters of this message are not in the PDF" in tail
    assert "a normal reply after it" in tail and "THE END" not in tail
    assert len(reader.pages) < 200  # bounded: 100,000 characters, not 10 MB
    assert [p.name for p in out.iterdir()] == ["g.pdf"]
    assert pdf_export.MESSAGE_LIMIT == 100_000


def test_a_thread_too_long_for_a_pdf_is_refused_before_any_work(
    qapp, store: Store, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui import pdf_export

    monkeypatch.setattr(pdf_export, "TOTAL_LIMIT", 1000)
    t = store.create_thread("long")
    for i in range(30):
        store.add_message(t.id, Role.USER, f"message {i} " * 10)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(writer.ExportFailed, match="too long for a PDF"):
        writer.export_threads(store, [t.id], "pdf", out / "l.pdf", pdf=write_pdf)
    assert list(out.iterdir()) == []


def test_a_pdf_export_is_cancelled_between_pages_and_leaves_nothing(
    qapp, store: Store, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    t = store.create_thread("pages")
    for i in range(400):
        store.add_message(
            t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, f"Message {i}: " + "text " * 60
        )
    cancel = threading.Event()
    seen: list[float] = []

    def report(fraction: float) -> None:
        seen.append(fraction)
        if fraction > 0.6:  # drawing pages
            cancel.set()

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportCancelled):
        writer.export_threads(
            store, [t.id], "pdf", out / "p.pdf", Progress(report, cancel), pdf=write_pdf
        )
    assert any(0.5 < f < 1.0 for f in seen)  # it was stopped part way through the pages
    assert list(out.iterdir()) == []


def test_bare_urls_become_links_as_in_the_transcript(store: Store, tmp_path: Path) -> None:
    t = store.create_thread("links")
    text = (
        "Read https://example.org/a?b=1. Or www.example.com, not `https://in.code` nor javascript:x"
    )
    store.add_message(t.id, Role.ASSISTANT, text)
    page = Parsed(writer.render(store, [t.id], "html"))
    hrefs = [a["href"] for a in page.within("a")]
    assert hrefs == ["https://example.org/a?b=1", "http://www.example.com"]
    assert "https://in.code" in "".join(page.text)


def test_a_cancel_that_comes_after_the_file_is_written_is_not_reported(
    store: Store, tmp_path: Path
) -> None:
    """Cancel pressed while the file is being written is too late: the export says it is done
    (it once said "cancelled; no file was written" beside the written file)."""
    t = store.create_thread("t")
    store.add_message(t.id, Role.USER, "hello")
    cancel = threading.Event()

    def report(fraction: float) -> None:
        if fraction >= 0.9:  # the writing phase has begun
            cancel.set()

    path = tmp_path / "late.md"
    writer.export_threads(store, [t.id], "md", path, Progress(report, cancel))
    assert cancel.is_set() and path.read_text(encoding="utf-8").count("hello") == 1
