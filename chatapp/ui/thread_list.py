"""The sidebar's item model: threads, pinned first, then by last activity."""

from __future__ import annotations

import datetime as dt
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from chatapp.domain import Thread
from chatapp.store import Store
from chatapp.timestamps import local
from chatapp.ui.guard import guarded

ThreadIdRole = Qt.ItemDataRole.UserRole + 1
GroupRole = Qt.ItemDataRole.UserRole + 2  # the group's name when this row starts a group, else ""
WritingRole = Qt.ItemDataRole.UserRole + 3  # True for the thread whose reply is being written

_Index = QModelIndex | QPersistentModelIndex


class ThreadListModel(QAbstractListModel):
    def __init__(self, store: Store, parent: Any = None) -> None:
        super().__init__(parent)
        self._store = store
        self._threads: list[Thread] = []
        self._groups: list[str] = []
        self._writing: int | None = None  # the thread a reply is being written in

    def set_writing(self, thread_id: int | None) -> None:
        """Mark the thread whose reply is being written (None: no reply)."""
        rows = [self.row_of(t) for t in (self._writing, thread_id) if t is not None]
        self._writing = thread_id
        for row in rows:
            if row >= 0:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def refresh(self) -> None:
        self.beginResetModel()
        self._threads = self._store.threads()
        today = dt.date.today()
        self._groups = [group_of(t, today) for t in self._threads]
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._threads)

    @guarded()
    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._threads):
            return None
        thread = self._threads[index.row()]
        writing = thread.id == self._writing
        if role == Qt.ItemDataRole.DisplayRole:
            return ("✎ " if writing else "") + (thread.title or "New chat")
        if role == Qt.ItemDataRole.EditRole:
            return thread.title or "New chat"
        if role == Qt.ItemDataRole.ToolTipRole:
            return (thread.title or "New chat") + (
                "\n(a reply is being written)" if writing else ""
            )
        if role == WritingRole:
            return writing
        if role == ThreadIdRole:
            return thread.id
        if role == GroupRole:
            group = self._groups[index.row()]
            return group if index.row() == 0 or self._groups[index.row() - 1] != group else ""
        return None

    def row_of(self, thread_id: int) -> int:
        for row, thread in enumerate(self._threads):
            if thread.id == thread_id:
                return row
        return -1

    def thread_at(self, row: int) -> Thread | None:
        return self._threads[row] if 0 <= row < len(self._threads) else None


def group_of(thread: Thread, today: dt.date) -> str:
    """Pinned, Today, Yesterday, Previous 7 days, Previous 30 days, or Older."""
    if thread.pinned:
        return "Pinned"
    when = local(thread.updated_at)
    if when is None:
        return "Older"  # a damaged time: the thread is still listed
    day = when.date()
    age = (today - day).days
    if age <= 0:
        return "Today"
    if age == 1:
        return "Yesterday"
    if age <= 7:
        return "Previous 7 days"
    if age <= 30:
        return "Previous 30 days"
    return "Older"


class ThreadDelegate(QStyledItemDelegate):
    """Draws a group heading above the first thread of each group (as tall as its font, so
    it scales with the font size)."""

    @staticmethod
    def heading_font(font: QFont) -> QFont:
        heading = QFont(font)
        heading.setBold(True)
        heading.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        return heading

    def heading_height(self, font: QFont) -> int:
        return int(QFontMetrics(self.heading_font(font)).height() * 1.6)

    @guarded(lambda _self, option, _index: QSize(option.rect.width(), 24))
    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        size = super().sizeHint(option, index)
        if index.data(GroupRole):
            size.setHeight(size.height() + self.heading_height(option.font))
        return size

    @guarded()
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        heading = index.data(GroupRole)
        if not heading:
            return super().paint(painter, option, index)
        height = self.heading_height(option.font)
        painter.save()
        try:
            painter.setFont(self.heading_font(option.font))
            painter.setPen(option.palette.color(QPalette.ColorRole.PlaceholderText))
            top = QRect(option.rect.left() + 4, option.rect.top(), option.rect.width() - 4, height)
            painter.drawText(
                top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom, heading
            )
        finally:
            painter.restore()  # also after a failure: the view's painter stays balanced
        item = QStyleOptionViewItem(option)
        item.rect = option.rect.adjusted(0, height, 0, 0)
        super().paint(painter, item, index)
