"""Only the store writes SQL (README, "How the code is organised"): elsewhere code asks the
store's named methods, so a schema change is made in one package and one transaction
rule holds. Scans the source, so it also catches SQL in a branch no test runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import chatapp

ROOT = Path(chatapp.__file__).parent
# bench/store.py's bulk loads and checkpoints go through chatapp/store/bulk.py
ALLOWED = {"store"}
SQL = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|BEGIN|COMMIT|ROLLBACK|WITH)\b"
    r"|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bDELETE FROM\b|\bUPDATE \w+ SET\b",
    re.DOTALL,
)
# calls that run SQL, and the store's connection, on anything but the module's own `self`
CALLS = {"execute", "executemany", "executescript", "_query", "_one", "_tx", "_conn"}


def _allowed(path: Path, root: Path) -> bool:
    rel = path.relative_to(root).as_posix()
    return any(rel == a or rel.startswith(a + "/") for a in ALLOWED)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def sql_outside_the_store(root: Path = ROOT) -> list[str]:
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if _allowed(path, root):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = _docstrings(tree)
        where = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in CALLS
                and not (isinstance(node.value, ast.Name) and node.value.id == "self")
            ):
                found.append(f"{where}:{node.lineno}: .{node.attr}")
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
                and SQL.search(node.value)
            ):
                found.append(f"{where}:{node.lineno}: {node.value[:50]!r}")
    return found


def test_only_the_store_writes_sql() -> None:
    assert sql_outside_the_store() == []


def test_the_check_finds_sql_and_private_store_calls(tmp_path: Path) -> None:
    (tmp_path / "feature.py").write_text(
        "def f(store):\n"
        '    """SELECT in a docstring is prose."""\n'
        '    store._query("SELECT id FROM messages WHERE thread_id = ?", (1,))\n'
        "    self._query = None  # its own attribute, not the store's\n"
        '    return f"DELETE FROM slots WHERE id = {1}"\n',
        encoding="utf-8",
    )
    found = sql_outside_the_store(tmp_path)
    assert [line.split(": ", 1)[0] for line in found] == [
        "feature.py:3",
        "feature.py:3",
        "feature.py:5",
    ]


def test_the_store_imports_nothing_above_it() -> None:
    """store/ is the bottom of the core: it never imports memory, engine, export, ui or
    workers, not even inside a function (the vector size is the store's own constant)."""
    above = ("chatapp.memory", "chatapp.engine", "chatapp.export", "chatapp.ui", "chatapp.workers")
    found = []
    for path in sorted((ROOT / "store").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith(above)]
    assert found == []
