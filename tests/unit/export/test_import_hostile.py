"""Hostile and broken imports (issue 22): each gives a one-line message and imports nothing,
or imports every message and leaves a data folder that lists, exports and opens."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from chatapp import cli
from chatapp.export import writer
from chatapp.export.importers import ImportFailed, import_file, import_with_report
from chatapp.store import Store


def chatapp_doc(**thread: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "t",
        "system_prompt": "",
        "created_at": 1_700_000_000.0,
        "messages": [
            {
                "id": 1,
                "parent": None,
                "role": "user",
                "content": "hi",
                "created_at": 1_700_000_000.0,
            }
        ],
    }
    base.update(thread)
    return {"format": "chatapp-export", "version": 1, "threads": [base]}


def message(**fields: Any) -> dict[str, Any]:
    m = {"id": 1, "parent": None, "role": "user", "content": "hi", "created_at": 1_700_000_000.0}
    m.update(fields)
    return m


def node(
    parent: Any, role: str | None, text: Any = "x", children: Any = None, **msg: Any
) -> dict[str, Any]:
    content = {"content_type": "text", "parts": [text]} if isinstance(text, str) else text
    message_ = (
        None
        if role is None
        else {"author": {"role": role}, "content": content, "create_time": 1_690_000_000.0, **msg}
    )
    return {"parent": parent, "children": children or [], "message": message_}


def conversation(mapping: dict[str, Any], **conv: Any) -> dict[str, Any]:
    return {
        "title": "Conv",
        "create_time": 1_690_000_000.0,
        "update_time": 1_690_000_100.0,
        "current_node": None,
        "mapping": mapping,
        **conv,
    }


def write_json(path: Path, data: Any, *, raw: str | None = None) -> Path:
    path.write_text(raw if raw is not None else json.dumps(data), encoding="utf-8")
    return path


def snapshot(store: Store) -> list[tuple]:
    return store._query(
        "SELECT id, title, created_at, updated_at FROM threads ORDER BY id"
    ) + store._query("SELECT id, thread_id, content, created_at FROM messages ORDER BY id")


def assert_refused(store: Store, path: Path, match: str) -> ImportFailed:
    before = snapshot(store)
    with pytest.raises(ImportFailed, match=match) as info:
        import_file(store, path)
    assert "\n" not in info.value.message  # one line
    assert "Traceback" not in str(info.value)
    assert snapshot(store) == before
    return info.value


@pytest.fixture
def store(chatapp_home: Path):  # type: ignore[no-untyped-def]
    """The database of the data folder, so that `chatapp list` reads it too."""
    s = Store.open(chatapp_home / "chatapp.sqlite3")
    yield s
    s.close()


def assert_usable(store: Store, tmp_path: Path) -> None:
    """`chatapp list` and every text export work on every thread."""
    assert cli.main(["list"]) == 0
    for thread in store.threads():
        for fmt in ("md", "txt", "html", "json"):
            writer.export_threads(store, [thread.id], fmt, tmp_path / f"check.{fmt}")


# -- item 1: times -------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [1e20, -1e12, "yesterday", float("inf"), float("nan"), True, None, [1]]
)
def test_a_chatapp_file_with_an_unusable_time_is_refused_by_name(
    store: Store, tmp_path: Path, bad: Any
) -> None:
    store.create_thread("existing")
    for doc, field in (
        (chatapp_doc(updated_at=bad), r"threads\[0\]\.updated_at"),
        (chatapp_doc(created_at=bad), r"threads\[0\]\.created_at"),
        (
            chatapp_doc(messages=[message(created_at=bad)]),
            r"threads\[0\]\.messages\[0\]\.created_at",
        ),
    ):
        path = write_json(tmp_path / "bad.json", doc, raw=json.dumps(doc, allow_nan=True))
        assert_refused(store, path, field + " must be a time")


def test_a_chatgpt_file_with_unusable_times_imports_every_message_with_sound_times(
    store: Store, tmp_path: Path
) -> None:
    mapping = {
        "u": node(None, "user", "first", ["a"], create_time=1e20),
        "a": node("u", "assistant", "second", ["u2"], create_time="yesterday"),
        "u2": node("a", "user", "third", [], create_time=-1e12),
    }
    conv = conversation(mapping, create_time=1e20, update_time=float("nan"), current_node="u2")
    path = write_json(tmp_path / "c.json", None, raw=json.dumps([conv], allow_nan=True))
    report = import_with_report(store, path)
    [thread] = store.threads()
    assert [m.content for m in store.path(thread.id)] == ["first", "second", "third"]
    assert 0 <= thread.created_at <= thread.updated_at < 32503680000
    assert all(0 <= m.created_at < 32503680000 for m in store.path(thread.id))
    assert any("unreadable time" in n for n in report.notes)
    assert_usable(store, tmp_path)


def test_damaged_times_already_in_a_database_are_repaired_when_it_opens(tmp_path: Path) -> None:
    """Databases that earlier imports filled with 1e20 or 'yesterday' open, list and export."""
    from chatapp.store import migrations

    db = tmp_path / "old.sqlite3"
    s = Store.open(db)
    s.close()
    conn = sqlite3.connect(db)
    before = migrations.MIGRATIONS.index(migrations.m007_repair_imported_times)
    conn.execute(f"PRAGMA user_version = {before}")  # as the app left it before
    conn.execute(
        "INSERT INTO threads (title, created_at, updated_at) VALUES ('a', 1e20, 'yesterday')"
    )
    conn.execute(
        "INSERT INTO threads (title, created_at, updated_at) VALUES ('b', 1700000000, -1e12)"
    )
    conn.execute(
        "INSERT INTO messages (thread_id, depth, role, content, created_at, selected_at)"
        " VALUES (1, 0, 'user', 'kept', 'Infinity', 'x')"
    )
    conn.commit()
    conn.close()
    s = Store.open(db)
    threads = {t.title: t for t in s.threads()}
    assert (
        0 <= threads["a"].created_at < 32503680000
        and threads["a"].updated_at == threads["a"].created_at
    )
    assert threads["b"].updated_at == 1_700_000_000
    [m] = s.path(threads["a"].id)
    assert m.content == "kept" and m.created_at == threads["a"].created_at
    assert_usable(s, tmp_path)
    s.close()


# -- item 2: cycles ------------------------------------------------------------


def test_a_chatgpt_loop_is_skipped_and_named_and_the_rest_imports(
    store: Store, tmp_path: Path
) -> None:
    loop = conversation(
        {
            "a": node("c", "user", "in a loop", ["b"]),
            "b": node("a", "assistant", "also", ["c"]),
            "c": node("b", "user", "round", ["a"]),
        },
        title="Loopy",
        current_node="c",
    )
    self_parent = conversation(
        {"s": node("s", "user", "me", ["s"])}, title="Selfish", current_node="s"
    )
    good = conversation({"r": node(None, "user", "fine", [])}, title="Good", current_node="r")
    path = write_json(tmp_path / "c.json", [loop, self_parent, good])
    done = threading.Event()
    result: dict[str, Any] = {}

    def run() -> None:
        other = Store.open(store.db_path)
        try:
            result["report"] = import_with_report(other, path)
        finally:
            other.close()
            done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(30), "the import of a looping conversation did not finish"
    notes = " ".join(result["report"].notes)
    assert 'conversation 1 ("Loopy") was skipped: its messages form a loop' in notes
    assert 'conversation 2 ("Selfish") was skipped' in notes
    assert [t.title for t in store.threads()] == ["Good"]


def test_a_file_of_only_loops_is_refused(store: Store, tmp_path: Path) -> None:
    loop = conversation({"s": node("s", "user", "me", ["s"])}, title="Selfish")
    assert_refused(
        store,
        write_json(tmp_path / "c.json", [loop]),
        "No conversation in c.json could be imported",
    )


# -- item 5: endless and deep input ----------------------------------------------------


def test_dev_zero_a_fifo_and_a_folder_are_refused_without_reading(
    store: Store, tmp_path: Path
) -> None:
    assert_refused(store, Path("/dev/zero"), "not a regular file")
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert_refused(store, fifo, "not a regular file")  # would block forever waiting for a writer
    assert_refused(store, tmp_path, "is a folder")


def test_deeply_nested_json_is_refused(store: Store, tmp_path: Path) -> None:
    deep = "[" * 10_000 + "]" * 10_000
    assert_refused(store, write_json(tmp_path / "deep.json", None, raw=deep), "nested too deeply")
    deep_field = '{"format": "chatapp-export", "version": 1, "threads": ' + deep + "}"
    assert_refused(
        store, write_json(tmp_path / "deep2.json", None, raw=deep_field), "nested too deeply"
    )


def test_a_huge_integer_is_refused(store: Store, tmp_path: Path) -> None:
    raw = '{"format": "chatapp-export", "version": ' + "9" * 5000 + ', "threads": []}'
    assert_refused(store, write_json(tmp_path / "big.json", None, raw=raw), "not valid JSON")


# -- item 6: nothing dropped silently -----------------------------------------------


def test_chatgpt_shapes_that_were_dropped_are_imported(store: Store, tmp_path: Path) -> None:
    mapping = {
        "root": None,  # a node whose entry is null: its subtree was lost
        "u": node("root", "user", "Write code", ["code"]),
        "code": node(
            "u",
            "assistant",
            {"content_type": "code", "language": "python", "text": "print(1)"},
            ["u2"],
        ),
        "u2": node("code", "user", "plain string content", ["a2"]),
        "a2": node(
            "u2",
            "assistant",
            {"content_type": "text", "parts": ["ok", {"text": " and a part"}]},
            [],
        ),
    }
    mapping["u2"]["message"]["content"] = "plain string content"
    mapping["u"]["message"]["author"] = "user"  # author as a string
    mapping["a2"]["message"]["metadata"] = ["not", "a", "dict"]
    conv = conversation(mapping, title={"x": 1}, current_node="a2")
    report = import_with_report(store, write_json(tmp_path / "c.json", [conv]))
    [thread] = store.threads()
    assert thread.title == "Imported chat"  # not "{'x': 1}"
    assert [m.content for m in store.path(thread.id)] == [
        "Write code",
        "```python\nprint(1)\n```",
        "plain string content",
        "ok\n and a part",
    ]
    assert report.notes == []


def test_what_cannot_be_imported_is_counted_and_reported(store: Store, tmp_path: Path) -> None:
    image = {
        "content_type": "multimodal_text",
        "parts": [{"asset_pointer": "file-service://x"}, "see this"],
    }
    mapping = {
        "u": node(None, "user", image, ["t"]),
        "t": node("u", "tool", "search results", ["a"]),
        "a": node("t", "assistant", "answer", []),
    }
    report = import_with_report(
        store, write_json(tmp_path / "c.json", [conversation(mapping, current_node="a")])
    )
    [thread] = store.threads()
    assert [m.content for m in store.path(thread.id)] == ["see this", "answer"]
    text = " ".join(report.notes)
    assert "1 image(s) or file(s) were left out" in text and "1 message(s) not by the user" in text
    assert report.message("c.json").startswith("Imported 1 thread(s) from c.json. ")


# -- item 11: messages instead of tracebacks --------------------------------------------


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (chatapp_doc(messages=[message(), message(id=2, parent=[1])]), r"messages\[1\]\.parent"),
        (chatapp_doc(memory_enabled="no"), r"threads\[0\]\.memory_enabled must be true or false"),
        (chatapp_doc(model={"name": "x"}), r"threads\[0\]\.model must be text or null"),
        (chatapp_doc(slots=[{}]), r"threads\[0\]\.slots\[0\]\.text must be text"),
        (chatapp_doc(slots=[None]), r"threads\[0\]\.slots\[0\] must be an object"),
        (chatapp_doc(summaries=[{"text": "s"}]), r"threads\[0\]\.summaries\[0\]\.level"),
        (chatapp_doc(settings={"temperature": "hot"}), r"threads\[0\]\.settings\.temperature"),
        (chatapp_doc(messages=[message(prompt_tokens=10**30)]), r"messages\[0\]\.prompt_tokens"),
        (chatapp_doc(messages=[message(id=True)]), r"messages\[0\]\.id"),
        (chatapp_doc(messages=[message(role=["user"])]), r"messages\[0\]\.role"),
        (chatapp_doc(messages=[message(settings={"x": float("nan")})]), r"messages\[0\]\.settings"),
        (chatapp_doc(messages=[message(created_at=float("nan"))]), r"messages\[0\]\.created_at"),
    ],
)
def test_malformed_chatapp_fields_are_named_in_one_line(
    store: Store, tmp_path: Path, doc: Any, field: str
) -> None:
    path = write_json(tmp_path / "bad.json", None, raw=json.dumps(doc, allow_nan=True))
    assert_refused(store, path, field)


def test_a_lone_surrogate_is_replaced_and_reported(store: Store, tmp_path: Path) -> None:
    raw = json.dumps(chatapp_doc(title="T", messages=[message(content="a \ud800 b")]))
    report = import_with_report(store, write_json(tmp_path / "s.json", None, raw=raw))
    [thread] = store.threads()
    assert store.path(thread.id)[0].content == "a \ufffd b"
    assert "lone surrogates" in report.notes[0]
    chatgpt = [
        conversation({"u": node(None, "user", "x \udc00", [])}, title="\ud800", current_node="u")
    ]
    raw = json.dumps(chatgpt)
    report = import_with_report(store, write_json(tmp_path / "g.json", None, raw=raw))
    assert "invalid characters" in report.notes[0]
    assert_usable(store, tmp_path)


@pytest.mark.parametrize(
    "conv",
    [
        conversation(
            {"u": {"parent": None, "children": [], "message": {"author": "user", "content": "hi"}}}
        ),
        conversation(
            {
                "u": {
                    "parent": None,
                    "message": {
                        "author": {"role": "user"},
                        "content": {"parts": ["hi"]},
                        "metadata": [1],
                    },
                }
            }
        ),
        conversation({"u": node(None, "user", "hi", [], create_time="yesterday")}),
        conversation({"u": node([1], "user", "hi", "not a list")}),
        conversation({"u": node(None, "user", "hi", [])}, current_node=["u"]),
    ],
)
def test_odd_chatgpt_shapes_import_instead_of_tracebacks(
    store: Store, tmp_path: Path, conv: Any
) -> None:
    import_file(store, write_json(tmp_path / "c.json", [conv]))
    [thread] = store.threads()
    assert [m.content for m in store.path(thread.id)] == ["hi"]
    assert_usable(store, tmp_path)


def test_a_conversation_without_a_mapping_is_skipped_with_a_note(
    store: Store, tmp_path: Path
) -> None:
    good = conversation({"u": node(None, "user", "hi", [])})
    report = import_with_report(
        store, write_json(tmp_path / "c.json", [good, {"mapping": "no"}, 5])
    )
    assert len(store.threads()) == 1
    assert "conversation 2 was skipped: it has no message mapping" in " ".join(report.notes)
    assert "conversation 3 was skipped" in " ".join(report.notes)


def test_cli_import_prints_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_json(tmp_path / "bad.json", chatapp_doc(memory_enabled="no"))
    assert cli.main(["import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("chatapp: The file is malformed: threads[0].memory_enabled")
        and "Traceback" not in err
    )
    assert cli.main(["import", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err
    loop = [
        conversation({"s": node("s", "user", "me", ["s"])}, title="Selfish"),
        conversation({"u": node(None, "user", "hi", [])}),
    ]
    assert cli.main(["import", str(write_json(tmp_path / "c.json", loop))]) == 0
    out = capsys.readouterr().out
    assert "imported 1 thread(s)" in out and 'conversation 1 ("Selfish") was skipped' in out


def test_shown_flags_that_are_not_one_path_fall_back_to_the_newest(
    store: Store, tmp_path: Path
) -> None:
    messages = [
        message(id=1, shown=True),
        message(id=2, parent=1, role="assistant", content="v1", shown=True),
        message(id=3, parent=1, role="assistant", content="v2", shown=True),  # two versions shown
        message(id=4, parent=None, content="another root", shown=False),
        message(id=5, parent=3, content="newest", shown=False),
    ]
    import_file(store, write_json(tmp_path / "s.json", chatapp_doc(messages=messages)))
    [thread] = store.threads()
    assert [m.content for m in store.path(thread.id)] == ["hi", "v2", "newest"]
