"""Make docs/screenshot.png: the real window, offscreen, with a real conversation.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from chatapp.engine.backend import ModelSpec  # noqa: E402
from chatapp.engine.default_model import default_model_path  # noqa: E402
from chatapp.engine.llama_backend import LlamaBackend  # noqa: E402
from chatapp.store import Store  # noqa: E402
from chatapp.ui.main_window import MainWindow  # noqa: E402
from chatapp.workers.engine import EngineController  # noqa: E402

QUESTIONS = [
    "Hi! I'm planning a trip to Lisbon next month. What should I see?",
    "Can you give me a short packing list as a Markdown list?",
]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshot.png")
    app = QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="chatapp-shot-"))
    store = Store.open(tmp / "db.sqlite3")
    for title in ("Weekly meal plan", "Python packaging questions", "Garden notes"):
        store.create_thread(title)
    engine = EngineController(LlamaBackend)
    settings = QSettings(str(tmp / "ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, engine, ModelSpec(str(default_model_path())), settings)
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

    engine.loaded.connect(lambda _info: QTimer.singleShot(100, lambda: (window.new_thread(), ask())))
    window.session.reply_done.connect(lambda _m: QTimer.singleShot(100, ask))
    app.exec()
    engine.shutdown()
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
