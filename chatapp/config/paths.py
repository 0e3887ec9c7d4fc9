"""Where chatapp keeps its data: platformdirs' user data dir, or CHATAPP_HOME."""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import platformdirs

from chatapp.errors import StorageError

ENV_HOME = "CHATAPP_HOME"
APP_ID = "io.github.chatapp.chatapp"  # the desktop entry's and AppStream's id


def resource(*parts: str) -> Path:
    """A file of the top-level resources/ folder (icons, desktop files). A pip install and
    the PyInstaller bundle carry it as chatapp/resources; a source checkout and the editable
    install read it beside the package. Nothing is ever written there."""
    installed = Path(str(importlib.resources.files("chatapp").joinpath("resources")))
    if not installed.is_dir():
        installed = Path(__file__).resolve().parents[2] / "resources"
    return installed.joinpath(*parts)


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data folder, created if missing. `override` (--data-dir) beats CHATAPP_HOME."""
    if override:
        path = Path(override)
    elif os.environ.get(ENV_HOME):
        path = Path(os.environ[ENV_HOME])
    else:
        path = Path(platformdirs.user_data_dir("chatapp", appauthor=False))
    path = path.expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StorageError(
            f"The data folder {path} is a file, not a folder. Choose another folder with "
            f"--data-dir or {ENV_HOME}."
        ) from None
    except OSError as exc:
        raise StorageError(
            f"chatapp cannot create its data folder {path} ({exc.strerror or exc}). Choose "
            f"another folder with --data-dir or {ENV_HOME}."
        ) from exc
    return path


def database_path(root: Path) -> Path:
    return root / "chatapp.sqlite3"


def backups_dir(root: Path) -> Path:
    return root / "backups"


def models_dir(root: Path) -> Path:
    return root / "models"


def crash_log_path(root: Path) -> Path:
    return root / "crash.log"


def settings_path(root: Path) -> Path:
    return root / "settings.json"
