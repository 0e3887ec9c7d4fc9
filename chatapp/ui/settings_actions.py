"""Edit ▸ Settings: open the dialog with what replies use now, save what it gives back (the
thread's prompt and sampling, the app's preferences), and restart into a Privacy conversion."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from chatapp.errors import StorageError

if TYPE_CHECKING:
    from chatapp.ui.main_window import MainWindow
    from chatapp.ui.settings_dialog import SettingsDialog


class SettingsActions:
    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self.dialog: SettingsDialog | None = None  # the one open last (tests read it)

    def open(self) -> None:
        from chatapp.store.crypto import conversions, describe
        from chatapp.ui.settings_dialog import SettingsDialog

        window = self._window
        current = window.current_thread
        thread = window.store.thread(current) if current is not None else None
        if thread is not None:  # what replies use now: the model's defaults until changed
            sampling = window.session.effective_sampling(thread.settings)
            thread = dataclasses.replace(thread, settings=sampling)
        db, key = window.store.db_path, window.store.key
        dialog = SettingsDialog(
            thread,
            window.app_settings,
            window,
            privacy=describe(db, key),
            conversions=conversions(db, key),
        )
        dialog.conversion_requested.connect(self.restart_to_convert)
        self.dialog = dialog
        dialog.accepted.connect(lambda: self.apply(dialog))
        dialog.open()

    def restart_to_convert(self, target: str) -> None:
        """Settings ▸ Privacy: the conversion runs at the next start (it needs the database
        closed); chatapp restarts into it (`app.main`)."""
        from chatapp.store import convert

        window = self._window
        convert.request(window.store.db_path, target)
        window.restart_requested = True
        window.close()

    def apply(self, dialog: SettingsDialog) -> None:
        from chatapp.ui.settings_dialog import saved_message

        window = self._window
        values = dialog.thread_values()
        current = window.current_thread
        try:
            if values is not None and current is not None:
                prompt, sampling = values
                own = window.store.thread(current).settings
                unchanged = sampling == window.session.effective_sampling(own)
                window.writer.ask(
                    window.store.update_thread,
                    current,
                    system_prompt=prompt,
                    settings=None if unchanged else sampling,
                    on_error=lambda e: window.show_error(f"The settings could not be saved: {e}"),
                )
            new = dialog.app_values(window.app_settings)
            if window.settings_path is not None:
                new.save(window.settings_path)
        except (StorageError, OSError) as exc:
            window.show_error(f"The settings could not be saved: {exc}")
            return
        old, window.app_settings = window.app_settings, new
        window.apply_appearance()
        window.notice(saved_message(old, new), 6000)
