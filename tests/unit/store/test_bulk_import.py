"""An import goes through the store's one writer in one transaction: other threads keep
reading (what was committed before) while it runs, their writes wait for it, and a failure
at any point leaves nothing of it written. A real SQLite file throughout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatapp.domain import GenerationSettings, Role
from chatapp.export.importers import ImportFailed, import_with_report
from chatapp.store import Store


def checked_thread(title: str, messages: int = 2) -> dict[str, Any]:
    """A thread as the importer hands it to the store (checked, every key present)."""
    return {
        "title": title,
        "system_prompt": "",
        "created_at": 1.0,
        "updated_at": 1.0,
        "title_auto": False,
        "pinned": False,
        "memory_enabled": True,
        "model": None,
        "settings": GenerationSettings().to_dict(),
        "messages": [
            {
                "id": i + 1,
                "parent": i or None,
                "role": "user" if i % 2 == 0 else "assistant",
                "content": f"{title} message {i}",
                "created_at": 1.0 + i,
                "selected_at": 1.0 + i,
                "active": True,
            }
            for i in range(messages)
        ],
        "summaries": [],
        "slots": [],
    }


class Gate:
    """Threads handed to the import one by one; the import stops inside its transaction after
    the first until the test lets it go on (or fails it there)."""

    def __init__(self, threads: list[dict[str, Any]], fail: bool = False) -> None:
        self.threads = threads
        self.fail = fail
        self.inside = threading.Event()
        self.go_on = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield self.threads[0]
        self.inside.set()
        assert self.go_on.wait(30)
        if self.fail:
            raise RuntimeError("the import failed half way")
        yield from self.threads[1:]


def run_in_thread(fn) -> tuple[threading.Thread, dict[str, Any]]:  # type: ignore[no-untyped-def]
    out: dict[str, Any] = {}

    def body() -> None:
        try:
            out["result"] = fn()
        except Exception as exc:  # noqa: BLE001 (any failure is handed to the test)
            out["error"] = exc

    thread = threading.Thread(target=body)
    thread.start()
    return thread, out


def test_reads_go_on_while_an_import_holds_the_writer(store: Store) -> None:
    kept = store.create_thread("kept")
    store.add_message(kept.id, Role.USER, "written before the import")
    gate = Gate([checked_thread("first"), checked_thread("second")])
    worker, out = run_in_thread(lambda: store.import_threads(gate))  # type: ignore[arg-type]
    try:
        assert gate.inside.wait(30)
        assert store.bulk_writing
        started = time.perf_counter()
        # the import is stopped inside its transaction: a read that waited for the writer
        # would wait for the gate (30 s); it is served at once, with what was committed
        assert [t.title for t in store.threads()] == ["kept"]
        assert [m.content for m in store.path(kept.id)] == ["written before the import"]
        assert store.search("message")[:1] == []  # the half-written import is not found
        assert time.perf_counter() - started < 10
        # a write waits for the import (one writer) and then lands
        writer, wrote = run_in_thread(lambda: store.rename_thread(kept.id, "renamed"))
        writer.join(0.3)
        assert writer.is_alive()
    finally:
        gate.go_on.set()
        worker.join(30)
    writer.join(30)
    assert "error" not in out and "error" not in wrote
    assert not store.bulk_writing
    assert sorted(t.title for t in store.threads()) == ["first", "renamed", "second"]
    first = next(t for t in store.threads() if t.title == "first")
    assert [m.content for m in store.path(first.id)] == ["first message 0", "first message 1"]


def test_an_import_that_fails_half_way_leaves_nothing(store: Store) -> None:
    store.create_thread("kept")
    gate = Gate([checked_thread("first"), checked_thread("second")], fail=True)
    worker, out = run_in_thread(lambda: store.import_threads(gate))  # type: ignore[arg-type]
    assert gate.inside.wait(30)
    assert [t.title for t in store.threads()] == ["kept"]
    gate.go_on.set()
    worker.join(30)
    assert isinstance(out.get("error"), RuntimeError)
    assert [t.title for t in store.threads()] == ["kept"]  # "first" was rolled back
    assert store.search("message") == []
    assert not store.bulk_writing
    store.create_thread("after")  # the writer is free again
    assert len(store.threads()) == 2


def test_a_malformed_file_imports_nothing_into_a_real_database(tmp_path: Path) -> None:
    db = tmp_path / "real.sqlite3"
    store = Store.open(db)
    kept = store.create_thread("kept")
    store.add_message(kept.id, Role.USER, "mine")
    good = {
        "title": "good",
        "system_prompt": "",
        "created_at": 1_700_000_000.0,
        "messages": [
            {"id": 1, "parent": None, "role": "user", "content": "hi", "created_at": 1.7e9}
        ],
    }
    bad = {**good, "title": "bad", "messages": [{**good["messages"][0], "role": "robot"}]}
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"format": "chatapp-export", "version": 1, "threads": [good, bad]}))
    with pytest.raises(ImportFailed, match=r"threads\[1\]\.messages\[0\]\.role"):
        import_with_report(store, path)
    path.write_text(json.dumps({"format": "chatapp-export", "version": 1, "threads": [good]}))
    store.close()
    # what is on disk, read by a fresh connection: the first attempt left nothing
    again = Store.open(db)
    try:
        assert [t.title for t in again.threads()] == ["kept"]
        report = import_with_report(again, path)
        assert [again.thread(i).title for i in report.thread_ids] == ["good"]
        assert sorted(t.title for t in again.threads()) == ["good", "kept"]
    finally:
        again.close()
