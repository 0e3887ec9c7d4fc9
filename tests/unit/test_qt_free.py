"""The core packages must work without Qt (DESIGN.md: only app, workers and ui import PySide6)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import chatapp

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
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_gui_starts_without_torch() -> None:
    """Importing torch takes seconds: what the GUI thread imports at start-up must not pull it
    (the gates and the embedder import it on the engine and memory threads)."""
    code = (
        "import sys\n"
        "import chatapp.app, chatapp.ui.main_window, chatapp.ui.session, chatapp.workers.engine\n"
        "import chatapp.workers.memory, chatapp.engine.llama_backend\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


CORE_DIRS = ("store", "engine", "memory", "export", "config")
CORE_FILES = ("domain.py", "errors.py", "atomic.py", "timestamps.py")
FORBIDDEN = ("PySide6", "chatapp.ui", "chatapp.workers", "chatapp.app")


def _core_sources() -> list[Path]:
    root = Path(chatapp.__file__).parent
    files = [root / name for name in CORE_FILES]
    for folder in CORE_DIRS:
        files += sorted((root / folder).rglob("*.py"))
    return files


def _imported_names(tree: ast.AST, package: str) -> list[tuple[int, str]]:
    """Every module an import statement names, at module level or inside a function."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.append((node.lineno, base))
            names += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return names


def test_core_never_imports_qt_or_the_gui_side_even_at_call_time() -> None:
    """The subprocess test above sees module-level imports only; an import inside a function
    (run when a user exports a PDF, say) would pull Qt into the core unnoticed."""
    root = Path(chatapp.__file__).parent
    found = []
    for path in _core_sources():
        module = ".".join(("chatapp", *path.relative_to(root).with_suffix("").parts))
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, name in _imported_names(ast.parse(path.read_text(), str(path)), package):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN):
                found.append(f"{path.relative_to(root.parent)}:{line} imports {name}")
    assert found == []
