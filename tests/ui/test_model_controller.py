"""The model controller: a file that crashed the model process is remembered, marked in the
library and replaced by the built-in model; the window only shows what it is told."""

from __future__ import annotations

import shutil
from pathlib import Path

from chatapp.config.settings import AppSettings
from chatapp.engine.fake import FakeBackend
from chatapp.engine.model_process import ModelProcessCrashed


def test_a_crashed_file_is_remembered_marked_and_replaced_by_the_builtin(  # type: ignore[no-untyped-def]
    qtbot, make_window, engine, fake: FakeBackend, tmp_path: Path, default_model: Path
) -> None:
    folder = tmp_path / "collection"
    folder.mkdir()
    broken = folder / "broken.gguf"
    shutil.copy(default_model, broken)
    window = make_window(load=False)
    window.settings_path = tmp_path / "settings.json"
    window.app_settings.model_folders = [str(folder)]
    fake.load_error = ModelProcessCrashed(
        "The model process stopped while loading broken.gguf (llama.cpp aborted). "
        "The file may be damaged.",
        detail="Last lines of llama.cpp's log:\nGGML_ASSERT(hparams.n_layer_all > 0) failed",
        path=str(broken.resolve()),
        reason="llama.cpp aborted",
    )
    with qtbot.waitSignal(engine.loaded, timeout=5000) as loaded:
        window._load_path(str(broken))
    assert loaded.args[0].path == str(default_model)  # the built-in model took over
    assert "using the built-in model" in window.statusBar().currentMessage()
    saved = AppSettings.load(tmp_path / "settings.json")
    assert saved.crash_reason(broken) == "llama.cpp aborted" and saved.loading_model is None
    assert not window.model_loading

    window.open_library()
    library = window.model_dialogs.library
    with qtbot.waitSignal(library.scanned, timeout=10000):
        pass
    model = library.model
    names = [model.data(model.index(r, 0)) for r in range(model.rowCount())]
    assert "⚠ broken.gguf · crashed when loaded" in names
    row = names.index("⚠ broken.gguf · crashed when loaded")
    assert "llama.cpp aborted" in model.data(model.index(row, 0), 3)  # the tooltip says why
    library.reject()

    with qtbot.waitSignal(engine.loaded, timeout=5000):  # loaded by hand, and it works now
        window._load_path(str(broken))
    assert AppSettings.load(tmp_path / "settings.json").crash_reason(broken) is None
