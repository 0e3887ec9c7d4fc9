"""Test configuration: offscreen Qt, and a temporary data folder for every test."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("CHATAPP_KEYRING", "0")  # database keys go to key files, never a real keyring

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def chatapp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Tests never touch a real data folder."""
    home = tmp_path / "chatapp-home"
    home.mkdir()
    monkeypatch.setenv("CHATAPP_HOME", str(home))
    monkeypatch.setenv("CHATAPP_CONFIG_HOME", str(tmp_path / "chatapp-config"))
    return home


@pytest.fixture(scope="session")
def default_model() -> Path:
    from chatapp.engine.default_model import default_model_path

    return default_model_path()


@pytest.fixture
def store(tmp_path: Path):
    from chatapp.store import Store

    s = Store.open(tmp_path / "test.sqlite3")
    yield s
    s.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """llama-cpp-python opens two /dev/null files at import and never closes them; close them
    here so the interpreter's exit does not print ResourceWarnings after the test summary."""
    import sys

    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None and not handle.closed:
            handle.close()
