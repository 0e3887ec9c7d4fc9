"""A passphrase instead of a kept key: SQLCipher's own derivation, asked once per start, on
real SQLCipher files (issue 21)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlcipher3 import dbapi2 as cipher

from chatapp import cli
from chatapp.domain import Role
from chatapp.store import Store, backup, convert, crypto

WORDS = "correct horse battery staple"


def filled(path: Path, key: str | None, threads: int = 3) -> list[str]:
    s = Store.open(path, key)
    for n in range(threads):
        t = s.create_thread(f"thread {n}")
        s.add_message(t.id, Role.USER, f"my secret number {n}")
    out = sorted(m.content for t in s.threads() for m in s.path(t.id))
    s.close()
    return out


def contents(path: Path, key: str | None) -> list[str]:
    s = Store.open(path, key)
    try:
        return sorted(m.content for t in s.threads() for m in s.path(t.id))
    finally:
        s.close()


def test_the_derived_key_is_sqlciphers_own(tmp_path: Path) -> None:
    """A file keyed with the passphrase by SQLCipher opens with chatapp's derived key, and a
    file chatapp writes with it opens with the passphrase under SQLCipher's defaults."""
    theirs = tmp_path / "theirs.db"
    conn = cipher.connect(str(theirs))
    conn.execute(f"PRAGMA key = '{WORDS}'")
    conn.execute("CREATE TABLE t (a)")
    conn.execute("INSERT INTO t VALUES (42)")
    conn.commit()
    conn.close()
    mine = crypto.connect(theirs, crypto.key_from_passphrase(theirs, WORDS))
    assert mine.execute("SELECT a FROM t").fetchall() == [(42,)]
    mine.close()
    ours = tmp_path / "chatapp.sqlite3"
    filled(ours, crypto.key_from_passphrase(ours, WORDS))
    plain_sqlcipher = cipher.connect(str(ours))
    plain_sqlcipher.execute(f"PRAGMA key = '{WORDS}'")
    assert plain_sqlcipher.execute("SELECT count(*) FROM threads").fetchone() == (3,)
    plain_sqlcipher.close()


def test_a_database_converted_to_a_passphrase_asks_for_it(tmp_path: Path) -> None:
    db, folder = tmp_path / "chatapp.sqlite3", tmp_path / "backups"
    key = crypto.key_for(db)
    before = filled(db, key)
    old = backup.backup_now(db, folder, key=key)
    copy = tmp_path / "copy-elsewhere.sqlite3"  # a backup moved out of chatapp's sight
    copy.write_bytes(old.read_bytes())
    assert convert.change_key(db, folder, key, passphrase=WORDS) == crypto.PASSPHRASE
    assert crypto.uses_passphrase(db)
    with pytest.raises(crypto.PassphraseNeeded):
        crypto.key_for(db)
    derived = crypto.key_from_passphrase(db, WORDS)
    assert contents(db, derived) == before
    assert contents(old, derived) == before  # the backup too, under the same passphrase
    made = backup.backup_now(db, folder, key=derived, now=2e9)
    assert contents(made, crypto.key_from_passphrase(made, WORDS)) == before
    said = crypto.describe(db, derived)
    assert "passphrase" in said and "kept nowhere" in said
    # the kept key is not deleted: a copy of the folder or a backup moved elsewhere, made
    # under it, still opens (chatapp cannot see them to know they need it)
    assert crypto.find_key(db) is not None and "not deleted" in said
    assert contents(copy, crypto.find_key(db)[0]) == before
    assert [target for _, target, _ in crypto.conversions(db, derived)] == ["key", "plain"]


def test_a_wrong_passphrase_is_said_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "chatapp.sqlite3"
    before = filled(db, None)
    convert.encrypt(db, passphrase=WORDS)
    raw = db.read_bytes()
    with pytest.raises(crypto.WrongKey, match="cannot be opened"):
        Store.open(db, crypto.key_from_passphrase(db, "correct horse battery stapler"))
    assert db.read_bytes() == raw
    assert contents(db, crypto.key_from_passphrase(db, WORDS)) == before  # and again, right


def test_back_from_a_passphrase_to_a_kept_key_and_to_plain(tmp_path: Path) -> None:
    db, folder = tmp_path / "chatapp.sqlite3", tmp_path / "backups"
    before = filled(db, None)
    backup.backup_now(db, folder)
    assert convert.encrypt(db, folder, passphrase=WORDS) == crypto.PASSPHRASE
    derived = crypto.key_from_passphrase(db, WORDS)
    convert.change_key(db, folder, derived, passphrase=None)
    assert not crypto.uses_passphrase(db)
    key = crypto.key_for(db)
    [old] = backup.backups(folder)
    assert contents(db, key) == before == contents(old, key)
    convert.decrypt(db, folder)
    assert crypto.state(db) == crypto.state(old) == "plain"
    assert contents(db, None) == before


def test_the_command_line_reads_the_passphrase_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    filled(db, None)
    convert.encrypt(db, passphrase=WORDS)
    raw = db.read_bytes()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 1
    assert crypto.ENV_PASSPHRASE in capsys.readouterr().err
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, "not it")
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 1
    assert "wrong passphrase" in capsys.readouterr().err.lower()
    assert db.read_bytes() == raw
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 0
    assert "thread 2" in capsys.readouterr().out


def test_the_command_line_asks_at_a_terminal_until_it_is_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    filled(db, None)
    convert.encrypt(db, passphrase=WORDS)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    answers = iter(["wrong", WORDS])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "wrong passphrase" in captured.err.lower() and "thread 2" in captured.out


def test_a_switch_back_to_a_kept_key_stopped_before_the_mark_still_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a passphrase back to a kept key, stopped after the swap but before the mark was
    taken away: the mark says 'passphrase', yet the kept key opens it, and is used."""
    db = tmp_path / "chatapp.sqlite3"
    before = filled(db, None)
    convert.encrypt(db, passphrase=WORDS)
    with monkeypatch.context() as patched:
        patched.setattr(crypto, "set_passphrase_mark", lambda *_a: None)  # stopped there
        convert.change_key(db, None, crypto.key_from_passphrase(db, WORDS), passphrase=None)
    assert crypto.uses_passphrase(db)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    key = cli.key_for_command(db)
    assert key is not None and contents(db, key) == before
    assert not crypto.uses_passphrase(db)


@pytest.mark.parametrize("lost", ["id file", "mark"])
def test_the_command_line_opens_a_lost_mark_with_the_environment_passphrase(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lost: str,
) -> None:
    """The missing key's message says to set CHATAPP_PASSPHRASE: `chatapp list` then opens
    the database (and writes the mark again), whether the id file is gone or only its mark
    while a kept key that no longer opens the file is found; without it, it fails and says
    so, changing nothing."""
    db = tmp_path / "chatapp.sqlite3"
    filled(db, None)
    convert.encrypt(db, passphrase=WORDS)
    if lost == "id file":
        crypto.id_file(db).unlink()
    else:
        crypto.store_key(db, crypto.new_key())
        crypto.set_passphrase_mark(db, False)
    raw = db.read_bytes()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 1
    assert crypto.ENV_PASSPHRASE in capsys.readouterr().err
    assert db.read_bytes() == raw and not crypto.uses_passphrase(db)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, "not it")
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 1
    assert not crypto.uses_passphrase(db)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, WORDS)
    assert cli.main(["list", "--data-dir", str(tmp_path)]) == 0
    assert "thread 2" in capsys.readouterr().out
    assert crypto.uses_passphrase(db)


def test_only_a_file_of_whole_pages_can_be_an_encrypted_database(tmp_path: Path) -> None:
    """A lost passphrase mark offers the passphrase only for a file that could be SQLCipher's
    (whole 4 KiB pages): a damaged file cut mid-page is offered its backup, not a prompt."""
    db = tmp_path / "chatapp.sqlite3"
    store = Store.open(db, crypto.derive_key("words", crypto.new_salt()))
    store.create_thread("x")
    store.close()
    assert crypto.state(db) == "encrypted" and crypto.whole_pages(db)
    db.write_bytes(db.read_bytes()[:5000])
    assert not crypto.whole_pages(db)
    assert not crypto.whole_pages(tmp_path / "absent.sqlite3")


def test_a_short_new_passphrase_at_the_terminal_is_warned_about_and_may_be_declined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`chatapp encrypt --passphrase` warns as the dialog does (walkthrough: "abc" went by)."""
    db = tmp_path / "chatapp.sqlite3"
    before = filled(db, None)
    raw = db.read_bytes()
    monkeypatch.delenv(crypto.ENV_PASSPHRASE, raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "abc")
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")
    assert cli.main(["encrypt", "--passphrase", "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "3 characters" in captured.out and "nothing was changed" in captured.err.lower()
    assert db.read_bytes() == raw  # still the plain file
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    assert cli.main(["encrypt", "--passphrase", "--data-dir", str(tmp_path)]) == 0
    assert contents(db, crypto.key_from_passphrase(db, "abc")) == before


def test_a_short_passphrase_from_the_environment_is_used_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "chatapp.sqlite3"
    before = filled(db, None)
    monkeypatch.setenv(crypto.ENV_PASSPHRASE, "short")
    assert cli.main(["encrypt", "--passphrase", "--data-dir", str(tmp_path)]) == 0
    assert "5 characters" in capsys.readouterr().err
    assert contents(db, crypto.key_from_passphrase(db, "short")) == before
