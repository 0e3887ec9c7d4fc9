"""A lost database beside backups is asked about, and Export follows the typed extension
(issue 22 item 8, issue 19 item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from chatapp.domain import Role
from chatapp.store import Store, backup


def precious(root: Path) -> Path:
    root.mkdir(exist_ok=True)
    db = root / "chatapp.sqlite3"
    s = Store.open(db)
    s.add_message(s.create_thread("precious").id, Role.USER, "do not lose me")
    s.close()
    backup.backup_now(db, root / "backups")
    return db


@pytest.mark.parametrize(
    ("state", "choice"), [("missing", 0), ("empty", 0), ("missing", 1), ("empty", 2)]
)
def test_a_lost_database_beside_backups_is_asked_about(
    qtbot, tmp_path: Path, monkeypatch, state: str, choice: int
) -> None:  # type: ignore[no-untyped-def]
    """0: restore the latest backup, 1: start empty, 2: cancel (quit)."""
    from chatapp import app

    root = tmp_path / "home"
    db = precious(root)
    for side in ("-wal", "-shm"):
        db.with_name(db.name + side).unlink(missing_ok=True)
    if state == "missing":
        db.unlink()
    else:
        db.write_bytes(b"")
    asked: list[str] = []

    def exec_(box: QMessageBox) -> int:
        asked.append(box.text())
        buttons = box.buttons()
        wanted = ["Restore the latest backup", "Start empty", "Cancel"][choice]
        button = next(b for b in buttons if b.text().replace("&", "") == wanted)
        monkeypatch.setattr(box, "clickedButton", lambda: button)
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    store = app.open_store_interactively(root)
    assert asked and f"is {'missing' if state == 'missing' else 'empty (0 bytes)'}" in asked[0]
    if choice == 2:
        assert store is None
        return
    assert store is not None
    titles = [t.title for t in store.threads()]
    store.close()
    assert titles == (["precious"] if choice == 0 else [])
    if choice == 0:
        assert backup.backups(root / "backups")
    else:  # kept apart, where the new database's backups never prune them
        (aside,) = (root / "backups").glob("before-*")
        assert backup.backups(aside) and not backup.backups(root / "backups")
        backup.prune(root / "backups", keep_recent=0, keep_days=0)
        assert backup.backups(aside)


@pytest.mark.parametrize(
    ("typed", "chosen_filter", "written", "starts"),
    [
        ("x.html", "Markdown (*.md)", "x.html", b"<!DOCTYPE html>"),
        ("x.md", "Web page (*.html)", "x.md", b"# "),
        ("notes", "chatapp JSON (*.json)", "notes.json", b"{"),
        ("x.pdf", "Plain text (*.txt)", "x.pdf", b"%PDF-"),
    ],
)
def test_the_typed_extension_decides_the_export_format(
    qtbot,
    make_window,
    tmp_path: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
    typed: str,
    chosen_filter: str,
    written: str,
    starts: bytes,
) -> None:
    window = make_window()
    t = window.store.create_thread("exported")
    window.store.add_message(t.id, Role.USER, "hello")
    window._refresh_threads(select=t.id)
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / typed), chosen_filter)
    )
    with qtbot.waitSignal(window.files.export_done, timeout=20000) as blocker:
        window.export_thread()
    assert blocker.args[1] == ""
    assert (tmp_path / written).read_bytes().startswith(starts)
