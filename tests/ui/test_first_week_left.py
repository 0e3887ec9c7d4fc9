"""The last items of "a first week with chatapp" (#19): the endpoint dialog's error shown whole,
the memory panel's headings, width and undoable Forget, the library's Settings… on the loaded
model, and the "not a GGUF" wording."""

from __future__ import annotations

import pytest

LONG_ERROR = (
    "Nothing answers at My server (http://127.0.0.1:9/v1): is the server running? "
    "Start it, or check the address and the port, then try again.\n"
    "[Errno 111] Connection refused"
)


@pytest.mark.parametrize("points", [None, 20])
def test_endpoint_error_is_shown_whole(qtbot, qapp, points: int | None) -> None:
    from chatapp.ui.endpoint_dialog import EndpointDialog

    if points:
        font = qapp.font()
        font.setPointSize(points)
        qapp.setFont(font)
    dialog = EndpointDialog([])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog._show_models([], LONG_ERROR)
    qapp.processEvents()
    label = dialog.status
    assert label.text() == LONG_ERROR
    assert label.height() >= label.heightForWidth(label.width())
    assert label.geometry().bottom() < dialog.height()
    lines = label.heightForWidth(label.width()) // label.fontMetrics().lineSpacing()
    assert lines >= 2  # the test is about a wrapped, multi-line error


def test_a_gguf_name_with_other_content_is_told_the_content_is_wrong(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from chatapp.engine.gguf_file import check_model_file
    from chatapp.engine.gguf_meta import read_header
    from chatapp.errors import ModelLoadError

    page = tmp_path / "model.Q4_K_M.gguf"
    page.write_text("<!DOCTYPE html><html><body>Rate limited</body></html>")
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    renamed = tmp_path / "weights.GGUF"
    renamed.write_bytes(b"PK\x03\x04" + bytes(64))  # a zip renamed
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for check in (check_model_file, read_header):
        for path, why in ((page, "web page"), (empty, "empty"), (renamed, "another format")):
            with pytest.raises(ModelLoadError) as caught:
                check(path)
            said = str(caught.value)
            assert f"{path.name} ends in .gguf, but its content is not a GGUF model." in said
            assert "files ending in .gguf" not in said
            assert why in said
        with pytest.raises(ModelLoadError) as caught:
            check(text)
        assert str(caught.value) == (
            "notes.txt is not a GGUF model file.\n"
            "chatapp runs models in the GGUF format (files ending in .gguf)."
        )


def test_library_settings_work_on_the_loaded_model_without_a_selection(
    qtbot, engine, tmp_path, default_model
) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from PySide6.QtCore import QItemSelectionModel, QSettings

    from chatapp.engine.backend import ModelSpec
    from chatapp.store import Store
    from chatapp.ui.main_window import MainWindow

    (tmp_path / "models").mkdir()
    mine = tmp_path / "models" / "mine.gguf"
    shutil.copy(default_model, mine)  # loaded: not the library's first row (the built-in)
    store = Store.open(tmp_path / "s.sqlite3")
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    settings.setValue("quiet_errors", True)
    with qtbot.waitSignal(engine.loaded, timeout=5000):
        window = MainWindow(
            store,
            engine,
            ModelSpec(str(mine)),
            settings,
            settings_path=tmp_path / "settings.json",
        )
    qtbot.addWidget(window)
    window.open_library()
    library = window.model_dialogs.library
    with qtbot.waitSignal(library.scanned, timeout=10000):
        pass
    # the table makes its first row current when it gets the focus: no choice of the user's
    library.table.selectionModel().setCurrentIndex(
        library.model.index(0, 0), QItemSelectionModel.SelectionFlag.NoUpdate
    )
    assert not library.table.selectionModel().hasSelection()
    assert library.settings_button.isEnabled() and not library.load_button.isEnabled()
    configured: list[str] = []
    library.configure.connect(configured.append)
    library.settings_button.click()
    assert configured == [str(mine.resolve())]
    dialog = window.model_dialogs.settings_dialog
    assert dialog.isVisible()
    assert dialog.windowTitle() == "Model settings: mine.gguf"
    dialog.reject()
    library.reject()
    window.close()
    store.close()


def test_library_settings_say_why_they_are_off(qtbot, tmp_path, default_model) -> None:  # type: ignore[no-untyped-def]
    from chatapp.ui.model_library import ModelLibrary

    server = {"name": "lab", "base_url": "http://127.0.0.1:9/v1", "model": "big"}
    library = ModelLibrary([tmp_path], default_model, {}, None, endpoints=[server])
    qtbot.addWidget(library)
    with qtbot.waitSignal(library.scanned, timeout=10000):
        pass
    assert not library.settings_button.isEnabled()  # nothing loaded, nothing selected
    assert "Select a model, or load one" in library.settings_button.toolTip()
    library.table.setCurrentIndex(library.model.index(1, 0))  # the server
    assert not library.settings_button.isEnabled()
    assert "Connect to a server" in library.settings_button.toolTip()
    library.table.setCurrentIndex(library.model.index(0, 0))  # the built-in file
    assert library.settings_button.isEnabled() and library.load_button.isEnabled()
