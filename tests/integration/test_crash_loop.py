"""A preferred model file that crashes the loader: the app goes on with the built-in model,
remembers the file, and does not load it again at the next start (no crash loop)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.model


def run(args: list[str], home: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATAPP_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "chatapp", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def broken(default_model: Path, tmp_path: Path) -> Path:
    pytest.importorskip("gguf")
    from chatapp.bench.crash import _scalar, damaged_copy

    return damaged_copy(default_model, tmp_path / "broken.gguf", _scalar("llama.block_count", 0))


def test_a_crashing_preferred_model_is_not_loaded_at_the_next_start(
    tmp_path: Path, broken: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    settings = home / "settings.json"
    settings.write_text(json.dumps({"default_model": str(broken), "threads": 2}))

    first = run(["--send", "Hello", "--print-startup"], home)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "The model process stopped while loading broken.gguf (llama.cpp aborted)" in first.stderr
    assert "reply: " in first.stdout  # the built-in model took over in the same run
    pid_line = next(line for line in first.stdout.splitlines() if "model loaded in process" in line)
    assert pid_line.split("process ")[1].split()[0] != pid_line.split("app process ")[1].rstrip(")")
    remembered = json.loads(settings.read_text())
    assert remembered["crashed_models"] == {str(broken.resolve()): "llama.cpp aborted"}
    assert remembered["loading_model"] is None

    second = run(["--send", "Hello again", "--print-startup"], home)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "stopped while loading" not in second.stderr  # not tried again
    assert "reply: " in second.stdout
    log = (home / "chatapp.log").read_text()
    assert "broken.gguf was not loaded at start: last time it stopped the model process" in log


def test_a_load_the_app_did_not_survive_is_not_repeated(tmp_path: Path, broken: Path) -> None:
    """If the app's own process ended during a load (the mark is still set at start), that
    file is kept back at the next start too."""
    home = tmp_path / "home"
    home.mkdir()
    settings = home / "settings.json"
    settings.write_text(json.dumps({"default_model": str(broken), "loading_model": str(broken)}))
    result = run(["--quit-after", "1500"], home)
    assert result.returncode == 0, result.stderr[-3000:]
    remembered = json.loads(settings.read_text())
    assert remembered["crashed_models"] == {str(broken.resolve()): "chatapp ended while loading it"}
    assert "stopped while loading" not in (home / "chatapp.log").read_text()
