"""Search results: the thread's title on its own line, the snippet below with the hits marked.

The hits were shown between «guillemets» in plain text; here they are drawn highlighted
(bold on the highlight colour), and the title is bold so it does not read as part of the
snippet. The item's plain text (title, newline, snippet) stays for accessibility.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import QListWidgetItem, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from chatapp.domain import SearchHit
from chatapp.timestamps import format_local
from chatapp.ui.guard import guarded

HtmlRole = Qt.ItemDataRole.UserRole + 10
_Index = QModelIndex | QPersistentModelIndex
START, END = "\x02", "\x03"
OFF_PATH = "another version (not the one shown)"


def hit_html(hit: SearchHit, highlight: str = "#f6d860", text: str = "#000000") -> str:
    """Title (bold, with the date) and snippet, the matches between START and END marked."""
    snippet = hit.snippet.replace("\n", " ")
    parts: list[str] = []
    for piece in snippet.split(START):
        match, _, rest = piece.partition(END) if END in piece else ("", "", piece)
        if match:
            parts.append(
                f'<span style="background-color:{highlight}; color:{text}; font-weight:600">'
                f"{html.escape(match)}</span>"
            )
        parts.append(html.escape(rest))
    when = format_local(hit.created_at, "%d %b %Y")
    title = html.escape(hit.thread_title or "New chat")
    version = "" if hit.on_path else f" <small>· <i>{OFF_PATH}</i></small>"
    return f"<b>{title}</b> <small>· {when}</small>{version}<br>{''.join(parts)}"


def hit_item(hit: SearchHit) -> QListWidgetItem:
    plain = hit.snippet.replace(START, "").replace(END, "").replace("\n", " ")
    title = hit.thread_title or "New chat"
    if not hit.on_path:
        title += f" · {OFF_PATH}"
    item = QListWidgetItem(f"{title}\n{plain}")
    item.setData(Qt.ItemDataRole.UserRole, (hit.thread_id, hit.message_id))
    item.setData(HtmlRole, hit)
    item.setToolTip(plain)
    return item


class SearchHitDelegate(QStyledItemDelegate):
    """Draws a hit as rich text; other rows ("No messages found") as usual."""

    PAD = 4

    def _document(self, option: QStyleOptionViewItem, hit: SearchHit) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(0)
        doc.setHtml(hit_html(hit))
        doc.setTextWidth(max(40, option.rect.width() - 2 * self.PAD))
        return doc

    @guarded(lambda _self, option, _index: QSize(option.rect.width(), 40))
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        hit = index.data(HtmlRole)
        if not isinstance(hit, SearchHit):
            return super().sizeHint(option, index)
        doc = self._document(option, hit)
        return QSize(option.rect.width(), int(doc.size().height()) + 2 * self.PAD + 2)

    @guarded()
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        hit: Any = index.data(HtmlRole)
        if not isinstance(hit, SearchHit):
            super().paint(painter, option, index)
            return
        painter.save()
        try:
            selected = bool(option.state & QStyle.StateFlag.State_Selected)
            if selected:
                painter.fillRect(option.rect, option.palette.color(QPalette.ColorRole.Highlight))
            doc = self._document(option, hit)
            painter.translate(option.rect.left() + self.PAD, option.rect.top() + self.PAD)
            ctx = QAbstractTextDocumentLayout.PaintContext()
            role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
            ctx.palette.setColor(QPalette.ColorRole.Text, option.palette.color(role))
            ctx.clip = QRectF(0, 0, option.rect.width(), option.rect.height())
            doc.documentLayout().draw(painter, ctx)
        finally:
            painter.restore()  # a failed paint must not leave the view's painter unbalanced
