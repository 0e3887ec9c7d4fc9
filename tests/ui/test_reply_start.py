"""A reply starts without the window freezing (issue 19, defect 12).

The freeze was torch's first import (its C++ start-up holds the GIL for a few hundred
milliseconds) done by the engine thread when the first context was built. It now happens
while the model loads. The figures are `python -m chatapp.bench gui`'s; this test checks the
behaviour behind them, in a fresh interpreter (this one may have imported torch already).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QCoreApplication
app = QCoreApplication([])
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.store import Store
from chatapp.workers.engine import EngineController

assert "torch" not in sys.modules, "imported too early: the window would open slower"
store = Store.open(sys.argv[1])
fake = FakeBackend()
engine = EngineController(lambda: fake, store=store)
seen = []
engine.loaded.connect(lambda info: seen.append("torch" in sys.modules))
engine.load(ModelSpec("fake.gguf"))
while not seen:
    app.processEvents()
print("torch imported when the model was ready:", seen[0])
engine.shutdown(5000)
store.close()
"""


def test_the_memory_code_is_imported_while_the_model_loads(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "s.sqlite3")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch imported when the model was ready: True" in done.stdout
