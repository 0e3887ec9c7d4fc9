"""Light and dark palettes, applied to the whole application at once.

Asking Qt for a colour scheme (`QStyleHints.setColorScheme`) changes nothing on
most Linux desktops (X11 without a platform theme): the style keeps its light
palette. So the app sets a full palette of its own; "system" follows the scheme
Qt reports, and falls back to the style's own palette where it reports none.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette

THEMES = ("system", "light", "dark")

_R = QPalette.ColorRole
_G = QPalette.ColorGroup

_DARK = {
    _R.Window: "#202124",
    _R.WindowText: "#e8eaed",
    _R.Base: "#17181a",
    _R.AlternateBase: "#26282b",
    _R.ToolTipBase: "#2d2f33",
    _R.ToolTipText: "#e8eaed",
    _R.PlaceholderText: "#9aa0a6",
    _R.Text: "#e8eaed",
    _R.Button: "#2d2f33",
    _R.ButtonText: "#e8eaed",
    _R.BrightText: "#ff7b72",
    _R.Light: "#3c4043",
    _R.Midlight: "#34373a",
    _R.Mid: "#4a4d51",
    _R.Dark: "#111214",
    _R.Shadow: "#000000",
    _R.Highlight: "#3d6eb4",
    _R.HighlightedText: "#ffffff",
    _R.Link: "#8ab4f8",
    _R.LinkVisited: "#c58af9",
    _R.Accent: "#3d6eb4",
}
_DARK_DISABLED = {
    _R.WindowText: "#6b6f75",
    _R.Text: "#6b6f75",
    _R.ButtonText: "#6b6f75",
    _R.HighlightedText: "#9aa0a6",
    _R.Highlight: "#34373a",
}

_LIGHT = {
    _R.Window: "#f3f3f3",
    _R.WindowText: "#1f1f1f",
    _R.Base: "#ffffff",
    _R.AlternateBase: "#f5f6f7",
    _R.ToolTipBase: "#ffffdc",
    _R.ToolTipText: "#1f1f1f",
    _R.PlaceholderText: "#6b6f75",
    _R.Text: "#1f1f1f",
    _R.Button: "#eceded",
    _R.ButtonText: "#1f1f1f",
    _R.BrightText: "#c62828",
    _R.Light: "#ffffff",
    _R.Midlight: "#e3e3e3",
    _R.Mid: "#b8b8b8",
    _R.Dark: "#9f9f9f",
    _R.Shadow: "#767676",
    _R.Highlight: "#2f6fd0",
    _R.HighlightedText: "#ffffff",
    _R.Link: "#1a5fb4",
    _R.LinkVisited: "#7b3db5",
    _R.Accent: "#2f6fd0",
}
_LIGHT_DISABLED = {
    _R.WindowText: "#9b9b9b",
    _R.Text: "#9b9b9b",
    _R.ButtonText: "#9b9b9b",
    _R.HighlightedText: "#f0f0f0",
    _R.Highlight: "#c8c8c8",
}


def palette(dark: bool) -> QPalette:
    """The app's own palette, complete for every role the widgets draw with."""
    result = QPalette()
    colours, disabled = (_DARK, _DARK_DISABLED) if dark else (_LIGHT, _LIGHT_DISABLED)
    for role, name in colours.items():
        result.setColor(role, QColor(name))
    for role, name in disabled.items():
        result.setColor(_G.Disabled, role, QColor(name))
    return result


def system_is_dark(app: QGuiApplication) -> bool | None:
    """What the platform says (True dark, False light), or None where it says nothing."""
    scheme = app.styleHints().colorScheme()
    if scheme == Qt.ColorScheme.Dark:
        return True
    if scheme == Qt.ColorScheme.Light:
        return False
    return None


def is_dark(pal: QPalette) -> bool:
    return pal.color(_R.Window).lightness() < 128


def apply_theme(app: QGuiApplication, theme: str) -> bool:
    """Apply `theme` ("system", "light" or "dark") at once; returns whether it is dark.

    Setting the colour scheme hint too lets native window decorations follow where the
    platform supports it; the palette is what makes the widgets follow everywhere.
    """
    wanted = {"light": False, "dark": True}.get(theme)
    hints = app.styleHints()
    if hasattr(hints, "setColorScheme"):
        # only an explicit choice is pinned; "system" gives the platform its say back
        scheme = {True: Qt.ColorScheme.Dark, False: Qt.ColorScheme.Light}.get(wanted)  # type: ignore[arg-type]
        hints.setColorScheme(scheme if scheme is not None else Qt.ColorScheme.Unknown)
    dark = wanted if wanted is not None else system_is_dark(app)
    if dark is None:
        # an empty palette: every colour comes from the platform theme again (KDE's colour
        # scheme, say), and follows it when it changes
        app.setPalette(QPalette())
    else:
        app.setPalette(palette(dark))
    _check_boxes(app, dark)
    return is_dark(app.palette())


def _check_boxes(app: QGuiApplication, dark: bool | None) -> None:
    """Fusion draws a check box's frame in the window colour made darker: on the dark window
    that is the colour of the box itself, and an unticked box vanished. Check boxes and radio
    buttons get a lighter window (their frame) and base (their inside) in the dark theme."""
    from PySide6.QtWidgets import QApplication

    if not isinstance(app, QApplication):
        return
    for name in ("QCheckBox", "QRadioButton"):
        if dark:
            boxes = palette(True)
            boxes.setColor(_R.Window, QColor("#8a8f96"))  # frame: darker(140) ≈ #63666b
            boxes.setColor(_R.Base, QColor("#2d2f33"))
            app.setPalette(boxes, name)
        else:
            app.setPalette(app.palette(), name)
