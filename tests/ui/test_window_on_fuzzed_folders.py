"""The window opens on every data folder the import fuzzer produces (issue 22): the real
MainWindow, each thread selected and drawn, without an error caught by the guard."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatapp.export.importers import ImportFailed, import_file
from chatapp.store import Store
from chatapp.ui import guard
from tests.hostile_files import chatapp_files, chatgpt_files, dump

EXAMPLES = 60 if os.environ.get("CHATAPP_FUZZ") else 6


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.one_of(chatapp_files(), chatgpt_files().map(lambda case: case[0])))
def test_the_window_opens_on_each_fuzzed_data_folder(
    qtbot, make_window, tmp_path_factory, data: Any
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzzed")
    path = folder / "import.json"
    path.write_text(dump(data), encoding="utf-8")
    store = Store.open(folder / "chatapp.sqlite3")
    try:
        import_file(store, path)
    except ImportFailed:
        pass  # refused, and the folder is as it was: the window must open on it all the same
    guard._reported.clear()
    window = make_window(store, load=False)
    assert window.isVisible()
    threads = [t.id for t in store.threads()]
    assert window.threads_model.rowCount() == len(threads)
    for thread_id in threads:
        window._refresh_threads(select=thread_id)
        assert window._current_thread == thread_id
        window.grab()  # draws the thread list and the transcript
    assert not guard._reported, guard._reported
    window.close()
