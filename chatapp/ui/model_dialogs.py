"""Model ▸ Load, Library, Settings and Connect to a server: the dialogs that ask which
model to use and how. What follows the answer (loading, switching, remembering) is the
model controller's policy; these only show and hand the answer on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from chatapp.errors import UserFacingError

if TYPE_CHECKING:
    from chatapp.ui.endpoint_dialog import EndpointDialog
    from chatapp.ui.main_window import MainWindow
    from chatapp.ui.model_library import ModelLibrary
    from chatapp.ui.model_settings_dialog import ModelSettingsDialog


class ModelDialogs(QObject):
    """The open dialog of each kind is kept (library, settings_dialog, endpoint_dialog)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.library: ModelLibrary | None = None
        self.settings_dialog: ModelSettingsDialog | None = None
        self.endpoint_dialog: EndpointDialog | None = None

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._window, "Load model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self._window.load_path(path)

    def open_library(self) -> None:
        from chatapp.ui.model_library import ModelLibrary

        window, models = self._window, self._window.models
        info = window.session.model_info
        ref = models.loaded_ref
        settings = models.app_settings
        library = ModelLibrary(
            models.model_folders(),
            models.builtin_model(),
            settings.last_used,
            window,
            endpoints=list(settings.endpoints),
            loaded=(ref, info.device) if info is not None and ref else None,
            crashed=settings.crashed_models,
            jobs=window.jobs,
        )
        library.chosen.connect(window.load_path)
        library.configure.connect(self.open_model_settings)
        self.library = library
        library.open()

    def open_model_settings(self, path: str | None = None) -> None:
        """The settings of a model file (the loaded one when `path` is None)."""
        from chatapp.ui.model_settings_dialog import ModelSettingsDialog

        window, models = self._window, self._window.models
        try:
            target = models.settings_target(path)
        except UserFacingError as exc:
            window.show_error(str(exc))
            return
        dialog = ModelSettingsDialog(
            target.header,
            models.app_settings.model(target.path),
            gpu_available=target.gpu_available,
            rpc_available=target.rpc_available,
            free=target.free,
            builtin=target.builtin,
            parent=window,
        )
        self.settings_dialog = dialog
        dialog.accepted.connect(lambda: models.save_model_settings(target.path, dialog.values()))
        dialog.open()

    def connect_server(self) -> None:
        """Use a model on an OpenAI-compatible server, with the same threads and memory."""
        from chatapp.ui.endpoint_dialog import EndpointDialog

        window = self._window
        dialog = EndpointDialog(list(window.models.app_settings.endpoints), window, window.jobs)
        self.endpoint_dialog = dialog

        def connect() -> None:
            endpoint = dialog.endpoint()
            entry = dialog.entry() if dialog.remember.isChecked() else None
            window.models.load_endpoint(endpoint, entry, window.current_thread)

        dialog.accepted.connect(connect)
        dialog.open()
