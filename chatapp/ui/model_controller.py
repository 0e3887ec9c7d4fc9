"""Which model is loaded and how: the window shows what this says and asks it for loads.

Owns model references (files, and servers as `server:<base URL>`), loading and switching,
a model too large for the free memory (the user is asked through a callback), a model
process that crashed (the file is remembered and kept back at the next start), per-model
settings and what the machine can do (through engine.device; the window never imports
llama.cpp).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from chatapp.config.settings import AppSettings
from chatapp.engine.backend import ModelInfo, ModelSpec
from chatapp.errors import UserFacingError
from chatapp.store import Store

log = logging.getLogger("chatapp.ui")


@dataclasses.dataclass(frozen=True)
class SettingsTarget:
    """What the model settings dialog needs about one model file."""

    path: str
    header: Any  # engine.gguf_meta.GGUFInfo
    gpu_available: bool
    rpc_available: bool
    free: int | None
    builtin: bool


class ModelController(QObject):
    """Signals:
    label(str, str): the model label's text and tooltip
    notice(str, int): a status-bar message and for how many milliseconds
    error(str): a message for the user (its first line is the summary)
    """

    label = Signal(str, str)
    notice = Signal(str, int)
    error = Signal(str)

    def __init__(
        self,
        engine: Any,  # workers.engine.EngineController
        session: Any,  # ui.session.ChatSession
        store: Store,
        app_settings: AppSettings,
        settings_path: Path | None,
        confirm_large: Callable[[str], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.engine = engine
        self.session = session
        self.store = store
        self.app_settings = app_settings
        self.settings_path = settings_path
        self.confirm_large = confirm_large
        self.spec: ModelSpec | None = None  # the model asked for last
        self.loaded_ref: str | None = None  # the model the engine holds, as threads name it
        self.loading = False  # a load was asked for and has not ended yet
        self._pending_thread: int | None = None  # gets the model being loaded, once it is
        self._reload_after_reply: str | None = None  # a model whose settings changed mid-reply
        self._next_load_notes: list[str] = []  # told with the next load's own notes
        # files that failed to load in this session: model key -> (size, mtime), first line
        self._failed: dict[str, tuple[tuple[int, float], str]] = {}
        self._remember_endpoint: tuple[Any, dict] | None = None  # kept once it connects
        engine.loaded.connect(self._on_loaded)
        engine.load_failed.connect(self._on_failed)
        engine.load_crashed.connect(self._on_load_crashed)
        engine.restarting.connect(self._on_restarting)
        engine.too_large.connect(self._on_too_large)
        engine.unloaded.connect(self._on_unloaded)
        session.busy_changed.connect(self._on_busy)

    # -- asking for a model ---------------------------------------------------

    def load(self, spec: ModelSpec, *, for_thread: int | None = None) -> None:
        """Load a model; `for_thread`: that thread uses it from now on (the user chose it)."""
        self.spec = spec
        self._pending_thread = for_thread
        self.loading = True
        self.label.emit(f"Loading {spec.name}…", "")
        if spec.endpoint is None:  # still set at the next start: this load ended the app
            self.app_settings.loading_model = spec.path
            self.save_settings()
        self.engine.load(spec)

    def load_path(self, path: str, *, for_thread: int | None = None) -> None:
        """A file path or a `server:` reference, as the library and drag and drop give them."""
        spec = (
            self.spec_for_ref(path) if path.startswith("server:") else self.app_settings.spec(path)
        )
        if spec is not None:
            self.load(spec, for_thread=for_thread)

    def load_endpoint(self, endpoint: Any, entry: dict | None, for_thread: int | None) -> None:
        """Use a server (`entry`: remember it, without its key, once it connects: a server
        that fails is not kept in the list)."""
        self._remember_endpoint = (endpoint, entry) if entry is not None else None
        self.load(
            ModelSpec(endpoint.base_url, n_ctx=endpoint.n_ctx, endpoint=endpoint),
            for_thread=for_thread,
        )

    @staticmethod
    def model_ref(info: ModelInfo) -> str:
        """How a thread names its model: the file's path, or server:<base URL>."""
        return f"server:{info.path}" if info.path.startswith(("http://", "https://")) else info.path

    def spec_for_ref(self, ref: str) -> ModelSpec | None:
        if ref.startswith("server:"):
            from chatapp.engine.remote import Endpoint
            from chatapp.ui.endpoint_dialog import load_key

            url = ref.removeprefix("server:")
            entry = next(
                (e for e in self.app_settings.endpoints if e.get("base_url") == url), {"name": url}
            )
            endpoint = Endpoint(
                name=entry.get("name", url),
                base_url=url,
                model=entry.get("model", ""),
                api_key=load_key(entry.get("name", url)),
                timeout=float(entry.get("timeout", 60)),
                n_ctx=int(entry.get("n_ctx", 4096)),
            )
            return ModelSpec(url, n_ctx=endpoint.n_ctx, endpoint=endpoint)
        return self.app_settings.spec(ref)

    def loading_for(self, thread_id: int | None) -> str | None:
        """The model being loaded because the user chose it for this thread (as threads name
        it), while the load runs: the picker shows the choice, not the thread's old model."""
        if not self.loading or self.spec is None or thread_id is None:
            return None
        if self._pending_thread != thread_id:
            return None
        return f"server:{self.spec.path}" if self.spec.endpoint is not None else self.spec.path

    def remember_for(self, thread_id: int) -> None:
        """A thread that has no model of its own keeps the one that answers it, so that it
        opens with that model after a restart (the start-up model may be another)."""
        if self.loaded_ref is not None:
            self._record(thread_id, self.loaded_ref, only_if_none=True)

    def _record(self, thread_id: int, ref: str, only_if_none: bool = False) -> None:
        """The thread's model, asked of the store's writer (a failure is only logged: the
        thread opens with the start-up model then)."""
        store = self.store

        def record() -> None:
            try:
                if not only_if_none or store.thread(thread_id).model is None:
                    store.update_thread(thread_id, model=ref)
            except KeyError:  # the thread was deleted for good meanwhile
                pass

        self.session.writer.ask(
            record, on_error=lambda e: log.warning("could not record the thread's model: %s", e)
        )

    def load_problem(self, ref: str) -> str | None:
        """Why a model file is not offered for a plain pick: it stopped the model process
        (kept across starts until it loads), or it failed to load in this session and has not
        changed on disk since. None for a server or a file not known to fail."""
        from chatapp.config.model_settings import model_key

        if ref.startswith("server:"):
            return None
        crashed = self.app_settings.crash_reason(ref)
        if crashed:
            return f"It stopped the model process ({crashed})."
        failed = self._failed.get(model_key(ref))
        if failed is not None and failed[0] == _stamp(ref):
            return failed[1]
        return None

    def follow_thread(self, thread_id: int) -> None:
        """A thread that has its own model gets it back when it is opened."""
        thread = self.store.thread(thread_id)
        if not thread.model or thread.model == self.loaded_ref or self.session.busy:
            return
        spec = self.spec_for_ref(thread.model)
        if spec is not None:
            self.notice.emit(f"Loading this thread's model, {spec.name}…", 5000)
            self.load(spec)

    # -- facts for the dialogs -----------------------------------------------------

    def model_folders(self) -> list[Path]:
        """<data>/models (created) and the folders added in the settings."""
        from chatapp.config import paths

        folders: list[Path] = []
        if self.settings_path is not None:
            own = paths.models_dir(self.settings_path.parent)
            own.mkdir(parents=True, exist_ok=True)
            folders.append(own)
        folders += [Path(f).expanduser() for f in self.app_settings.model_folders]
        return folders

    @staticmethod
    def builtin_model() -> Path | None:
        from chatapp.engine.default_model import default_model_path

        try:
            return default_model_path()
        except UserFacingError:
            return None

    def settings_target(self, path: str | None) -> SettingsTarget:
        """The model file whose settings are edited (the loaded one when `path` is None);
        UserFacingError when there is none or it cannot be read."""
        from chatapp.config.model_settings import model_key
        from chatapp.engine import device, memory_estimate
        from chatapp.engine.gguf_meta import read_header

        if path is None:
            info = self.session.model_info
            path = info.path if info is not None else (self.spec.path if self.spec else None)
        if not path or path.startswith(("server:", "http://", "https://")):
            raise UserFacingError(
                "Model settings are for model files. "
                "Load a model file first (Model > Load model file…)."
            )
        header = read_header(path)
        builtin = self.builtin_model()
        return SettingsTarget(
            path,
            header,
            device.gpu_offload_supported(),
            device.rpc_supported(),
            memory_estimate.available_memory(),
            builtin is not None and model_key(builtin) == model_key(path),
        )

    def save_model_settings(self, path: str, value: Any) -> None:
        """Keep a model's settings; the loaded model is reloaded with them (not mid-reply)."""
        from chatapp.config.model_settings import model_key

        self.app_settings.set_model(path, value)
        self.save_settings()
        info = self.session.model_info
        if info is not None and model_key(info.path) == model_key(path):
            self.session.sampling_defaults = value.generation()
            if self.session.busy:
                self.notice.emit("Saved; the model is reloaded with them after this reply.", 6000)
                self._reload_after_reply = path
            else:
                self.notice.emit("Saved; reloading the model with its new settings…", 6000)
                self.load(self.app_settings.spec(path))
        else:
            self.notice.emit("Model settings saved.", 4000)

    def save_settings(self) -> None:
        if self.settings_path is None:
            return
        try:
            self.app_settings.save(self.settings_path)
        except OSError as exc:
            self.error.emit(f"The settings could not be saved: {exc}")

    # -- what the engine says ---------------------------------------------------

    def _current_label(self) -> str:
        current = self.session.model_info
        return f"{current.name} · {current.device}" if current else "No model loaded"

    @Slot()
    def _on_unloaded(self) -> None:
        """Nothing is loaded now: choosing the model that was shown loads it again."""
        self.loaded_ref = None
        self.label.emit("No model loaded", "")

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        if not busy and self._reload_after_reply is not None:
            path, self._reload_after_reply = self._reload_after_reply, None
            self.load(self.app_settings.spec(path))

    @Slot(object, str)
    def _on_too_large(self, spec: ModelSpec, message: str) -> None:
        """A model larger than the free memory is only loaded when the user says so."""
        if self.confirm_large(message):
            self.spec = dataclasses.replace(spec, check_memory=False)
            self.engine.load(self.spec)  # the thread waiting for it keeps waiting
            return
        self._pending_thread = None
        self.loading = False
        self.label.emit(self._current_label(), "")
        self.notice.emit(f"Not loaded: {message.splitlines()[0]}", 15000)

    @Slot(str, str)
    def _on_load_crashed(self, path: str, reason: str) -> None:
        """Remember a file that stopped the model process, so that it is not loaded again
        at start; with nothing else loaded, the built-in model is."""
        self.app_settings.mark_crashed(path, reason)
        self.app_settings.loading_model = None
        self.save_settings()
        builtin = self.builtin_model()
        if (
            self.loaded_ref is None
            and builtin is not None
            and builtin.resolve() != Path(path).resolve()
        ):
            self._next_load_notes.append(
                f"{Path(path).name} could not be loaded; using the built-in model."
            )
            self.load(self.app_settings.spec(builtin))

    @Slot(str)
    def _on_restarting(self, name: str) -> None:
        self.loading = True
        self.label.emit(f"Loading {name} again…", "")
        self.notice.emit(f"The model process stopped; loading {name} again…", 10000)

    @Slot(object)
    def _on_loaded(self, info: ModelInfo) -> None:
        self.loading = False
        self.loaded_ref = self.model_ref(info)
        if not info.path.startswith(("http://", "https://")):
            from chatapp.config.model_settings import model_key

            self.app_settings.clear_crash(info.path)  # it loads now: no longer kept back
            self._failed.pop(model_key(info.path), None)
        self.app_settings.loading_model = None
        self.app_settings.touch(self.loaded_ref, time.time())
        self.save_settings()
        self._keep_endpoint(info)
        self.session.sampling_defaults = (
            None
            if info.path.startswith(("http://", "https://"))
            else (self.app_settings.model(info.path).generation())
        )
        if (
            self._pending_thread is not None
            and self.spec is not None
            and (info.path == self.spec.path or info.path == str(Path(self.spec.path).resolve()))
        ):
            self._record(self._pending_thread, self.loaded_ref)  # the user chose it for it
        self._pending_thread = None
        self.label.emit(
            f"{info.name} · {info.device}",
            f"{info.path}\ncontext {info.n_ctx} tokens (trained {info.n_ctx_train})",
        )
        notes = [n for n in (info.fallback_reason, info.template_notice) if n]
        if info.fallback_reason:
            notes[0] = f"Running on the CPU: {info.fallback_reason}"
        notes += self._next_load_notes
        self._next_load_notes = []
        if notes:
            self.notice.emit("  ".join(notes), 15000)

    def _keep_endpoint(self, info: ModelInfo) -> None:
        """The server asked to be remembered has connected: kept now, its key in the keyring."""
        if self._remember_endpoint is None:
            return
        endpoint, entry = self._remember_endpoint
        self._remember_endpoint = None
        if info.path != endpoint.base_url:
            return
        from chatapp.ui.endpoint_dialog import save_key

        kept = [e for e in self.app_settings.endpoints if e.get("name") != entry["name"]]
        self.app_settings.endpoints = [*kept, entry]
        if endpoint.api_key and not save_key(endpoint.name, endpoint.api_key):
            self._next_load_notes.append(
                "No system keyring here: the API key is kept for this session only."
            )
        self.save_settings()

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._remember_endpoint = None
        from chatapp.config.model_settings import model_key

        if self.spec is not None and self.spec.endpoint is None:
            self._failed[model_key(self.spec.path)] = (_stamp(self.spec.path), message)
        self.loading = False
        self._pending_thread = None
        self._next_load_notes = []
        if self.app_settings.loading_model:
            self.app_settings.loading_model = None
            self.save_settings()
        self.label.emit(self._current_label(), "")
        self.error.emit(message)


def _stamp(path: str) -> tuple[int, float]:
    """A file's size and modification time: a failed file replaced on disk is offered again."""
    try:
        st = Path(path).stat()
    except OSError:
        return (-1, 0.0)
    return (st.st_size, st.st_mtime)
