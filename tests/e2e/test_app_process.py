"""The real program as a subprocess, with a temporary data folder and the real default model."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import chatapp


def keyed(db: Path):  # type: ignore[no-untyped-def]
    """A connection to a database the app made: a new data folder's is encrypted."""
    from chatapp.store import crypto

    return crypto.connect(db, crypto.key_for(db, create=False))


def run(args: list[str], home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATAPP_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "chatapp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_version(tmp_path: Path) -> None:
    result = run(["--version"], tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"chatapp {chatapp.__version__}"


@pytest.mark.model
def test_send_one_message_with_the_default_model(tmp_path: Path) -> None:
    result = run(["--send", "What is the capital of France?", "--threads", "2"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("reply: ")
    # the exchange went through the memory too (the embedding model loaded, both messages indexed)
    assert "memory: the exchange is indexed (2 messages with embeddings)" in result.stdout
    # no progress bar from transformers when the embedder loads
    # ("Loading weights: 100%|###| 103/103")
    assert "Loading weights" not in result.stderr + result.stdout
    assert not re.search(r"\d+/\d+ \[", result.stderr + result.stdout)
    db = keyed(tmp_path / "chatapp.sqlite3")
    rows = db.execute("SELECT role, status, model FROM messages ORDER BY id").fetchall()
    db.close()
    assert [(r[0], r[1]) for r in rows] == [("user", "complete"), ("assistant", "complete")]
    assert rows[1][2]  # the model that wrote it is recorded


def test_quit_after_with_a_missing_model_shows_the_error_and_exits(tmp_path: Path) -> None:
    result = run(["--model", str(tmp_path / "missing.gguf"), "--quit-after", "1500"], tmp_path)
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "chatapp.log").read_text()
    assert "does not exist" in log


def test_data_dir_option_beats_the_environment(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    result = run(
        ["--data-dir", str(other), "--model", str(tmp_path / "none.gguf"), "--quit-after", "500"],
        tmp_path / "env",
    )
    assert result.returncode == 0, result.stderr
    assert (other / "chatapp.sqlite3").exists()
    assert not (tmp_path / "env" / "chatapp.sqlite3").exists()


def test_command_line_list_export_and_import(tmp_path: Path) -> None:
    import json

    from chatapp.domain import Role
    from chatapp.store import Store

    store = Store.open(tmp_path / "chatapp.sqlite3")
    t = store.create_thread("CLI thread")
    store.add_message(t.id, Role.USER, "hello from the command line")
    store.close()
    listed = run(["list"], tmp_path)
    assert (
        listed.returncode == 0 and "CLI thread" in listed.stdout and f"{t.id:>6}" in listed.stdout
    )
    out = tmp_path / "out.json"
    exported = run(["export", "--thread", str(t.id), "--format", "json", "-o", str(out)], tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert (
        json.loads(out.read_text())["threads"][0]["messages"][0]["content"]
        == "hello from the command line"
    )
    pdf = run(
        ["export", "--thread", str(t.id), "--format", "pdf", "-o", str(tmp_path / "t.pdf")],
        tmp_path,
    )
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "t.pdf").read_bytes()[:5] == b"%PDF-"
    imported = run(["import", str(out)], tmp_path)
    assert imported.returncode == 0 and "imported 1 thread" in imported.stdout
    missing = run(
        ["export", "--thread", "999", "--format", "md", "-o", str(tmp_path / "x.md")], tmp_path
    )
    assert missing.returncode == 1 and "no thread 999" in missing.stderr
    bad = run(["import", str(tmp_path / "nothing.json")], tmp_path)
    assert bad.returncode == 1 and "cannot be read" in bad.stderr


def test_the_app_starts_when_the_trash_cannot_be_emptied(tmp_path: Path) -> None:
    """Old trash is emptied at start-up; if that fails, the app still starts and says why in
    its log."""
    missing = str(tmp_path / "missing.gguf")
    assert run(["--model", missing, "--quit-after", "500"], tmp_path).returncode == 0
    db = keyed(tmp_path / "chatapp.sqlite3")
    db.execute(
        "INSERT INTO threads (title, created_at, updated_at, deleted_at) VALUES ('old', 0, 0, 1)"
    )
    # stands in for any failure of the delete (it was "too many levels of trigger recursion")
    db.execute(
        "CREATE TRIGGER refuse BEFORE DELETE ON threads"
        " BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
    )
    db.commit()
    db.close()
    result = run(["--model", missing, "--quit-after", "500"], tmp_path)
    assert result.returncode == 0, result.stderr
    log = (tmp_path / "chatapp.log").read_text()
    assert "the trash could not be emptied now" in log and "refused for the test" in log
    db = keyed(tmp_path / "chatapp.sqlite3")
    assert db.execute("SELECT title FROM threads WHERE deleted_at IS NOT NULL").fetchall() == [
        ("old",)
    ]
    db.close()
