"""Per-model settings in the window: edit, save, reset, reload; memory warning; sampling defaults;
the library's settings button, last-used column and extra folders."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from PySide6.QtWidgets import QDialog

from chatapp.config.settings import AppSettings
from chatapp.engine.backend import ModelSpec
from chatapp.engine.fake import FakeBackend
from chatapp.engine.templates import NAMED
from chatapp.errors import ModelTooLarge
from chatapp.ui.model_settings_dialog import CUSTOM_TEMPLATE
from tests.ui.test_main_window import type_and_send
from tests.ui.writes import written


def _window_with_real_file(qtbot, make_window, engine, tmp_path: Path, model: Path):  # type: ignore[no-untyped-def]
    window = make_window()
    window.settings_path = tmp_path / "settings.json"
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window.load_model(ModelSpec(str(model)))
    return window


def test_model_settings_are_saved_reset_and_reload_the_model(
    qtbot, make_window, engine, fake: FakeBackend, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    window = _window_with_real_file(qtbot, make_window, engine, tmp_path, default_model)
    window.open_model_settings()
    dialog = window.model_dialogs.settings_dialog
    assert "(built-in)" in dialog.findChildren(type(dialog.error))[0].text()
    assert dialog.n_ctx.specialValueText().startswith("automatic (") and dialog.n_ctx.value() == 0
    assert "Needs about" in dialog.memory.text() and "free now" in dialog.memory.text()
    dialog.n_ctx.setValue(2048)
    assert "2,048 tokens" in dialog.memory.text()
    dialog.offload.setCurrentIndex(dialog.offload.findData("cpu"))
    dialog.batch.setValue(256)
    dialog.flash.setChecked(True)
    dialog.template.setCurrentText("chatml")
    loads = fake.loads
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        dialog._accept()  # saved, and the loaded model is reloaded with them
    assert fake.loads == loads + 1
    spec = window.model_spec
    assert (spec.n_ctx, spec.gpu, spec.n_batch, spec.flash_attn) == (2048, "cpu", 256, True)
    assert spec.chat_template == NAMED["chatml"]
    saved = AppSettings.load(tmp_path / "settings.json").model(default_model)
    assert (saved.n_ctx, saved.offload, saved.chat_template) == (2048, "cpu", "chatml")

    window.open_model_settings(str(default_model))  # opened again: shows what was saved
    dialog = window.model_dialogs.settings_dialog
    assert dialog.n_ctx.value() == 2048 and dialog.template.currentText() == "chatml"
    dialog.reset_button.click()
    assert dialog.n_ctx.value() == 0 and dialog.offload.currentData() == ""
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        dialog._accept()
    assert AppSettings.load(tmp_path / "settings.json").models == {}
    assert window.model_spec.n_ctx == 0 and window.model_spec.chat_template is None


def test_a_bad_template_or_rpc_address_is_explained_and_not_saved(
    qtbot, make_window, engine, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    window = _window_with_real_file(qtbot, make_window, engine, tmp_path, default_model)
    window.open_model_settings()
    dialog = window.model_dialogs.settings_dialog
    dialog.template.setCurrentText(CUSTOM_TEMPLATE)
    assert dialog.template_text.isVisible()
    dialog.template_text.setPlainText(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}{{ messages[0].content }}"
    )
    dialog._accept()
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert "cannot be used" in dialog.error.text() and "unsafe" in dialog.error.text()
    dialog.template.setCurrentText("The model's own")
    dialog.rpc.setText("192.168.1.10:50052, not an address")
    dialog._accept()
    assert "RPC servers: 'not an address' is not host:port" in dialog.error.text()
    assert (
        not (tmp_path / "settings.json").exists()
        or AppSettings.load(tmp_path / "settings.json").models == {}
    )


def test_a_model_too_large_for_memory_is_loaded_only_when_the_user_agrees(
    qtbot, make_window, engine, fake: FakeBackend, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    asked: list[str] = []
    monkeypatch.setattr(
        window, "confirm_large_model", lambda message: asked.append(message) or False
    )
    fake.load_error = ModelTooLarge(
        "huge.gguf needs about 40.0 GB, but only 16.0 GB of memory is free."
    )
    loads = fake.loads
    with qtbot.waitSignal(engine.too_large, timeout=5000):
        window.load_model(ModelSpec("huge.gguf"))
    assert asked and "40.0 GB" in asked[0]
    assert fake.loads == loads and window.model_label.text().startswith(
        "fake-model"
    )  # the previous model stays
    assert "Not loaded: huge.gguf needs about 40.0 GB" in window.statusBar().currentMessage()

    monkeypatch.setattr(window, "confirm_large_model", lambda message: True)
    fake.load_error = ModelTooLarge(
        "huge.gguf needs about 40.0 GB, but only 16.0 GB of memory is free."
    )
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window.load_model(ModelSpec("huge.gguf"))
    assert window.model_spec.check_memory is False and window.model_label.text().startswith("huge")


def test_threads_use_the_models_default_sampling_until_they_change_their_own(
    qtbot, make_window, engine, fake: FakeBackend, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    window = _window_with_real_file(qtbot, make_window, engine, tmp_path, default_model)
    window.open_model_settings()
    dialog = window.model_dialogs.settings_dialog
    dialog.sampling.setChecked(True)
    dialog.temperature.setValue(0.15)
    dialog.top_k.setValue(12)
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        dialog._accept()
    window.new_thread()
    written(qtbot, window)
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "hello")
    assert (fake.sampling[-1].temperature, fake.sampling[-1].top_k) == (0.15, 12)

    window.open_settings()  # the thread's dialog shows what replies use...
    settings = window._settings_dialog
    assert settings.temperature.value() == 0.15
    settings.accept()  # ...and accepting it unchanged does not make them the thread's own
    written(qtbot, window)
    assert window.store.thread(window._current_thread).settings.temperature != 0.15

    window.open_settings()
    settings = window._settings_dialog
    settings.temperature.setValue(0.9)
    settings.accept()
    with qtbot.waitSignal(window.session.reply_done, timeout=5000):
        type_and_send(qtbot, window, "again")
    assert fake.sampling[-1].temperature == 0.9 and fake.sampling[-1].top_k == 12


def test_library_has_extra_folders_last_used_and_a_settings_button(
    qtbot, make_window, engine, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    extra = tmp_path / "collection"
    extra.mkdir()
    shutil.copy(default_model, extra / "copy.gguf")
    window = _window_with_real_file(qtbot, make_window, engine, tmp_path, extra / "copy.gguf")
    window.open_settings()
    settings = window._settings_dialog
    settings.add_folder(str(extra))
    settings.accept()
    assert AppSettings.load(tmp_path / "settings.json").model_folders == [str(extra)]
    window.open_library()
    library = window.model_dialogs.library
    with qtbot.waitSignal(library.scanned, timeout=10000):
        pass
    model = library.model
    rows = {model.data(model.index(r, 0)): r for r in range(model.rowCount())}
    row = rows["copy.gguf · loaded on CPU, 1 threads"]  # where the loaded model runs
    today = dt.date.today().strftime("%Y-%m-%d")
    assert model.data(model.index(row, 7)) == today  # loaded just now
    assert not any("loaded" in name for name in rows if not name.startswith("copy.gguf"))
    library.table.setCurrentIndex(model.index(row, 0))
    library.settings_button.click()
    assert window.model_dialogs.settings_dialog.info.path == str(extra / "copy.gguf")


def test_a_file_that_vanished_after_listing_is_reported_and_the_model_stays(
    qtbot, make_window, engine, fake: FakeBackend, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "collection"
    folder.mkdir()
    shutil.copy(default_model, folder / "soon-gone.gguf")
    window = make_window()
    window.app_settings.model_folders = [str(folder)]
    fake.check_files = True
    window.open_library()
    library = window.model_dialogs.library
    with qtbot.waitSignal(library.scanned, timeout=10000):
        pass
    model = library.model
    row = next(
        r for r in range(model.rowCount()) if model.data(model.index(r, 0)) == "soon-gone.gguf"
    )
    library.table.setCurrentIndex(model.index(row, 0))
    (folder / "soon-gone.gguf").unlink()
    with qtbot.waitSignal(engine.load_failed, timeout=5000) as failed:
        library.load_button.click()
    assert "soon-gone.gguf does not exist" in failed.args[0]
    assert window.model_label.text().startswith("fake-model")


def test_a_failed_gpu_load_is_told_in_the_window(
    qtbot, make_window, engine, fake: FakeBackend
) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    fake.fallback_reason = "loading on the GPU failed: cudaMalloc failed: out of memory"
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window.load_model(ModelSpec("other.gguf", gpu="gpu"))
    assert window.statusBar().currentMessage() == (
        "Running on the CPU: loading on the GPU failed: cudaMalloc failed: out of memory"
    )
    assert window.model_label.text() == "other · CPU, 1 threads"


def test_the_memory_estimate_shows_whole_as_it_grows(
    qtbot, make_window, engine, tmp_path: Path, default_model: Path
) -> None:  # type: ignore[no-untyped-def]
    """A wrapped label in the form kept one line's height when its text grew after the dialog
    was laid out: the estimate's first line was cut at its top."""
    window = _window_with_real_file(qtbot, make_window, engine, tmp_path, default_model)
    window.open_model_settings()
    dialog = window.model_dialogs.settings_dialog
    dialog.show()
    qtbot.waitExposed(dialog)
    label = dialog.memory
    for n_ctx in (0, 2048, 131072):  # one line, two, three (past the trained context)
        dialog.n_ctx.setValue(n_ctx)
        qtbot.waitUntil(lambda: label.height() >= label.heightForWidth(label.width()))
    assert "Longer than the trained context" in label.text()
