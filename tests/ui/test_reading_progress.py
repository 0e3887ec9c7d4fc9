"""The window while the real default model, in its own process, reads a long paste: the
reply's header counts the tokens read, and Stop ends the reading and keeps the message."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from chatapp.domain import MessageStatus
from chatapp.engine.backend import ModelSpec
from chatapp.store import Store
from chatapp.workers.engine import EngineController

pytestmark = pytest.mark.model


def test_the_header_counts_the_tokens_read_and_stop_keeps_the_paste(
    qtbot, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.engine.model_process import ProcessBackend
    from chatapp.ui.main_window import MainWindow
    from chatapp.ui.transcript import ReadDoneRole, ReadingRole, _header

    engine = EngineController(ProcessBackend)
    store = Store.open(tmp_path / "ui.sqlite3")
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    settings.setValue("quiet_errors", True)
    # batches of 32 tokens: a 400-token paste is read in many steps; one thread is fastest
    # on a busy test machine
    spec = ModelSpec(str(default_model), n_ctx=1024, n_batch=32, gpu="cpu", n_threads=1)
    try:
        with qtbot.waitSignal(engine.loaded, timeout=120000):
            window = MainWindow(store, engine, spec, settings)
        qtbot.addWidget(window)
        window.show()
        paste = " ".join(f"line{i} says {i * 7 % 101}." for i in range(100))
        window.composer.setPlainText(paste)
        progress: list[tuple[int, int, int]] = []
        headers: list[str] = []

        def on_progress(reply_id: int, done: int, total: int) -> None:
            progress.append((reply_id, done, total))
            index = window.transcript.index(window.transcript.row_of(reply_id))
            assert index.data(ReadingRole) == total and index.data(ReadDoneRole) == done
            headers.append(_header(window.transcript.message_at(index.row()), total, done))
            if done >= 64 and window.stop_button.isVisible():
                window.stop_button.click()

        window.session.read_progress.connect(on_progress)
        with qtbot.waitSignal(window.session.reply_done, timeout=120000) as blocker:
            window.send()
        reply = blocker.args[0]
        reply_id, _done, total = progress[0]
        assert total > 300 and reply.id == reply_id
        assert f"reading the conversation, 32 / {total:,} tokens" in headers[1]
        dones = [d for _r, d, _t in progress]
        assert dones[:3] == [0, 32, 64] and len(dones) <= 4  # at most the batch being read
        assert progress[-1][1] < total  # stopped while reading
        assert reply.status == MessageStatus.STOPPED and reply.content == ""
        thread = window.store.message(reply.id).thread_id
        saved = [m for m in window.store.path(thread) if m.role == "user"]
        assert [m.content for m in saved] == [paste]  # the user's message is kept whole
        assert not window.stop_button.isVisible() and window.send_button.isVisible()
        window.close()
    finally:
        assert engine.shutdown(15000)
        store.close()
