"""Make the README's screenshots: the real window, offscreen, with a real conversation.

    .venv/bin/python scripts/screenshot.py docs/screenshot-dark.png dark
    .venv/bin/python scripts/screenshot.py docs/screenshot-light.png light

(From a worktree other than the installed checkout, put it first: PYTHONPATH=.)
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from chatapp.config.settings import AppSettings
from chatapp.domain import GenerationSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.default_model import default_model_path
from chatapp.engine.llama_backend import LlamaBackend
from chatapp.store import Store
from chatapp.ui.main_window import MainWindow
from chatapp.workers.engine import EngineController

QUESTIONS = [
    "Hi! I'm planning a trip to Lisbon next month. What should I see?",
    "Can you give me a short packing list as a Markdown list?",
]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshot-light.png")
    theme = sys.argv[2] if len(sys.argv) > 2 else "light"
    app = QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="chatapp-shot-"))
    store = Store.open(tmp / "db.sqlite3")
    for title in ("Weekly meal plan", "Python packaging questions", "Garden notes"):
        store.create_thread(title)
    engine = EngineController(LlamaBackend)
    settings = QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        store,
        engine,
        ModelSpec(str(default_model_path())),
        settings,
        app_settings=AppSettings(theme=theme),
    )
    window.resize(1100, 720)
    window.show()
    pending = list(QUESTIONS)

    def ask(*_args: object) -> None:
        if pending:
            window.composer.setPlainText(pending.pop(0))
            window.send()
        else:
            QTimer.singleShot(300, finish)

    def finish() -> None:
        window.composer.setPlainText("Thanks! And the weather in May?")
        window.grab().save(str(out))
        print(f"wrote {out}")
        window.close()
        app.quit()

    def start(thread_id: int) -> None:  # the new chat is stored and open
        store.update_thread(  # the same replies in both themes
            thread_id, settings=GenerationSettings(temperature=0.3, seed=7, max_tokens=160)
        )
        ask()

    opened = lambda: window.new_thread_then(start)
    engine.loaded.connect(lambda _info: QTimer.singleShot(100, opened))
    window.session.reply_done.connect(lambda _m: QTimer.singleShot(100, ask))
    app.exec()
    engine.shutdown()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
