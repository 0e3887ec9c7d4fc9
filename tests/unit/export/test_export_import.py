"""Exports are opened and checked; imports are all-or-nothing."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.domain import GenerationSettings, MessageStatus, Role
from chatapp.export import writer
from chatapp.export.importers import MAX_BYTES, ImportFailed, import_file
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SlotHistory, SlotRow

HOSTILE = '<script>alert("x")</script> and <img src=x onerror="alert(1)"> **bold** `code`'


def sample_thread(store: Store) -> int:
    t = store.create_thread(
        "Trip & <plans>",
        system_prompt="Be brief.",
        settings=GenerationSettings(temperature=0.3, seed=5),
    )
    u = store.add_message(t.id, Role.USER, HOSTILE, created_at=1_700_000_000)
    a1 = store.add_message(
        t.id,
        Role.ASSISTANT,
        "# Plan\n\n- pack\n- go\n\n```python\nprint('<hi>')\n```",
        model="SmolLM2",
        prompt_tokens=12,
        completion_tokens=30,
        created_at=1_700_000_030,
    )
    store.add_message(
        t.id,
        Role.ASSISTANT,
        "second version",
        parent_id=u.id,
        status=MessageStatus.STOPPED,
        created_at=1_700_000_060,
    )
    store.select_version(a1.id)
    tables = MemoryTables(store)
    tables.save_slot(
        SlotRow(
            None,
            t.id,
            "I live in Lisbon.",
            "user",
            __import__("numpy").ones(4, dtype="float32"),
            1.5,
            True,
            [u.id],
            1.0,
            2.0,
            None,
            attribute="home",
            since=2.0,
            history=[SlotHistory("I live in Porto.", [u.id], 1.0, 2.0)],
        )
    )
    tables.add_summary(t.id, 0, 0, 1, [u.id, a1.id], "They planned a trip.", "SmolLM2")
    return t.id


def export(store: Store, thread_id: int, fmt: str, path: Path) -> Path:
    from chatapp.ui.pdf_export import write_pdf  # the Qt side draws PDFs

    writer.export_threads(store, [thread_id], fmt, path, pdf=write_pdf)
    return path


def test_json_round_trip_is_identical(store: Store, tmp_path: Path) -> None:
    first = export(store, sample_thread(store), "json", tmp_path / "a.json")
    other = Store.open(tmp_path / "other.sqlite3")
    [new_id] = import_file(other, first)
    second = export(other, new_id, "json", tmp_path / "b.json")
    assert json.loads(first.read_text()) == json.loads(second.read_text())
    got = other.path(new_id)
    assert got[0].content == HOSTILE
    assert got[1].status == MessageStatus.COMPLETE and got[1].prompt_tokens == 12
    assert other.message(got[1].id).version_count == 2
    (slot,) = MemoryTables(other).slots(new_id)
    assert slot.pinned and slot.attribute == "home" and slot.since == 2.0
    assert [(h.text, h.sources, h.since, h.until) for h in slot.history] == [
        ("I live in Porto.", [got[0].id], 1.0, 2.0)
    ]
    assert MemoryTables(other).summaries(new_id)[0].message_ids == [got[0].id, got[1].id]
    other.close()


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    contents=st.lists(texts, min_size=0, max_size=12),
    branch=st.lists(st.integers(min_value=0, max_value=11), max_size=4),
    title=texts,
)
def test_round_trip_of_arbitrary_threads(tmp_path_factory, contents, branch, title) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("rt")
    store = Store.open(tmp / "a.sqlite3")
    t = store.create_thread(title)
    ids = []
    for i, text in enumerate(contents):
        ids.append(
            store.add_message(
                t.id, Role.USER if i % 2 == 0 else Role.ASSISTANT, text, created_at=1000.5 + i
            ).id
        )
    for b in branch:
        if b < len(ids):
            m = store.message(ids[b])
            store.add_message(
                t.id, m.role, m.content + " v2", parent_id=m.parent_id, created_at=5000.25 + b
            )
    first = export(store, t.id, "json", tmp / "a.json")
    other = Store.open(tmp / "b.sqlite3")
    [new_id] = import_file(other, first)
    second = export(other, new_id, "json", tmp / "b.json")
    assert first.read_text() == second.read_text()
    store.close()
    other.close()


def test_huge_message_round_trips(store: Store, tmp_path: Path) -> None:
    t = store.create_thread("big")
    store.add_message(t.id, Role.USER, "é" * 2_000_000)
    first = export(store, t.id, "json", tmp_path / "a.json")
    [new_id] = import_file(store, first)
    assert store.path(new_id)[0].content == "é" * 2_000_000


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        self.text.append(data)


def test_html_escapes_hostile_text_and_needs_no_network(store: Store, tmp_path: Path) -> None:
    path = export(store, sample_thread(store), "html", tmp_path / "t.html")
    parsed = _Collector()
    parsed.feed(path.read_text())
    tags = [t for t, _a in parsed.tags]
    assert "script" not in tags and "img" not in tags
    assert all("onerror" not in attrs for _t, attrs in parsed.tags)
    assert not any(
        v and ("http:" in v or "https:" in v or v.startswith("//"))
        for _t, a in parsed.tags
        for v in a.values()
    )
    text = "".join(parsed.text)
    assert '<script>alert("x")</script>' in text  # shown as text
    assert "print('<hi>')" in text and "pre" in tags and "ul" in tags
    assert "Trip & <plans>" in text


def test_markdown_and_text_keep_roles_times_and_code(store: Store, tmp_path: Path) -> None:
    thread_id = sample_thread(store)
    md = export(store, thread_id, "md", tmp_path / "t.md").read_text()
    assert md.startswith("# Trip & <plans>")
    assert "### You — 2023-11-14" in md and "### SmolLM2 — 2023-11-14" in md
    assert "```python\nprint('<hi>')\n```" in md
    txt = export(store, thread_id, "txt", tmp_path / "t.txt").read_text()
    assert "System prompt: Be brief." in txt and HOSTILE in txt


def test_pdf_opens_and_holds_the_text(qapp, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from pypdf import PdfReader

    t = store.create_thread("PDF thread")
    for i in range(60):
        store.add_message(
            t.id,
            Role.USER if i % 2 == 0 else Role.ASSISTANT,
            f"Line number {i} about sailing boats.",
        )
    path = export(store, t.id, "pdf", tmp_path / "t.pdf")
    reader = PdfReader(str(path))
    assert len(reader.pages) >= 2  # paginated
    text = " ".join(
        " ".join(page.extract_text() for page in reader.pages).split()
    )  # pypdf puts tabs between words
    assert "PDF thread" in text and "Line number 0 about" in text and "Line number 59" in text


def test_chatgpt_export_branches_become_versions(store: Store, tmp_path: Path) -> None:
    def node(i, parent, role, text, children, t):  # type: ignore[no-untyped-def]
        message = (
            None
            if role is None
            else {
                "author": {"role": role},
                "content": {"content_type": "text", "parts": [text]},
                "create_time": t,
                "metadata": {"model_slug": "gpt-4o"} if role == "assistant" else {},
            }
        )
        return {"id": i, "parent": parent, "children": children, "message": message}

    conv = {
        "title": "Branching",
        "create_time": 1_690_000_000.0,
        "update_time": 1_690_000_500.0,
        "current_node": "a2",
        "mapping": {
            "root": node("root", None, None, "", ["sys"], 0),
            "sys": node("sys", "root", "system", "You are ChatGPT", ["u1"], 1_690_000_000.0),
            "u1": node("u1", "sys", "user", "Hello?", ["a1", "a2"], 1_690_000_010.0),
            "a1": node("a1", "u1", "assistant", "First answer", [], 1_690_000_020.0),
            "a2": node("a2", "u1", "assistant", "Second answer", [], 1_690_000_030.0),
        },
    }
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conv]))
    [thread_id] = import_file(store, path)
    shown = store.path(thread_id)
    assert [m.content for m in shown] == ["Hello?", "Second answer"]
    assert shown[1].version_count == 2 and shown[1].model == "gpt-4o"
    assert shown[0].created_at == 1_690_000_010.0  # original times kept
    assert store.thread(thread_id).title == "Branching"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "chatapp-export", "version": 1, "threads": [', "not valid JSON"),
        ('{"format": "chatapp-export", "version": 1, "threads": {}}', "threads must be a list"),
        ('{"format": "chatapp-export", "version": 99, "threads": []}', "newer chatapp"),
        (
            (
                '{"format": "chatapp-export", "version": 1, '
                '"threads": [{"title": 5, "system_prompt": "", '
                '"messages": [], "created_at": 1}]}'
            ),
            "threads[0].title must be text",
        ),
        (
            (
                '{"format": "chatapp-export", "version": 1, '
                '"threads": [{"title": "ok", "system_prompt": "", '
                '"created_at": 1, "messages": [{"id": 1, "parent": 7, "role": "user", '
                '"content": "x", "created_at": 1}]}]}'
            ),
            "parent must name an earlier message",
        ),
        ('{"hello": "world"}', "neither a chatapp export"),
    ],
)
def test_malformed_files_are_refused_and_import_nothing(
    store: Store, tmp_path: Path, content: str, message: str
) -> None:
    store.create_thread("existing")
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ImportFailed, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_file(store, path)
    assert [t.title for t in store.threads()] == ["existing"]


def test_a_bad_thread_in_the_middle_imports_nothing(store: Store, tmp_path: Path) -> None:
    good = {
        "title": "good",
        "system_prompt": "",
        "created_at": 1,
        "messages": [{"id": 1, "parent": None, "role": "user", "content": "hi", "created_at": 1}],
    }
    bad = {
        "title": "bad",
        "system_prompt": "",
        "created_at": 1,
        "messages": [{"id": 1, "parent": None, "role": "robot", "content": "hi", "created_at": 1}],
    }
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"format": "chatapp-export", "version": 1, "threads": [good, bad]}))
    with pytest.raises(ImportFailed, match=r"threads\[1\].messages\[0\].role"):
        import_file(store, path)
    assert store.threads() == []


def test_a_huge_file_is_refused_before_reading(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: no gigabyte is written
    with pytest.raises(ImportFailed, match="imports files up to"):
        import_file(store, path)


def test_failed_write_leaves_no_partial_file(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    thread_id = sample_thread(store)
    target = tmp_path / "out.json"
    target.write_text("the old export")
    real_fsync = os.fsync

    def full_disk(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(writer.ExportFailed, match="disk is full"):
        writer.export_threads(store, [thread_id], "json", target)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert target.read_text() == "the old export"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.json")] == []
    with pytest.raises(writer.ExportFailed, match="does not exist"):
        writer.export_threads(store, [thread_id], "md", tmp_path / "missing" / "x.md")


def test_slots_with_a_missing_or_damaged_key_are_kept_and_keyed_again(
    store: Store, tmp_path: Path
) -> None:
    import numpy as np

    from chatapp.memory.embedder import shared_embedder
    from chatapp.memory.service import MemoryService

    path = export(store, sample_thread(store), "json", tmp_path / "a.json")
    data = json.loads(path.read_text())
    slot = data["threads"][0]["slots"][0]
    damaged = dict(slot, text="My sister Eva lives in Porto.", key="not base64!")
    del slot["key"]  # a note written by hand in another program, say
    data["threads"][0]["slots"].append(damaged)
    path.write_text(json.dumps(data))
    other = Store.open(tmp_path / "other.sqlite3")
    [new_id] = import_file(other, path)
    slots = MemoryTables(other).slots(new_id)
    assert [s.text for s in slots] == ["I live in Lisbon.", "My sister Eva lives in Porto."]
    assert all(s.pinned and not np.any(s.key) for s in slots)
    embedder = shared_embedder()
    MemoryService(other, embedder.encode, embedder.name).ingest(new_id)
    for s in MemoryTables(other).slots(new_id):
        assert float(s.key @ embedder.encode_one(s.text)) > 0.99
    other.close()
