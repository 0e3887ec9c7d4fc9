"""Kill -9 a process that writes messages in a loop; every message it reported saved survives."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from chatapp.store import Store

WRITER = r"""
import sys
from chatapp.domain import Role, MessageStatus
from chatapp.store import Store
s = Store.open(sys.argv[1])
t = s.threads()[0].id if s.threads() else s.create_thread("crash").id
i = 0
while True:
    m = s.add_message(t, Role.USER, "x" * (i % 500) + f" #{i}")
    r = s.add_message(t, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    s.update_message(r.id, content=f"streamed {i}", status=MessageStatus.COMPLETE)
    print(m.id, r.id, flush=True)
    i += 1
"""


def test_kill_9_keeps_every_reported_message(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite3"
    reported: list[int] = []
    for round_ in range(12):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        lines = 0
        while lines < 20 + round_ * 7 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            reported.extend(int(x) for x in line.split())
            lines += 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for line in proc.stdout:  # lines printed before the kill also count as reported
            reported.extend(int(x) for x in line.split())
        proc.stdout.close()
    assert len(reported) > 300
    s = Store.open(db)
    assert s._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    present = {r[0] for r in s._conn.execute("SELECT id FROM messages")}
    assert set(reported) <= present
    recovered = s.recover_interrupted()
    assert recovered <= 12  # at most the reply in flight at each kill
    s.close()
