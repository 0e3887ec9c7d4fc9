from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.store import Store
from chatapp.workers.engine import EngineController


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend(delay=0.0)


@pytest.fixture(scope="session")
def memory_code_imported() -> None:
    """A window's session gives the engine its store, so the engine's first load imports the
    memory code (torch: seconds on a loaded machine); done once here, not inside the first
    test's load timeout."""
    from chatapp.workers.engine import import_memory_code

    import_memory_code()


@pytest.fixture
def engine(qtbot, fake: FakeBackend, memory_code_imported):  # type: ignore[no-untyped-def]
    controller = EngineController(lambda: fake)
    yield controller
    assert controller.shutdown(5000)


@pytest.fixture
def make_window(qtbot, tmp_path: Path, engine: EngineController):  # type: ignore[no-untyped-def]
    from chatapp.ui.main_window import MainWindow

    windows = []

    def make(store: Store | None = None, load: bool = True) -> MainWindow:
        store = store or Store.open(tmp_path / "ui.sqlite3")
        settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
        settings.setValue("quiet_errors", True)
        spec = ModelSpec("fake-model.gguf") if load else None
        if load:
            with qtbot.waitSignal(engine.loaded, timeout=5000):
                window = MainWindow(store, engine, spec, settings)
        else:
            window = MainWindow(store, engine, spec, settings)
        qtbot.addWidget(window)
        window.show()
        windows.append((window, store))
        return window

    yield make
    for window, store in windows:
        window.close()


@pytest.fixture(autouse=True)
def app_wide_look(qapp):  # type: ignore[no-untyped-def]
    """A window applies font size and theme to the whole application; each test starts from
    the same look (a 15 pt font left by one test made the next one's window wider than its
    screen)."""
    font, palette = qapp.font(), qapp.palette()
    boxes = {name: qapp.palette(name) for name in ("QCheckBox", "QRadioButton")}
    yield
    qapp.setFont(font)
    qapp.setPalette(palette)
    for name, box_palette in boxes.items():
        qapp.setPalette(box_palette, name)
