"""A new data folder is encrypted without anyone asking; the command line converts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chatapp.domain import Role
from chatapp.store import Store, backup, crypto


def run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CHATAPP_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "chatapp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_new_data_folder_is_encrypted_and_its_backups_too(tmp_path: Path) -> None:
    home = tmp_path / "home"
    missing = ["--model", str(tmp_path / "none.gguf"), "--quit-after", "500"]
    assert run(missing, home).returncode == 0
    db = home / "chatapp.sqlite3"
    assert crypto.state(db) == "encrypted"
    key = crypto.key_for(db, create=False)
    assert key is not None
    assert not any(p.suffix == ".key" for p in home.rglob("*"))  # the key is not beside the data
    s = Store.open(db, key)
    s.add_message(s.create_thread("private").id, Role.USER, "my blood pressure readings")
    s.close()
    assert run(missing, home).returncode == 0  # a second start: the backup at quit
    made = backup.backups(home / "backups")
    assert made and all(crypto.state(p) == "encrypted" for p in made)
    assert all(b"blood pressure" not in p.read_bytes() for p in made)
    listed = run(["list"], home)
    assert listed.returncode == 0 and "private" in listed.stdout


def test_encrypt_and_decrypt_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = home / "chatapp.sqlite3"
    s = Store.open(db)  # a plain database, as chatapp made them before
    s.add_message(s.create_thread("old").id, Role.USER, "written before encryption")
    s.close()
    backup.backup_now(db, home / "backups")
    done = run(["encrypt"], home)
    assert done.returncode == 0, done.stderr
    assert "key is kept in" in done.stdout and "weaker" in done.stdout  # no keyring in tests
    assert crypto.state(db) == "encrypted"
    assert [crypto.state(p) for p in backup.backups(home / "backups")] == ["encrypted"]
    listed = run(["list"], home)
    assert listed.returncode == 0 and "old" in listed.stdout
    again = run(["encrypt"], home)
    assert again.returncode == 1 and "not a plain chatapp database" in again.stderr
    back = run(["decrypt"], home)
    assert back.returncode == 0, back.stderr
    assert crypto.state(db) == "plain"
    s = Store.open(db)
    assert [m.content for m in s.path(1)] == ["written before encryption"]
    s.close()


def test_a_passphrase_from_the_environment_for_the_command_line_and_the_window(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    db = home / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("guarded").id, Role.USER, "behind a passphrase")
    s.close()

    def with_env(args: list[str], passphrase: str | None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CHATAPP_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
        env.pop(crypto.ENV_PASSPHRASE, None)
        if passphrase is not None:
            env[crypto.ENV_PASSPHRASE] = passphrase
        return subprocess.run(
            [sys.executable, "-m", "chatapp", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )

    done = with_env(["encrypt", "--passphrase"], "blue lanterns at dusk")
    assert done.returncode == 0 and "under your passphrase" in done.stdout, done.stderr
    raw = db.read_bytes()
    unasked = with_env(["list"], None)  # no terminal to ask at
    assert unasked.returncode == 1 and crypto.ENV_PASSPHRASE in unasked.stderr
    wrong = with_env(["export", "--all", "--format", "json", "-o", str(tmp_path / "o.json")], "red")
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr.lower()
    assert not (tmp_path / "o.json").exists() and db.read_bytes() == raw
    listed = with_env(["list"], "blue lanterns at dusk")
    assert listed.returncode == 0 and "guarded" in listed.stdout
    missing = ["--model", str(tmp_path / "none.gguf"), "--quit-after", "500"]
    window = with_env(missing, "blue lanterns at dusk")  # no dialog: the variable opens it
    assert window.returncode == 0, window.stderr
    assert crypto.state(db) == "encrypted" and crypto.uses_passphrase(db)
