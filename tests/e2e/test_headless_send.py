"""`chatapp --send` on a machine without a display (a server, CI, ssh): it runs offscreen
instead of aborting in Qt's xcb plugin before a word is sent."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatapp.app import use_offscreen_for_send


def run_without_display(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["CHATAPP_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "chatapp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_offscreen_only_for_send_without_a_display(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(sys, "platform", "linux")
    send = argparse.Namespace(send="hi")
    assert use_offscreen_for_send(send, {})
    assert not use_offscreen_for_send(send, {"DISPLAY": ":0"})
    assert not use_offscreen_for_send(send, {"WAYLAND_DISPLAY": "wayland-0"})
    assert not use_offscreen_for_send(send, {"QT_QPA_PLATFORM": "xcb"})  # the user's choice wins
    assert not use_offscreen_for_send(argparse.Namespace(send=None), {})  # a window needs a screen
    monkeypatch.setattr(sys, "platform", "win32")
    assert not use_offscreen_for_send(send, {})


def test_send_without_a_display_says_what_went_wrong_instead_of_aborting(tmp_path: Path) -> None:
    result = run_without_display(
        ["--send", "hello", "--model", str(tmp_path / "missing.gguf")], tmp_path
    )
    assert "xcb" not in result.stderr
    assert result.returncode == 2, result.stderr  # no reply: the model file is missing
    assert "missing.gguf does not exist." in result.stderr


@pytest.mark.model
def test_send_without_a_display_replies_with_the_default_model(tmp_path: Path) -> None:
    result = run_without_display(
        ["--send", "What is the capital of France?", "--threads", "2"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("reply: ")
    assert "memory: the exchange is indexed (2 messages with embeddings)" in result.stdout
