"""The conversation: an item model of the thread's shown messages and a delegate that draws them.

The model holds one page of the newest messages and loads older pages when the
view reaches the top, so a thread of any length opens at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QPen,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import (
    QFrame,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTextBrowser,
    QWidget,
)

from chatapp.domain import Message, MessageStatus, Role, speaker
from chatapp.store import Store
from chatapp.timestamps import local
from chatapp.typed_markdown import reply_markdown, typed_markdown
from chatapp.ui.guard import guarded
from chatapp.ui.highlight import code_blocks, highlight_code

PAGE = 50
COPY_LABEL = "Copy"
MessageRole = Qt.ItemDataRole.UserRole + 1
DayChangeRole = Qt.ItemDataRole.UserRole + 2
ReadingRole = Qt.ItemDataRole.UserRole + 3  # prompt tokens being read before a reply's first word
ReadDoneRole = Qt.ItemDataRole.UserRole + 4  # of those, how many are read (None: not told)

_Index = QModelIndex | QPersistentModelIndex


class TranscriptModel(QAbstractListModel):
    def __init__(self, store: Store, parent: Any = None) -> None:
        super().__init__(parent)
        self._store = store
        self._thread_id: int | None = None
        self._messages: list[Message] = []
        self._reading: dict[int, int] = {}  # reply id -> prompt tokens, until its first text
        self._read_done: dict[int, int] = {}  # reply id -> prompt tokens read so far

    @property
    def thread_id(self) -> int | None:
        return self._thread_id

    def load_thread(self, thread_id: int | None) -> None:
        self.beginResetModel()
        self._thread_id = thread_id
        self._messages = self._store.last_messages(thread_id, PAGE) if thread_id else []
        self.endResetModel()

    def reload(self) -> None:
        """Re-read the shown path (after a version switch), keeping as many rows as were loaded."""
        if self._thread_id is None:
            return
        count = max(PAGE, len(self._messages))
        self.beginResetModel()
        self._messages = self._store.last_messages(self._thread_id, count)
        self.endResetModel()

    def has_older(self) -> bool:
        return bool(self._messages) and self._messages[0].depth > 0

    def load_older(self) -> int:
        """Prepend the previous page; returns how many rows were added."""
        if not self.has_older() or self._thread_id is None:
            return 0
        first = self._messages[0].depth
        older = self._store.path(self._thread_id, max(0, first - PAGE), first)
        if older:
            self.beginInsertRows(QModelIndex(), 0, len(older) - 1)
            self._messages[:0] = older
            self.endInsertRows()
        return len(older)

    def append(self, message: Message) -> None:
        if message.thread_id != self._thread_id:
            return
        # a new version replaces what was shown from its depth on
        keep = [m for m in self._messages if m.depth < message.depth]
        if len(keep) != len(self._messages):
            self.beginRemoveRows(QModelIndex(), len(keep), len(self._messages) - 1)
            self._messages = keep
            self.endRemoveRows()
        row = len(self._messages)
        self.beginInsertRows(QModelIndex(), row, row)
        self._messages.append(message)
        self.endInsertRows()

    def set_reading(self, message_id: int, tokens: int) -> None:
        """The model is reading a `tokens`-long prompt before this reply's first word (on a CPU
        a long prompt takes a while: the header says so instead of a bare "…")."""
        self._reading = {message_id: tokens}
        self._read_done = {}
        row = self.row_of(message_id)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def set_read_progress(self, message_id: int, done: int, total: int) -> None:
        """How much of that prompt the model has read: "3,100 / 7,900 tokens"."""
        self._reading = {message_id: total}
        self._read_done = {message_id: done}
        row = self.row_of(message_id)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def set_text(self, message_id: int, text: str) -> None:
        row = self.row_of(message_id)
        if row >= 0:
            self._messages[row] = replace(self._messages[row], content=text)
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def replace_message(self, message: Message) -> None:
        row = self.row_of(message.id)
        if row >= 0:
            self._messages[row] = message
            index = self.index(row)
            self.dataChanged.emit(index, index)

    def replace_shown(self, shown_id: int, message: Message) -> None:
        """A message shown before it was stored (a temporary id) is now stored as `message`;
        shown in its place, or added if this thread was reopened before it landed."""
        row = self.row_of(shown_id)
        if row >= 0:
            self._messages[row] = message
            index = self.index(row)
            self.dataChanged.emit(index, index)
        elif message.thread_id == self._thread_id and self.row_of(message.id) < 0:
            self.append(message)

    def remove_shown(self, shown_id: int) -> None:
        """A message shown before it was stored could not be stored: it goes."""
        row = self.row_of(shown_id)
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._messages[row]
            self.endRemoveRows()

    def row_of(self, message_id: int) -> int:
        for row in range(len(self._messages) - 1, -1, -1):
            if self._messages[row].id == message_id:
                return row
        return -1

    def message_at(self, row: int) -> Message | None:
        return self._messages[row] if 0 <= row < len(self._messages) else None

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._messages)

    def flags(self, index: _Index) -> Qt.ItemFlag:
        """Messages are "editable" only so the view can open a read-only selectable copy of the
        text over the bubble (double-click); nothing is ever written back."""
        flags = super().flags(index)
        if index.isValid():
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        return False  # the selectable copy is read-only

    @guarded()
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._messages):
            return None
        msg = self._messages[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return msg.content
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{speaker(msg.role, msg.model)}: {msg.content}"
        if role == MessageRole:
            return msg
        if role == ReadingRole:
            reading = msg.status == MessageStatus.STREAMING and not msg.content
            return self._reading.get(msg.id, 0) if reading else 0
        if role == ReadDoneRole:
            reading = msg.status == MessageStatus.STREAMING and not msg.content
            return self._read_done.get(msg.id) if reading else None
        if role == DayChangeRole:
            if index.row() == 0:
                return not self.has_older()
            prev = self._messages[index.row() - 1]
            return _day(prev.created_at) != _day(msg.created_at)
        return None


def _day(timestamp: float) -> dt.date:
    when = local(timestamp)  # a damaged time reads as 1970, not as a crash
    return when.date() if when is not None else dt.date(1970, 1, 1)


def day_label(timestamp: float, today: dt.date | None = None) -> str:
    """'Today', 'Yesterday', or 'Tuesday, 3 March' (with the year when it is not this year)."""
    day = _day(timestamp)
    today = today or dt.date.today()
    if day == today:
        return "Today"
    if day == today - dt.timedelta(days=1):
        return "Yesterday"
    text = f"{day.strftime('%A')}, {day.day} {day.strftime('%B')}"
    return text if day.year == today.year else f"{text} {day.year}"


class MessageDelegate(QStyledItemDelegate):
    """Draws a message as a bubble of rendered Markdown, with a day separator when the day changes.

    The header line and the day separator are as tall as their fonts (they scale with the
    font size); `version_arrows` says where ‹ and › are drawn, so a click there can act.
    """

    MARGIN = 10
    PAD = 10

    link_activated = Signal(str)  # a link clicked in the selectable copy

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._docs: dict[tuple[int, int, int, str], QTextDocument] = {}
        self._codes: dict[tuple[int, int], list[str]] = {}

    # -- the selectable copy (double-click a message) ------------------------

    @guarded()
    def createEditor(
        self, parent: QWidget, option: QStyleOptionViewItem, index: _Index
    ) -> QWidget | None:
        """A read-only, transparent text browser showing the same rendered document, laid over
        the bubble's text: the user selects part of a message with the mouse and copies it."""
        msg: Message | None = index.data(MessageRole)
        if msg is None:
            return None
        browser = QTextBrowser(parent)
        browser.setAccessibleName("Message text")
        browser.setReadOnly(True)
        browser.setFrameShape(QFrame.Shape.NoFrame)
        browser.setOpenLinks(False)
        browser.anchorClicked.connect(lambda url: self.link_activated.emit(url.toString()))
        browser.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        browser.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        browser.viewport().setAutoFillBackground(False)
        browser.setStyleSheet("QTextBrowser { background: transparent; }")
        browser.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        doc = self._shown_document(option, msg).clone(browser)
        browser.setDocument(doc)
        return browser

    def setEditorData(self, editor: QWidget, index: _Index) -> None:
        pass  # the document was given at creation; a streamed change closes nothing

    def setModelData(self, editor: QWidget, model: Any, index: _Index) -> None:
        pass  # read-only

    @guarded()
    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: _Index
    ) -> None:
        msg: Message | None = index.data(MessageRole)
        if msg is None:
            return
        origin = self._content_origin(option, msg, bool(index.data(DayChangeRole)))
        doc = self._shown_document(option, msg)
        editor.setGeometry(
            int(origin.x()), int(origin.y()), int(doc.textWidth()) + 2, int(doc.size().height()) + 2
        )

    def _document(self, msg: Message, width: int, font: QFont, dark: bool = False) -> QTextDocument:
        key = (msg.id, hash(msg.content), msg.status, width, font.toString() + str(dark))
        doc = self._docs.get(key)
        if doc is None:
            if len(self._docs) > 400:
                self._docs.clear()
            doc = QTextDocument()
            doc.setDefaultFont(font)
            doc.setDocumentMargin(0)
            # the user's own messages are Markdown too (a pasted list or code block reads as
            # one), with what was typed kept: its line breaks, "<b>", "2*3*4"
            # and a reply's single line breaks are kept (a poem is not one paragraph)
            text = (
                typed_markdown(msg.content)
                if msg.role == Role.USER
                else reply_markdown(msg.content)
            )
            doc.setMarkdown(text or _empty_text(msg.status))
            if text and not doc.toPlainText().strip():
                doc.setMarkdown(_empty_text(msg.status))  # e.g. only "```python" so far
            if "```" in msg.content:
                highlight_code(doc, dark)
            doc.setTextWidth(max(50, width))
            self._docs[key] = doc
        return doc

    def _bubble_width(self, option: QStyleOptionViewItem) -> int:
        return max(120, int(option.rect.width() * 0.82))

    @staticmethod
    def header_font(font: QFont) -> QFont:
        header = QFont(font)
        header.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        header.setBold(True)
        return header

    def header_height(self, font: QFont) -> int:
        return QFontMetrics(self.header_font(font)).height() + 4

    @staticmethod
    def separator_height(font: QFont) -> int:
        return QFontMetrics(font).height() * 2

    def _bubble_rect(self, option: QStyleOptionViewItem, msg: Message, day_change: bool) -> QRectF:
        rect = option.rect
        top = rect.top() + (self.separator_height(option.font) if day_change else 0)
        width = self._bubble_width(option)
        height = rect.bottom() - top - self.MARGIN + 1
        left = (
            rect.right() - width - self.MARGIN
            if msg.role == Role.USER
            else rect.left() + self.MARGIN
        )
        return QRectF(left, top + self.MARGIN / 2, width, height)

    def _content_origin(
        self, option: QStyleOptionViewItem, msg: Message, day_change: bool
    ) -> QPointF:
        bubble = self._bubble_rect(option, msg, day_change)
        return QPointF(
            bubble.left() + self.PAD, bubble.top() + self.PAD / 2 + self.header_height(option.font)
        )

    def _shown_document(self, option: QStyleOptionViewItem, msg: Message) -> QTextDocument:
        dark = option.palette.color(QPalette.ColorRole.Base).lightness() < 128
        return self._document(msg, self._bubble_width(option) - 2 * self.PAD, option.font, dark)

    def code_buttons(self, option: QStyleOptionViewItem, index: _Index) -> list[tuple[QRectF, str]]:
        """A "Copy" button at the top right of each code block: where, and the code it copies."""
        msg: Message | None = index.data(MessageRole)
        if msg is None or "```" not in msg.content:
            return []
        codes = self._code_blocks(msg)
        doc = self._shown_document(option, msg)
        origin = self._content_origin(option, msg, bool(index.data(DayChangeRole)))
        metrics = QFontMetrics(option.font)
        width, height = metrics.horizontalAdvance(COPY_LABEL) + 12, metrics.height() + 4
        found: list[tuple[QRectF, str]] = []
        block, inside = doc.begin(), False
        while block.isValid():
            is_code = block.blockFormat().hasProperty(QTextFormat.Property.BlockCodeFence)
            if is_code and not inside and len(found) < len(codes):
                top = doc.documentLayout().blockBoundingRect(block).top()
                right = origin.x() + doc.textWidth()
                found.append(
                    (QRectF(right - width, origin.y() + top, width, height), codes[len(found)])
                )
            inside = is_code
            block = block.next()
        return found

    def _code_blocks(self, msg: Message) -> list[str]:
        """The message's code blocks, parsed once per text (paint asks on every frame)."""
        key = (msg.id, hash(msg.content))
        codes = self._codes.get(key)
        if codes is None:
            if len(self._codes) > 400:
                self._codes.clear()
            codes = self._codes[key] = code_blocks(msg.content)
        return codes

    def link_at(self, option: QStyleOptionViewItem, index: _Index, pos: QPointF) -> str:
        """The link target under `pos` (view coordinates), or ""."""
        msg: Message | None = index.data(MessageRole)
        if msg is None:
            return ""
        doc = self._shown_document(option, msg)
        origin = self._content_origin(option, msg, bool(index.data(DayChangeRole)))
        return doc.documentLayout().anchorAt(pos - origin)

    def version_arrows(
        self, option: QStyleOptionViewItem, index: _Index
    ) -> tuple[QRectF, QRectF] | None:
        """Where ‹ (previous version) and › (next version) are drawn in the header, or None
        when the message has a single version. Each is ARROW_TARGET px square (a ‹ glyph alone
        is ~6 px wide), trimmed so it never covers the version number between them."""
        msg: Message | None = index.data(MessageRole)
        if msg is None or msg.version_count <= 1:
            return None
        bubble = self._bubble_rect(option, msg, bool(index.data(DayChangeRole)))
        font = self.header_font(option.font)
        metrics = QFontMetrics(font)
        text = fitted_header(
            msg,
            index.data(ReadingRole) or 0,
            index.data(ReadDoneRole),
            metrics,
            int(bubble.width()) - 2 * self.PAD,
        )
        if "‹" not in text or "›" not in text:
            return None  # elided away in a very narrow bubble
        centre_y = bubble.top() + self.PAD / 2 + self.header_height(option.font) / 2
        x0 = bubble.left() + self.PAD
        size = max(float(ARROW_TARGET), metrics.height() * 1.4)
        count = f"{msg.version_index}/{msg.version_count}"
        at_count = text.index(count, text.index("‹"))
        count_left = x0 + metrics.horizontalAdvance(text[:at_count])
        count_right = count_left + metrics.horizontalAdvance(count)
        rects = []
        for glyph in ("‹", "›"):
            at = text.index(glyph)
            centre = (
                x0 + metrics.horizontalAdvance(text[:at]) + metrics.horizontalAdvance(glyph) / 2
            )
            rects.append(QRectF(centre - size / 2, centre_y - size / 2, size, size))
        rects[0].setRight(min(rects[0].right(), count_left))  # never over the number
        rects[1].setLeft(max(rects[1].left(), count_right))
        return rects[0], rects[1]

    @guarded(lambda _self, option, _index: QSize(option.rect.width(), 40))
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        msg: Message | None = index.data(MessageRole)
        if msg is None:
            return super().sizeHint(option, index)
        dark = option.palette.color(QPalette.ColorRole.Base).lightness() < 128
        doc = self._document(msg, self._bubble_width(option) - 2 * self.PAD, option.font, dark)
        header = self.header_height(option.font)
        height = int(doc.size().height()) + header + 2 * self.PAD + self.MARGIN
        if msg.status == MessageStatus.ERROR and msg.error:
            height += QFontMetrics(option.font).height() + 4
        if index.data(DayChangeRole):
            height += self.separator_height(option.font)
        return QSize(option.rect.width(), height)

    @guarded()
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        msg: Message | None = index.data(MessageRole)
        if msg is None:
            return super().paint(painter, option, index)
        painter.save()
        try:
            self._paint_message(painter, option, index, msg)
        finally:
            painter.restore()  # also after a failure: the view's painter stays balanced
        return None

    def _paint_message(
        self, painter: QPainter, option: QStyleOptionViewItem, index: _Index, msg: Message
    ) -> None:
        palette = option.palette
        rect = option.rect
        day_change = bool(index.data(DayChangeRole))
        if day_change:
            painter.setFont(option.font)
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                QRectF(rect.left(), rect.top(), rect.width(), self.separator_height(option.font)),
                Qt.AlignmentFlag.AlignCenter,
                day_label(msg.created_at),
            )
        width = self._bubble_width(option)
        dark = option.palette.color(QPalette.ColorRole.Base).lightness() < 128
        doc = self._document(msg, width - 2 * self.PAD, option.font, dark)
        mine = msg.role == Role.USER
        bubble = self._bubble_rect(option, msg, day_change)
        header_height = self.header_height(option.font)
        base = palette.color(QPalette.ColorRole.Base)
        dark = base.lightness() < 128
        fill = bubble_fill(mine, dark)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(bubble, 10, 10)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.setPen(QPen(selection_outline(palette, fill), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(bubble.adjusted(1, 1, -1, -1), 10, 10)
        painter.setFont(self.header_font(option.font))
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(
            QRectF(
                bubble.left() + self.PAD,
                bubble.top() + self.PAD / 2,
                width - 2 * self.PAD,
                header_height,
            ),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            fitted_header(
                msg,
                index.data(ReadingRole) or 0,
                index.data(ReadDoneRole),
                QFontMetrics(self.header_font(option.font)),
                width - 2 * self.PAD,
            ),
        )
        arrows = self.version_arrows(option, index)
        if arrows is not None:  # drawn as buttons: they switch versions when clicked
            arrow_font = QFont(self.header_font(option.font))
            arrow_font.setPointSizeF(arrow_font.pointSizeF() * 1.4)
            painter.setFont(arrow_font)
            for area, glyph, enabled in zip(
                arrows,
                ("‹", "›"),
                (msg.version_index > 1, msg.version_index < msg.version_count),
                strict=True,
            ):
                # both alike (one outlined, one not read as a stray focus ring); the one that
                # leads nowhere is greyed
                painter.setPen(palette.color(QPalette.ColorRole.Mid))
                painter.setBrush(palette.color(QPalette.ColorRole.Button) if enabled else fill)
                painter.drawRoundedRect(area.adjusted(1, 1, -1, -1), 5, 5)
                colour = palette.color(
                    QPalette.ColorRole.ButtonText if enabled else QPalette.ColorRole.PlaceholderText
                )
                painter.setPen(colour)
                painter.drawText(area, Qt.AlignmentFlag.AlignCenter, glyph)
        for area, _code in self.code_buttons(option, index):
            painter.setPen(palette.color(QPalette.ColorRole.Mid))
            painter.setBrush(palette.color(QPalette.ColorRole.Button))
            painter.drawRoundedRect(area, 4, 4)
            painter.setPen(palette.color(QPalette.ColorRole.ButtonText))
            painter.setFont(option.font)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, COPY_LABEL)
        painter.translate(bubble.left() + self.PAD, bubble.top() + self.PAD / 2 + header_height)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, palette.color(QPalette.ColorRole.Text))
        ctx.palette.setColor(QPalette.ColorRole.Link, palette.color(QPalette.ColorRole.Link))
        doc.documentLayout().draw(painter, ctx)
        if msg.status == MessageStatus.ERROR and msg.error:
            painter.setPen(QColor("#d9534f"))
            painter.setFont(option.font)
            painter.drawText(
                QRectF(
                    0,
                    doc.size().height() + 2,
                    width - 2 * self.PAD,
                    QFontMetrics(option.font).height() + 4,
                ),
                Qt.AlignmentFlag.AlignLeft,
                "⚠ " + msg.error.splitlines()[0],
            )


def bubble_fill(mine: bool, dark: bool) -> QColor:
    """A message bubble's colour: the user's blue, the model's grey."""
    if mine:
        return QColor("#2b4a7a") if dark else QColor("#dbe8fb")
    return QColor("#2d2f33") if dark else QColor("#f1f2f4")


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours (1 to 21)."""

    def luminance(c: QColor) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

        return (
            0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF())
        )

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def selection_outline(palette: QPalette, fill: QColor) -> QColor:
    """The keyboard-selected bubble's outline: the highlight colour when it stands out from
    the bubble by WCAG's 3:1 for non-text marks; else (a blue highlight on the dark theme's
    blue user bubble) the text colour, which always does."""
    highlight = palette.color(QPalette.ColorRole.Highlight)
    if contrast(highlight, fill) >= 3.0:
        return highlight
    return palette.color(QPalette.ColorRole.Text)


def _empty_text(status: MessageStatus) -> str:
    """What an empty bubble says: "…" only while the reply may still come, so a finished empty
    reply does not look like one waiting to start."""
    if status == MessageStatus.STREAMING:
        return "…"
    if status == MessageStatus.STOPPED:
        return "*(stopped before any text)*"
    if status == MessageStatus.ERROR:
        return "*(no text)*"
    return "*(empty reply)*"


SEP = "  ·  "
ARROW_TARGET = 24  # px: WCAG 2.5.8's least target size for a pointer


def _compact(header: str) -> str:
    return header.replace("\u2003‹\u2003", "‹ ").replace("\u2003›\u2003", " ›")


def _header(msg: Message, reading: int = 0, done: int | None = None, short: bool = False) -> str:
    return SEP.join([speaker(msg.role, msg.model), *_header_rest(msg, reading, done, short)])


def _header_rest(msg: Message, reading: int, done: int | None, short: bool) -> list[str]:
    when = local(msg.created_at)
    parts = [when.strftime("%H:%M") if when is not None else "?"]
    if msg.version_count > 1:
        # en and em spaces: room for arrow buttons of a finger's size (version_arrows)
        parts.append(f"\u2003‹\u2003{msg.version_index}/{msg.version_count}\u2003›\u2003")
    what = "reading" if short else "reading the conversation,"
    if msg.status == MessageStatus.STREAMING and reading and done is not None:
        parts.append(f"{what} {done:,} / {reading:,} tokens… (Esc stops)")
    elif msg.status == MessageStatus.STREAMING and reading:
        parts.append(f"{what} {reading:,} tokens… (Esc stops)")
    elif msg.status == MessageStatus.STREAMING:
        parts.append("writing…")
    elif msg.status == MessageStatus.STOPPED:
        parts.append("stopped")
    elif msg.status == MessageStatus.ERROR:
        parts.append("failed")
    return parts


def fitted_header(
    msg: Message, reading: int, done: int | None, metrics: QFontMetrics, width: int
) -> str:
    """The header as it fits one line of a narrow bubble: the progress and "(Esc stops)" are
    what the user needs while a long prompt is read, so the wording shortens first, then the
    model's name is elided, and only then the end."""
    for short in (False, True):
        text = _header(msg, reading, done, short)
        if metrics.horizontalAdvance(text) <= width:
            return text
        text = _compact(text)  # the arrows' roomy spacing goes before any words
        if metrics.horizontalAdvance(text) <= width:
            return text
    rest = _compact(SEP.join(_header_rest(msg, reading, done, True)))
    room = width - metrics.horizontalAdvance(SEP + rest)
    who = metrics.elidedText(speaker(msg.role, msg.model), Qt.TextElideMode.ElideRight, room)
    text = who + SEP + rest if room > 0 and who else rest
    if metrics.horizontalAdvance(text) > width:
        text = _compact(SEP.join(_header_rest(msg, reading, done, True)[1:]))  # no time
    return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
