"""The GUI thread asks, it does not write (issue 20): no module of chatapp/ui calls a write
method of the store on its own thread. A write is allowed only inside a function handed to
the store's writer (`ask`, `call`) or the memory thread (`write`), which run it there.

The write methods are read from the store classes themselves (a method that opens a write
transaction, or calls one that does), so a new one is covered the day it is added."""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import chatapp.ui
from chatapp.store.memory_tables import MemoryTables
from chatapp.store.store import Store

UI = Path(chatapp.ui.__file__).parent
TRANSACTIONS = {"_tx", "_bulk_tx"}
# methods that take a function and run it off the GUI thread: the store writer's `ask` and
# `call`, the memory controller's `write`, and the memory panel's `_write` that hands on to them
ASKING = {"ask", "call", "write", "_write"}


def _calls(node: ast.AST) -> set[str]:
    return {
        sub.func.attr
        for sub in ast.walk(node)
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
    }


def write_methods() -> set[str]:
    """Methods of Store and MemoryTables that open a write transaction, or call (on the same
    object) a method that does."""
    methods: dict[str, set[str]] = {}
    for cls in (Store, MemoryTables):
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        for node in tree.body[0].body:  # type: ignore[attr-defined]
            if isinstance(node, ast.FunctionDef):
                methods[node.name] = _calls(node)
    writes = {name for name, calls in methods.items() if calls & TRANSACTIONS}
    grown = True
    while grown:
        more = {name for name, calls in methods.items() if calls & writes} - writes
        grown = bool(more)
        writes |= more
    return {name for name in writes if not name.startswith("_")}  # the named ones callers use


def _receiver(node: ast.expr) -> str:
    """The last name of what a method is called on: `window.store.x()` -> "store"."""
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _asked_functions(tree: ast.Module, parents: dict[ast.AST, ast.AST]) -> set[ast.AST]:
    """Lambdas and functions handed (as a positional argument) to an asking method: by value,
    by a local function's name, or as `self.method` of the enclosing class."""
    asked: set[ast.AST] = set()
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        name = _receiver(call.func)
        if name not in ASKING:
            continue
        for arg in call.args:  # keyword arguments are callbacks, run on the GUI thread
            if isinstance(arg, ast.Lambda):
                asked.add(arg)
            elif isinstance(arg, ast.Name):
                scope = parents.get(call)
                while scope is not None:
                    for sub in ast.iter_child_nodes(scope):
                        if isinstance(sub, ast.FunctionDef) and sub.name == arg.id:
                            asked.add(sub)
                    scope = parents.get(scope)
            elif isinstance(arg, ast.Attribute) and _receiver(arg.value) == "self":
                cls = parents.get(call)
                while cls is not None and not isinstance(cls, ast.ClassDef):
                    cls = parents.get(cls)
                for sub in cls.body if cls is not None else []:
                    if isinstance(sub, ast.FunctionDef) and sub.name == arg.attr:
                        asked.add(sub)
    return asked


def gui_thread_writes(source: str, writes: set[str]) -> list[tuple[int, str]]:
    """(line, call) of each store write called outside a function handed to a writer."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    asked = _asked_functions(tree, parents)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = _receiver(node.func.value).lower()
        if node.func.attr not in writes or not ("store" in receiver or "tables" in receiver):
            continue
        up = parents.get(node)
        while up is not None and up not in asked:
            up = parents.get(up)
        if up is None:
            found.append((node.lineno, ast.unparse(node.func)))
    return sorted(found)


def test_the_write_methods_are_read_from_the_store_classes() -> None:
    writes = write_methods()
    # a few that every reader of the store knows, so an empty or broken reading fails here
    assert {"add_message", "save_draft", "rename_thread", "import_threads"} <= writes
    assert {"save_slot", "set_memory_enabled"} <= writes
    assert "edit_message" in writes  # writes through add_message
    assert not {"thread", "threads", "message", "path", "search", "slots"} & writes


def test_no_ui_module_writes_on_the_gui_thread() -> None:
    writes = write_methods()
    found = {
        f"{path.name}:{line} {call}"
        for path in sorted(UI.glob("*.py"))
        for line, call in gui_thread_writes(path.read_text(encoding="utf-8"), writes)
    }
    assert not found, "ask the store's writer instead (chatapp/workers/store_writer.py)"


def test_a_function_that_only_hands_on_is_asking() -> None:
    """A ui method named as an asking one (`_write`) must hand its function on, never call it
    on the GUI thread itself: else the rule above would be a hole."""
    for path in sorted(UI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name in ASKING:
                params = {a.arg for a in node.args.args + node.args.kwonlyargs}
                called = {
                    sub.func.id
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)
                }
                assert not params & called, f"{path.name}: {node.name} runs what it is given"


def test_the_check_finds_a_write_on_the_gui_thread() -> None:
    """The checker itself: a direct call is found; the same call handed to a writer is not."""
    writes = write_methods()
    source = textwrap.dedent(
        """
        class Actions:
            def rename(self, window, title):
                window.store.rename_thread(1, title)
                window.writer.ask(window.store.rename_thread, 1, title)
                window.writer.ask(lambda: window.store.pin_thread(1, True))

                def both():
                    window.store.trash_thread(1)

                window.writer.ask(both, on_done=lambda _r: self.tables.delete_slot(2))
                window.writer.ask(self._kept)

            def _kept(self):
                self._store.save_draft(1, "")
        """
    )
    assert gui_thread_writes(source, writes) == [
        (4, "window.store.rename_thread"),
        (11, "self.tables.delete_slot"),  # a callback runs on the GUI thread
    ]
