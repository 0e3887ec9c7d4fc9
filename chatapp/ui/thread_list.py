"""The sidebar's item model: threads, pinned first, then by last activity."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from chatapp.domain import Thread
from chatapp.store import Store

ThreadIdRole = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


class ThreadListModel(QAbstractListModel):
    def __init__(self, store: Store, parent: Any = None) -> None:
        super().__init__(parent)
        self._store = store
        self._threads: list[Thread] = []

    def refresh(self) -> None:
        self.beginResetModel()
        self._threads = self._store.threads()
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._threads)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._threads):
            return None
        thread = self._threads[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            title = thread.title or "New chat"
            return f"📌 {title}" if thread.pinned and role == Qt.ItemDataRole.DisplayRole else title
        if role == Qt.ItemDataRole.ToolTipRole:
            return thread.title or "New chat"
        if role == ThreadIdRole:
            return thread.id
        return None

    def row_of(self, thread_id: int) -> int:
        for row, thread in enumerate(self._threads):
            if thread.id == thread_id:
                return row
        return -1

    def thread_at(self, row: int) -> Thread | None:
        return self._threads[row] if 0 <= row < len(self._threads) else None
