"""File ▸ Import writes through the window's store (its one writer) in one transaction; the
window keeps reading while a long import runs, and a malformed file changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QTimer

from chatapp.bench.gui import write_chatapp_export as chatapp_export
from chatapp.domain import Role


def test_the_window_reads_while_a_long_import_writes(qtbot, make_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = make_window(load=False)
    store = window.store
    mine = store.create_thread("mine")
    store.add_message(mine.id, Role.USER, "my own words")
    path = chatapp_export(tmp_path / "big.json", threads=3, messages=10_000)
    seen: list[tuple[bool, list[str]]] = []  # (import's transaction open, titles read)

    def read() -> None:  # the window reads on its own thread, as it does for a click
        before = store.bulk_writing
        titles = sorted(t.title for t in store.threads())
        seen.append((before and store.bulk_writing, titles))  # wholly inside the bulk write

    poll = QTimer()
    poll.timeout.connect(read)
    poll.start(5)
    with qtbot.waitSignal(window.files.import_done, timeout=120000) as blocker:
        window.run_import(path)
    poll.stop()
    assert blocker.args[0].startswith("Imported 3 thread"), blocker.args
    after = ["imported 0", "imported 1", "imported 2", "mine"]
    assert sorted(t.title for t in store.threads()) == after
    # while the import wrote, the window read what was committed before it: never a part of
    # the import (the last reads may come after its commit, before its end)
    during = [titles for writing, titles in seen if writing]
    assert ["mine"] in during, "the window never read while the import wrote"
    assert all(titles in (["mine"], after) for _writing, titles in seen)
    assert len(store.path(next(t.id for t in store.threads() if t.title == "imported 1"))) == (
        10_000
    )


def test_a_malformed_import_changes_nothing_in_the_window(
    qtbot, make_window, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window(load=False)
    mine = window.store.create_thread("mine")
    window.refresh_threads()
    path = chatapp_export(tmp_path / "bad.json", threads=2, messages=4)
    doc = json.loads(path.read_text())
    doc["threads"][1]["messages"][3]["parent"] = 99  # names no earlier message
    path.write_text(json.dumps(doc))
    with qtbot.waitSignal(window.files.import_done, timeout=30000) as blocker:
        window.run_import(path)
    assert "threads[1].messages[3].parent" in blocker.args[1]
    assert [t.id for t in window.store.threads()] == [mine.id]
    assert window.threads_model.rowCount() == 1
    window.store.create_thread("after")  # the writer is free
    assert len(window.store.threads()) == 2
