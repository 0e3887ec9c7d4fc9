"""The model picker above the composer: each thread shows its model, one click changes it,
the thread remembers it (in the real store) and gets it back when it is opened again."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from chatapp.config.settings import AppSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.store import Store
from chatapp.ui.model_picker import LIBRARY, model_files
from tests.ui.test_main_window import type_and_send
from tests.ui.writes import written


def _make(qtbot, engine, tmp_path: Path, first: Path):  # type: ignore[no-untyped-def]
    from chatapp.ui.main_window import MainWindow

    store = Store.open(tmp_path / "s.sqlite3")
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    settings.setValue("quiet_errors", True)
    lab = {"name": "lab", "base_url": "http://127.0.0.1:9/v1", "model": "big"}
    app_settings = AppSettings(endpoints=[lab])
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window = MainWindow(
            store,
            engine,
            ModelSpec(str(first)),
            settings,
            app_settings=app_settings,
            settings_path=tmp_path / "settings.json",
        )
    qtbot.addWidget(window)
    window.show()
    return window, store


def _labels(window) -> list[str]:  # type: ignore[no-untyped-def]
    combo = window.model_picker.combo
    return [combo.itemText(i) for i in range(combo.count())]


def _pick(qtbot, window, label: str) -> None:  # type: ignore[no-untyped-def]
    """As a click does: the item becomes current and `activated` follows."""
    combo = window.model_picker.combo
    index = _labels(window).index(label)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def _shown(window) -> str:  # type: ignore[no-untyped-def]
    return window.model_picker.combo.currentText()


def test_each_thread_shows_and_keeps_the_model_picked_for_it(
    qtbot, engine, fake: FakeBackend, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    models = tmp_path / "models"
    models.mkdir()
    alpha, beta = models / "alpha.Q4_K_M.gguf", models / "beta.Q8_0.gguf"
    for path in (alpha, beta):
        path.write_bytes(b"GGUF")  # the fake backend does not read them; the picker lists names
    (models / "big-00002-of-00002.gguf").write_bytes(b"GGUF")
    (models / "big-00001-of-00002.gguf").write_bytes(b"GGUF")
    window, store = _make(qtbot, engine, tmp_path, alpha)
    qtbot.waitUntil(lambda: _shown(window) == "alpha.Q4_K_M.gguf", timeout=5000)
    assert _labels(window) == [
        f"{default_model.name} (built-in)",
        "alpha.Q4_K_M.gguf",
        "beta.Q8_0.gguf",
        "big-00001-of-00002.gguf",
        "big @ lab",
        "",
        "Model library…",
    ]  # a split model once; the saved server; the library at the end
    window.new_thread()
    written(qtbot, window)
    first = window.current_thread
    assert _shown(window) == "alpha.Q4_K_M.gguf"  # a new thread uses what is loaded

    with qtbot.waitSignal(engine.loaded, timeout=5000) as loaded:
        _pick(qtbot, window, "beta.Q8_0.gguf")
    assert loaded.args[0].path == str(beta)
    written(qtbot, window)
    assert store.thread(first).model == str(beta)  # remembered in the store
    qtbot.waitUntil(lambda: _shown(window) == "beta.Q8_0.gguf", timeout=2000)

    fake.enqueue(["hello from beta"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hi")  # a thread must have a message to stay a thread
    window.new_thread()
    written(qtbot, window)
    second = window.current_thread
    assert second != first and _shown(window) == "beta.Q8_0.gguf"
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        _pick(qtbot, window, "alpha.Q4_K_M.gguf")
    written(qtbot, window)
    assert store.thread(second).model == str(alpha)
    fake.enqueue(["hello from alpha"])
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hi")

    with qtbot.waitSignal(engine.loaded, timeout=5000) as loaded:  # opening it loads its model
        window.refresh_threads(select=first)
    assert loaded.args[0].path == str(beta)
    qtbot.waitUntil(lambda: _shown(window) == "beta.Q8_0.gguf", timeout=2000)
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window.refresh_threads(select=second)
    qtbot.waitUntil(lambda: _shown(window) == "alpha.Q4_K_M.gguf", timeout=2000)
    loads = fake.loads
    _pick(qtbot, window, "alpha.Q4_K_M.gguf")  # already its model, and loaded: nothing to do
    qtbot.wait(200)
    assert fake.loads == loads
    window.close()
    store.close()


def test_the_picker_shows_the_choice_while_it_loads_and_reverts_when_it_fails(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from chatapp.errors import ModelLoadError

    models = tmp_path / "models"
    models.mkdir()
    alpha, beta = models / "alpha.gguf", models / "beta.gguf"
    for path in (alpha, beta):
        path.write_bytes(b"GGUF")
    window, store = _make(qtbot, engine, tmp_path, alpha)
    window.new_thread()
    written(qtbot, window)
    qtbot.waitUntil(
        lambda: _shown(window) == "alpha.gguf" and "beta.gguf" in _labels(window), timeout=5000
    )
    fake.load_error = ModelLoadError("beta.gguf is not a GGUF model file.")
    with qtbot.waitSignal(engine.load_failed, timeout=5000):
        _pick(qtbot, window, "beta.gguf")
        assert _shown(window) == "beta.gguf"  # while it loads: the choice, not the old model
    qtbot.waitUntil(lambda: _shown(window) == "alpha.gguf", timeout=2000)  # back to what runs
    assert store.thread(window.current_thread).model is None
    window.close()
    store.close()


def test_the_picker_opens_the_library_and_waits_during_a_reply(
    qtbot, engine, fake: FakeBackend, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "models").mkdir()
    only = tmp_path / "models" / "only.gguf"
    only.write_bytes(b"GGUF")
    window, store = _make(qtbot, engine, tmp_path, only)
    window.new_thread()
    written(qtbot, window)
    qtbot.waitUntil(lambda: _shown(window) == "only.gguf", timeout=5000)
    combo = window.model_picker.combo
    assert combo.itemData(combo.count() - 1) == LIBRARY
    _pick(qtbot, window, "Model library…")
    assert window.model_dialogs.library is not None and window.model_dialogs.library.isVisible()
    assert _shown(window) == "only.gguf"  # the list goes back to the thread's model
    window.model_dialogs.library.reject()

    fake.delay = 0.05
    fake.enqueue(["a slow reply " * 10])
    with qtbot.waitSignal(window.session.reply_done, timeout=10000):
        type_and_send(qtbot, window, "hi")
        assert not window.model_picker.isEnabled()  # models are switched between replies
    assert window.model_picker.isEnabled()
    window.close()
    store.close()


def test_model_files_lists_names_only_once_per_model(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Zeta.gguf").write_bytes(b"")
    (tmp_path / "a" / "deep").mkdir()
    (tmp_path / "a" / "deep" / "alpha.gguf").write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "a" / "m-00001-of-00003.gguf").write_bytes(b"")
    (tmp_path / "a" / "m-00003-of-00003.gguf").write_bytes(b"")
    names = [p.name for p in model_files([tmp_path / "a", tmp_path / "a", tmp_path / "missing"])]
    assert names == ["alpha.gguf", "m-00001-of-00003.gguf", "Zeta.gguf"]
