"""A Privacy action restarts chatapp: what was typed in the other tabs of Settings is saved
first, as OK would, and the confirmation says so (walkthrough defect 4). Real store and
settings file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from chatapp.config.settings import AppSettings
from chatapp.domain import Role
from chatapp.store import Store, convert


def test_a_privacy_restart_saves_the_other_tabs_first(
    make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    store = Store.open(db)
    thread = store.create_thread("trip")
    store.add_message(thread.id, Role.USER, "hello")
    window = make_window(store, load=False)
    window.settings_path = tmp_path / "settings.json"
    assert window._current_thread == thread.id
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda _p, _t, text, *a, **k: asked.append(text) or QMessageBox.StandardButton.Yes,
    )
    window.open_settings()
    dialog = window._settings_dialog
    dialog.max_tokens.setValue(777)
    dialog.system_prompt.setPlainText("Answer in Portuguese.")
    dialog.theme.setCurrentText("dark")
    dialog.conversion_buttons["encrypted"].click()
    assert "saved first" in asked[0]
    assert window.restart_requested and not window.isVisible()
    assert convert.request_file(db).read_text().strip() == "encrypted"
    kept = store.thread(thread.id)
    assert kept.settings.max_tokens == 777
    assert kept.system_prompt == "Answer in Portuguese."
    assert AppSettings.load(window.settings_path).theme == "dark"
    store.close()


def test_saying_no_keeps_the_dialog_and_saves_nothing(
    make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    store = Store.open(db)
    thread = store.create_thread("trip")
    before = store.thread(thread.id).settings
    window = make_window(store, load=False)
    window.settings_path = tmp_path / "settings.json"
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.No)
    window.open_settings()
    dialog = window._settings_dialog
    dialog.max_tokens.setValue(777)
    dialog.conversion_buttons["encrypted"].click()
    assert dialog.isVisible() and window.isVisible()
    assert not getattr(window, "restart_requested", False)
    assert not convert.request_file(db).exists()
    assert store.thread(thread.id).settings == before
    assert not window.settings_path.exists()
    dialog.reject()
    window.close()
    store.close()
