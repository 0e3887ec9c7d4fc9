"""Make README's memory example: a thread of a few weeks through the app's own memory (the real
embedding model, a real store), then the memory panel as it shows the thread, and the memory
part of the context a question about now gets.

    .venv/bin/python scripts/memory_example.py docs/memory-panel.png

(From a worktree other than the installed checkout, put it first: PYTHONPATH=.)
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from PySide6.QtWidgets import QApplication

from chatapp.domain import Role
from chatapp.engine.default_model import default_model_path
from chatapp.memory.builder import ContextBuilder
from chatapp.memory.embedder import shared_embedder
from chatapp.memory.service import MemoryService
from chatapp.store import Store
from chatapp.ui.memory_panel import MemoryPanel

# (day in 2026, what the user said, what the assistant answered)
THREAD = [
    (
        (2, 2),
        "Hi! I'm Noor. I live in Utrecht and work as a nurse on the night shift.",
        "Nice to meet you, Noor. Night shifts are hard work.",
    ),
    (
        (2, 9),
        "Any ideas for a quiet weekend? The weather is grey again.",
        "A museum morning and a long lunch could be nice.",
    ),
    ((2, 20), "My partner Sam and I adopted a kitten called Pip.", "Congratulations on Pip!"),
    (
        (3, 14),
        "Big news: these days I'm based in Rotterdam, we moved last week.",
        "Good luck settling in Rotterdam!",
    ),
    (
        (4, 2),
        "I teach maths at a secondary school now, nursing was wearing me out.",
        "That is a big change; I hope the classes are going well.",
    ),
]
QUESTION = "Where do I live now, and what is my job?"


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/memory-panel.png")
    app = QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="chatapp-memory-example-"))
    store = Store.open(tmp / "chatapp.sqlite3")
    embedder = shared_embedder()
    service = MemoryService(store, embedder.encode, embedder.name)
    thread = store.create_thread("Noor", now=dt.datetime(2026, 2, 2, 20).timestamp())
    for (month, day), said, answer in THREAD:
        when = dt.datetime(2026, month, day, 20).timestamp()
        store.add_message(thread.id, Role.USER, said, created_at=when)
        store.add_message(thread.id, Role.ASSISTANT, answer, created_at=when + 30)
        service.ingest(thread.id, now=when)
    panel = MemoryPanel(store)
    panel.resize(420, 520)
    panel.show_thread(thread.id)
    panel.show()
    app.processEvents()
    print("Memory panel, Slots tab:")
    for i in range(panel.slot_list.count()):
        print(panel.slot_list.item(i).text())
    panel.grab().save(str(out))
    print(f"\nwrote {out}")

    from chatapp.engine.backend import ModelSpec
    from chatapp.engine.llama_backend import LlamaBackend

    backend = LlamaBackend()
    backend.load(ModelSpec(str(default_model_path()), n_ctx=2048, gpu="cpu"))
    asked = dt.datetime(2026, 4, 20, 9).timestamp()
    question = store.add_message(thread.id, Role.USER, QUESTION, created_at=asked)
    builder = ContextBuilder(store, backend.count_text_tokens, embedder.encode_one)
    built = builder.build(thread.id, "", question, 1200, now=asked)
    print("\nThe memory part of the context for:", QUESTION)
    for part in built.parts:
        print(f"[{part.kind}]\n{part.text}")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
