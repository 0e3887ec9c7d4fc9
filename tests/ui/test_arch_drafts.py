"""Drafts are written by the store's writer, not on the GUI thread; the newest text wins when
saves overlap, and a quit writes what is still on its way."""

from __future__ import annotations

import threading
from pathlib import Path

from chatapp.store import Store


def test_drafts_are_written_off_the_gui_thread_and_the_newest_wins(
    qtbot, make_window, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    store = window.store
    thread_id = store.create_thread("plans").id
    window._refresh_threads(select=thread_id)
    on_gui: list[bool] = []
    real_save = store.save_draft
    slow = threading.Event()

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        on_gui.append(threading.current_thread() is threading.main_thread())
        slow.wait(0.3)  # a slow disk: later saves arrive while this one is written
        return real_save(*args, **kwargs)

    monkeypatch.setattr(store, "save_draft", recording)
    for text in ("first", "first and second", "first and second and third"):
        window.composer.setPlainText(text)
        window.drafts.save()  # returns at once
    qtbot.waitUntil(lambda: store.draft(thread_id) == "first and second and third", timeout=5000)
    qtbot.wait(400)  # nothing older lands after the newest
    assert store.draft(thread_id) == "first and second and third"
    assert on_gui and not any(on_gui)
    assert len(on_gui) <= 3  # overlapping saves were folded into the one after the write


def test_a_draft_still_on_its_way_is_written_at_quit(
    qtbot, make_window, monkeypatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    store = window.store
    thread_id = store.create_thread("plans").id
    window._refresh_threads(select=thread_id)
    real_save = store.save_draft
    release = threading.Event()

    def stuck(*args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(0.5)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(store, "save_draft", stuck)
    window.composer.setPlainText("written while quitting")
    window.drafts.save()
    window.composer.setPlainText("written while quitting, then more")
    window.close()  # no event loop turn in between: the quit itself writes it
    store.close()
    assert (
        Store.open(tmp_path / "ui.sqlite3").draft(thread_id) == "written while quitting, then more"
    )
