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
