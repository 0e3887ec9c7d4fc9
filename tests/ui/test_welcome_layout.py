"""The getting-started text covers the conversation view and sits in a centred column, also
when the window got its size before it was shown (a restored geometry at start: the text was
a narrow box in the top-left corner)."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from chatapp.ui.welcome import COLUMN


def test_the_welcome_text_follows_a_size_set_while_hidden(qtbot, make_window) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    window.hide()
    window.resize(1180, 760)
    window.show()
    qtbot.waitExposed(window)
    QApplication.processEvents()
    welcome = window.welcome
    viewport = window.transcript_view.viewport()
    assert welcome.isVisible()
    assert welcome.geometry() == viewport.rect()
    margins = welcome.contentsMargins()
    assert margins.left() == margins.right()
    assert viewport.width() - margins.left() - margins.right() <= COLUMN
    window.resize(760, 560)
    QApplication.processEvents()
    assert welcome.geometry() == viewport.rect()
    assert welcome.contentsMargins().left() < margins.left()
