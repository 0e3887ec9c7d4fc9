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
