"""A database deleted under the running window is written back by a job, off the GUI thread,
and the window is told when it is done (issue 22, review finding 13)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from chatapp import app
from chatapp.domain import Role
from chatapp.store import Store, backup


def test_the_rescue_runs_as_a_job_and_the_window_is_told(
    qtbot: QtBot, make_window: Any, tmp_path: Path
) -> None:
    db = tmp_path / "ui.sqlite3"
    store = Store.open(db)
    thread = store.create_thread("deleted under the window")
    store.add_message(thread.id, Role.USER, "kept")
    window = make_window(store, load=False)
    watch = backup.DatabaseWatch(store)
    ran_on: list[threading.Thread] = []
    rescue = watch.rescue

    def recording() -> str:
        ran_on.append(threading.current_thread())
        return rescue()

    watch.rescue = recording  # type: ignore[method-assign]
    assert search(qtbot, window, "kept") == 1  # the window's search reader is opened
    app._check_database(watch, window)
    assert not ran_on  # nothing changed: nothing started
    db.unlink()
    app._check_database(watch, window)
    qtbot.waitUntil(
        lambda: "nothing was lost" in window.statusBar().currentMessage(), timeout=10000
    )
    assert ran_on and ran_on[0] is not threading.main_thread()
    store.add_message(thread.id, Role.ASSISTANT, "written after the rescue")
    assert search(qtbot, window, "rescue") == 1  # not the deleted file's reader
    conn = sqlite3.connect(db)  # the window's store writes to the file under the name again
    assert [r[0] for r in conn.execute("SELECT content FROM messages ORDER BY id")] == [
        "kept",
        "written after the rescue",
    ]
    conn.close()


def search(qtbot: QtBot, window: Any, text: str) -> int:
    """Run the window's own search and count the hits it lists."""
    window.search_box.setText(text)
    window.search_list.clear()
    window.search.start()
    qtbot.waitUntil(lambda: window.search_list.count() > 0, timeout=10000)
    found = [window.search_list.item(n).text() for n in range(window.search_list.count())]
    return 0 if found == ["No messages found"] else len(found)
