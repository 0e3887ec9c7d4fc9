"""How the window looks: theme and font size (applied at once, following the desktop's
light/dark switch), and room for the memory panel beside a readable conversation."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QMainWindow, QSplitter

from chatapp.config.settings import FONT_SIZES, AppSettings
from chatapp.ui.theme import apply_theme

MIN_CHAT_WIDTH = 520  # the conversation stays readable beside the memory panel
SIDEBAR_NARROW = 160  # the thread list's width when the screen is too narrow for all three


def font_points(size: int) -> int:
    """A font size from the settings, kept readable (0 is the system's size)."""
    return 0 if size <= 0 else min(FONT_SIZES[1], max(FONT_SIZES[0], size))


class Appearance(QObject):
    """Applies the settings' theme and font size to the app and the given views."""

    def __init__(
        self,
        settings: Callable[[], AppSettings],
        views: list[QAbstractItemView],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._views = views
        self._base_font: QFont | None = None

    def apply(self) -> None:
        """Theme and font size, at once (the text of every view scales with the size)."""
        app = QGuiApplication.instance()
        if self._base_font is None:
            self._base_font = app.font()
            app.styleHints().colorSchemeChanged.connect(self._system_scheme_changed)
        settings = self._settings()
        font = app.font()
        size = font_points(settings.font_size) or self._base_font.pointSize()
        if size > 0:
            font.setPointSize(size)
        app.setFont(font)
        for view in self._views:
            view.setFont(font)
        apply_theme(app, settings.theme)
        for view in self._views:
            view.doItemsLayout()  # row heights follow the new font
        self._views[0].viewport().update()

    @Slot()
    def _system_scheme_changed(self) -> None:
        """The desktop switched between light and dark: "system" follows it."""
        if self._settings().theme == "system":
            self.apply()


def make_room_for(window: QMainWindow, panel: QDockWidget, splitter: QSplitter) -> None:
    """Opening a side panel shares the window's width: the window keeps the size the person
    gave it (widening it moved a small window's edge off where they put it), and when the
    three do not fit, the thread list and the panel give the conversation what they can."""
    if panel.isFloating():
        return
    width = max(panel.width(), panel.sizeHint().width(), 300)
    sidebar = splitter.sizes()[0] if splitter.count() else 0
    needed = sidebar + MIN_CHAT_WIDTH + width + 24
    if window.width() < needed:
        _give_the_chat_room(window, panel, splitter)


def _give_the_chat_room(window: QMainWindow, panel: QDockWidget, splitter: QSplitter) -> None:
    """The window cannot grow enough (a small screen): the thread list and the panel give
    up width to the conversation, down to their smallest usable widths."""
    sizes = splitter.sizes()
    if len(sizes) == 2:
        sidebar_min = splitter.widget(0).minimumSizeHint().width()
        sidebar = max(sidebar_min, min(sizes[0], SIDEBAR_NARROW))
        splitter.setSizes([sidebar, sum(sizes) - sidebar])
    panel_min = panel.minimumSizeHint().width()
    window.resizeDocks([panel], [panel_min], Qt.Orientation.Horizontal)
    window.layout().activate()  # now: the panel below its preferred width, not at the next pass
