"""Settings fits a small laptop screen: its parts are tabs (stacked, the dialog was 770-870 px
tall, more than a 1366x768 screen shows)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from chatapp.config.settings import AppSettings
from chatapp.domain import Thread
from chatapp.store import crypto
from chatapp.ui.settings_dialog import SettingsDialog

SMALL_SCREEN = 768 - 40  # a 1366x768 laptop, less a task bar


def test_settings_is_three_tabs_that_fit_a_768_px_screen(qtbot: QtBot, tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    thread = Thread(1, "Planning the allotment", 0.0, 0.0, system_prompt="Be brief.")
    dialog = SettingsDialog(
        thread,
        AppSettings(model_folders=["/a/folder", "/another/folder"]),
        privacy=crypto.describe(db, None),
        conversions=crypto.conversions(db, None),
    )
    qtbot.addWidget(dialog)
    names = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert names == ["This thread", "App", "Privacy"]
    assert dialog.sizeHint().height() <= SMALL_SCREEN
    thread_tab = dialog.tabs.widget(0)
    assert dialog.system_prompt.parentWidget() is thread_tab
    assert "Planning the allotment" in [
        label.text() for label in thread_tab.findChildren(type(dialog.privacy))
    ]
    privacy_tab = dialog.tabs.widget(2)
    assert all(b.parentWidget() is privacy_tab for b in dialog.conversion_buttons.values())
    assert dialog.thread_values() == ("Be brief.", dialog.sampling.values())


def test_without_a_thread_or_privacy_text_only_the_app_tab_shows(qtbot: QtBot) -> None:
    dialog = SettingsDialog(None, AppSettings())
    qtbot.addWidget(dialog)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == ["App"]
    assert dialog.thread_values() is None
