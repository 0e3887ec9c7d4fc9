"""The real program started on broken and hostile data folders (issue 22): a sentence and a
status, never a traceback, a hang or an abort; nothing already saved is lost."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatapp.domain import Role
from chatapp.store import Store

MISSING_MODEL = ["--model", "/nonexistent/model.gguf"]  # the window starts without loading weights


def run(args: list[str], home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATAPP_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "chatapp", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_sentence(result: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert words in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_data_folder_that_is_a_file_or_below_one(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    assert_sentence(run(["--quit-after", "100"], afile), 1, "is a file, not a folder")
    assert_sentence(run(["list"], afile), 1, "is a file, not a folder")
    assert_sentence(run(["--quit-after", "100"], afile / "sub"), 1, "cannot create its data folder")


def test_an_immutable_data_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    if (
        subprocess.run(["chattr", "+i", str(home)], check=False, capture_output=True).returncode
        != 0
    ):
        pytest.skip("chattr +i is not available here")
    try:
        assert_sentence(run(["--quit-after", "100"], home), 1, "cannot write in its data folder")
    finally:
        subprocess.run(["chattr", "-i", str(home)], check=True)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_send_without_text_says_so_and_quits_at_once(tmp_path: Path, text: str) -> None:
    result = run(["--send", text], tmp_path, timeout=60)
    assert_sentence(result, 2, "--send needs some text")
    assert not (tmp_path / "chatapp.sqlite3").exists()  # no empty thread, no database


def test_a_second_instance_asked_to_send_says_it_did_not(tmp_path: Path) -> None:
    env = {**os.environ, "CHATAPP_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatapp",
            *MISSING_MODEL,
            "--print-startup",
            "--quit-after",
            "20000",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "chatapp: window shown"
        second = run(["--send", "hello"], tmp_path, timeout=60)
        assert_sentence(second, 1, "--send did not send")
    finally:
        first.terminate()
        first.communicate(timeout=60)


def test_the_window_opens_after_a_hostile_import(tmp_path: Path) -> None:
    """The reported crash: a ChatGPT file with times of 1e20 imported, then exit 134 at every
    start. Now its times are replaced on import, and the window, list and export work."""
    conv = {
        "title": "far future",
        "create_time": 1e20,
        "update_time": 1e20,
        "current_node": "a",
        "mapping": {
            "u": {
                "parent": None,
                "children": ["a"],
                "message": {
                    "author": {"role": "user"},
                    "content": {"parts": ["When?"]},
                    "create_time": 1e20,
                },
            },
            "a": {
                "parent": "u",
                "children": [],
                "message": {
                    "author": {"role": "assistant"},
                    "content": {"content_type": "code", "text": "soon"},
                    "create_time": "yesterday",
                },
            },
        },
    }
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conv]))
    home = tmp_path / "home"
    imported = run(["import", str(path)], home)
    assert imported.returncode == 0 and "imported 1 thread(s)" in imported.stdout
    assert "unreadable time(s) were replaced" in imported.stdout
    started = run([*MISSING_MODEL, "--quit-after", "1500"], home)
    assert started.returncode == 0, started.stderr
    listed = run(["list"], home)
    assert listed.returncode == 0 and "far future" in listed.stdout
    out = tmp_path / "t.html"
    assert (
        run(["export", "--thread", "1", "--format", "html", "-o", str(out)], home).returncode == 0
    )
    assert "When?" in out.read_text()


def test_the_window_opens_on_a_database_damaged_by_older_imports(tmp_path: Path) -> None:
    from chatapp.store import migrations

    db = tmp_path / "chatapp.sqlite3"
    Store.open(db).close()
    conn = sqlite3.connect(db)
    before = migrations.MIGRATIONS.index(migrations.m007_repair_imported_times)
    conn.execute(f"PRAGMA user_version = {before}")  # as the app left it before
    conn.execute(
        "INSERT INTO threads (title, created_at, updated_at) VALUES ('segfault', 1, 'yesterday')"
    )
    conn.execute(
        "INSERT INTO messages (thread_id, depth, role, content, created_at, selected_at)"
        " VALUES (1, 0, 'user', 'still here', 1e20, 1e20)"
    )
    conn.commit()
    conn.close()
    result = run([*MISSING_MODEL, "--quit-after", "1500"], tmp_path)
    assert result.returncode == 0, result.stderr
    exported = run(
        ["export", "--thread", "1", "--format", "txt", "-o", str(tmp_path / "t.txt")], tmp_path
    )
    assert exported.returncode == 0 and "still here" in (tmp_path / "t.txt").read_text()


def test_broken_settings_are_kept_aside_and_said_in_the_window(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text('{"gpu": "cpu",')
    result = run([*MISSING_MODEL, "--quit-after", "1500"], tmp_path)
    assert result.returncode == 0, result.stderr
    [aside] = tmp_path.glob("settings.json.broken-*")
    assert aside.read_text() == '{"gpu": "cpu",'
    log = (tmp_path / "chatapp.log").read_text()
    assert f"shown to user: The settings file {tmp_path / 'settings.json'} is not valid JSON" in log
    (tmp_path / "settings.json").write_text('{"gpu": "banana", "n_ctx": "big"}')
    assert run([*MISSING_MODEL, "--quit-after", "1500"], tmp_path).returncode == 0
    log = (tmp_path / "chatapp.log").read_text()
    assert 'back to their defaults: gpu ("banana"); n_ctx ("big")' in log


def test_a_backup_is_made_at_quit_only_of_a_database_with_threads(tmp_path: Path) -> None:
    empty, used = tmp_path / "empty", tmp_path / "used"
    assert run([*MISSING_MODEL, "--quit-after", "500"], empty).returncode == 0
    assert not (empty / "backups").exists() or not list((empty / "backups").glob("*.sqlite3"))
    used.mkdir()
    s = Store.open(used / "chatapp.sqlite3")
    s.add_message(s.create_thread("worth keeping").id, Role.USER, "the first message")
    s.close()
    assert run([*MISSING_MODEL, "--quit-after", "500"], used).returncode == 0
    made = sorted((used / "backups").glob("chatapp-*.sqlite3"))
    assert made  # the daily one at start and/or the one at quit
    conn = sqlite3.connect(made[-1])
    assert conn.execute("SELECT content FROM messages").fetchall() == [("the first message",)]
    conn.close()


def test_a_database_deleted_while_the_app_runs_is_written_back(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("do not lose").id, Role.USER, "precious")
    s.close()
    env = {**os.environ, "CHATAPP_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chatapp",
            *MISSING_MODEL,
            "--print-startup",
            "--quit-after",
            "4000",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert app.stdout is not None
    assert app.stdout.readline().strip() == "chatapp: window shown"
    for name in ("chatapp.sqlite3", "chatapp.sqlite3-wal", "chatapp.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    _out, err = app.communicate(timeout=120)
    assert app.returncode == 5, err
    assert "was deleted while chatapp was running" in err and "Traceback" not in err
    deadline = time.time() + 5
    while not db.exists() and time.time() < deadline:
        time.sleep(0.1)
    again = Store.open(db)
    assert [t.title for t in again.threads()] == ["do not lose"]
    again.close()
