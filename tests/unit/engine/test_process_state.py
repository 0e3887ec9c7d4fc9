"""A model process that has ended is seen as ended before its last thread is gone (the state
the sentinel's pipe lags behind on a busy machine)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from chatapp.engine.model_process import _ending

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# a process with a second thread busy in C code, as llama.cpp's workers are
BUSY = (
    "import threading, time, hashlib\n"
    "def spin():\n"
    "    while True: hashlib.sha256(b'x' * 10_000_000).digest()\n"
    "threading.Thread(target=spin, daemon=True).start()\n"
    "time.sleep(60)\n"
)


def test_a_killed_process_is_ending_and_a_live_one_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        time.sleep(0.5)
        assert not _ending(child.pid)  # running
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not _ending(child.pid):  # not reaped: the parent has not waited yet
            assert time.monotonic() < deadline, "a killed process never read as ended"
            time.sleep(0.01)
    finally:
        child.kill()
        child.wait()
    assert not _ending(child.pid)  # reaped: gone (a pid reused since would be alive)
    assert not _ending(None)
