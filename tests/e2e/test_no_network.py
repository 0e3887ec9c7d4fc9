"""Nothing leaves the machine unasked: a whole session opens no network connection.

Every Python process of the session (the app, and any process it starts) runs with an audit
hook, installed through `sitecustomize`, that records each connection to an address outside
the local machine's own sockets (AF_UNIX pipes between processes are fine) and each host-name
look-up, and refuses them. Without a server endpoint configured, the list must stay empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GUARD = """
import os, socket, sys

_LOG = os.environ["CHATAPP_NET_LOG"]

def _record(what):
    with open(_LOG, "a", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {what}\\n")

def _hook(event, args):
    if event == "socket.connect":
        sock, address = args
        if sock.family != socket.AF_UNIX:
            _record(f"connect {address!r}")
            raise PermissionError("network access during the no-network test")
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        _record(f"{event} {args[0]!r}")
        raise PermissionError("host name look-up during the no-network test")

sys.addaudithook(_hook)
with open(_LOG + ".guarded", "a", encoding="utf-8") as f:
    f.write(f"{os.getpid()} {sys.argv!r}\\n")
"""


def _run(args: list[str], home: Path, guard: Path, log: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CHATAPP_HOME": str(home),
        "QT_QPA_PLATFORM": "offscreen",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([str(guard), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "CHATAPP_NET_LOG": str(log),
    }
    return subprocess.run(
        [sys.executable, "-m", "chatapp", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.model
def test_a_whole_session_opens_no_network_connection(tmp_path: Path) -> None:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "network.log"
    home = tmp_path / "home"

    # the guard itself works: a connection attempt (to this machine's loopback) is recorded and
    # refused before anything is sent
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.socket().connect(('127.0.0.1', 9))"],
        env={**os.environ, "PYTHONPATH": str(guard), "CHATAPP_NET_LOG": str(log)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0
    assert "connect" in log.read_text()
    log.unlink()

    # start, chat, memory ingest (the embedding model loads), then list and export
    sent = _run(
        ["--send", "Hello, I live in Porto and work as a nurse.", "--threads", "2"],
        home,
        guard,
        log,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("reply: ")
    assert "memory: the exchange is indexed" in sent.stdout
    listed = _run(["list"], home, guard, log)
    assert listed.returncode == 0, listed.stderr
    out = tmp_path / "thread.json"
    exported = _run(["export", "--all", "--format", "json", "-o", str(out)], home, guard, log)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text(encoding="utf-8"))

    assert not log.exists(), log.read_text()
    guarded = Path(f"{log}.guarded").read_text()
    assert guarded.count("\n") >= 3  # the three commands above ran under the guard
