"""Render the app icon's PNG sizes from its SVG source (run after editing the SVG).

.venv/bin/python scripts/render_icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def main() -> int:
    app = QGuiApplication(sys.argv)  # noqa: F841 (Qt needs it for painting)
    renderer = QSvgRenderer(str(ICONS / "chatapp.svg"))
    if not renderer.isValid():
        print("the SVG cannot be read", file=sys.stderr)
        return 1
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        out = ICONS / f"chatapp-{size}.png"
        image.save(str(out))
        print(out.relative_to(ICONS.parent.parent.parent), out.stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
