"""The core packages must work without Qt (DESIGN.md: only app, workers and ui import PySide6)."""

import os
import subprocess
import sys

CORE = [
    "chatapp.domain",
    "chatapp.errors",
    "chatapp.config.paths",
    "chatapp.config.settings",
    "chatapp.store",
    "chatapp.store.backup",
    "chatapp.engine.backend",
    "chatapp.engine.llama_backend",
    "chatapp.engine.fake",
    "chatapp.engine.device",
    "chatapp.engine.default_model",
    "chatapp.memory.context",
    "chatapp.memory.builder",
    "chatapp.memory.slots",
    "chatapp.memory.service",
    "chatapp.memory.summaries",
    "chatapp.memory.extraction",
    "chatapp.export.writer",
    "chatapp.export.importers",
    "chatapp.export.html_format",
    "chatapp.export.clean",
    "chatapp.timestamps",
    "chatapp.cli",
]


def test_core_imports_with_pyside6_blocked() -> None:
    code = (
        "import sys\n"
        "sys.modules['PySide6'] = None\n"
        + "".join(f"import {name}\n" for name in CORE)
        + "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_gui_starts_without_torch() -> None:
    """Importing torch takes seconds: what the GUI thread imports at start-up must not pull it
    (the gates and the embedder import it on the engine and memory threads)."""
    code = (
        "import sys\n"
        "import chatapp.app, chatapp.ui.main_window, chatapp.ui.session, chatapp.workers.engine\n"
        "import chatapp.workers.memory, chatapp.engine.llama_backend\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
