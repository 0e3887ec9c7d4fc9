"""`chatapp --help` names every subcommand (walkthrough 2, item 24): run as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chatapp import cli


def test_the_windows_help_lists_every_subcommand(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "CHATAPP_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "chatapp", "--help"],
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.returncode == 0, out.stderr
    for name in ("export", "import", "list", "encrypt", "decrypt"):
        line = next((ln for ln in out.stdout.splitlines() if f"chatapp {name} " in ln), "")
        assert cli.HELP[name] in line, f"{name} is not listed: {out.stdout}"
    assert set(cli.HELP) == set(cli.COMMANDS)
