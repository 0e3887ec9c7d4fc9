"""Search all threads: the box, its results, and the full-text query run as a background
job on its own read connection (the GUI thread never waits on it)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLineEdit, QListWidget, QListWidgetItem, QWidget

from chatapp.domain import SearchHit
from chatapp.errors import StorageError
from chatapp.store import Store
from chatapp.ui.search_results import SearchHitDelegate, hit_item
from chatapp.workers.jobs import Job, Jobs

log = logging.getLogger("chatapp.ui")


class SearchPanel(QObject):
    """Owns the search box and the results list (the window lays them out).

    Signals: hit_opened(int, int) a result was chosen: its thread and message;
    left() Esc cleared the search (the window gives the focus back to the composer)."""

    hit_opened = Signal(int, int)
    left = Signal()

    def __init__(self, store: Store, jobs: Jobs, parent: QWidget) -> None:
        super().__init__(parent)
        self._store = store
        self._jobs = jobs
        self._reader: Store | None = None  # opened and used on the job thread
        self._reader_stale = False  # the file under it was written back: open a new one
        self.box = QLineEdit()
        self.box.setPlaceholderText("Search all threads (Ctrl+F)")
        self.box.setAccessibleName("Search")
        self.box.setClearButtonEnabled(True)
        self.results = QListWidget()
        self.results.setAccessibleName("Search results")
        self.results.setWordWrap(True)
        self.results.setItemDelegate(SearchHitDelegate(self.results))
        self.results.hide()
        self._timer = QTimer(self, singleShot=True, interval=250)
        self.box.textChanged.connect(lambda _t: self._timer.start())
        self._timer.timeout.connect(self.start)
        self.box.installEventFilter(self)  # Down goes to the results, Enter opens the first
        self.results.installEventFilter(self)  # Esc there too
        self.results.itemActivated.connect(self.open_hit)
        self.results.itemClicked.connect(self.open_hit)

    def focus(self) -> None:
        self.box.setFocus()
        self.box.selectAll()

    def start(self) -> None:
        query = self.box.text().strip()
        if not query:
            self.results.hide()
            self.results.clear()
            return

        def search(job: Job) -> list[SearchHit]:
            try:
                if self._reader_stale and self._reader is not None:
                    self._reader.close()  # it reads the deleted file
                    self._reader = None
                self._reader_stale = False
                if self._reader is None:
                    self._reader = self._store.reader()
                return self._reader.search(query)
            except StorageError as exc:
                log.warning("search failed: %s", exc)
                return []

        self._jobs.run(search, lambda hits: self._show(query, hits), name="search")

    def _show(self, query: str, hits: list[SearchHit]) -> None:
        if query != self.box.text().strip():
            return  # an older query's answer
        self.results.clear()
        for hit in hits:
            self.results.addItem(hit_item(hit))
        if not hits:
            self.results.addItem(QListWidgetItem("No messages found"))
        self.results.show()

    def open_hit(self, item: QListWidgetItem) -> None:
        target = item.data(Qt.ItemDataRole.UserRole)
        if target:
            self.hit_opened.emit(*target)

    def reopen_reader(self) -> None:
        """The database file was written back under its name (`DatabaseWatch`): the read
        connection opened before reads the deleted file; the next search opens a new one."""
        self._reader_stale = True

    def close(self) -> None:
        """After the jobs have ended (at quit): the job thread's read connection."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def leave(self) -> None:
        """Esc: the query and its results go (they kept half the sidebar), the focus returns."""
        self.box.clear()
        self._timer.stop()  # clear() started it: nothing is left to search
        self.results.hide()
        self.results.clear()
        self.left.emit()

    def _searching(self) -> bool:
        return bool(self.box.text()) or self.results.isVisible()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (
            watched in (self.box, self.results)
            and kind in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress)
            and event.key() == Qt.Key.Key_Escape
            and self._searching()
        ):
            # taken before the Stop button's Esc shortcut: Esc here means "leave the search"
            event.accept()
            if kind == QEvent.Type.KeyPress:
                self.leave()
            return True
        if watched is self.box and event.type() == QEvent.Type.KeyPress:
            results = self.results
            has_hits = (
                results.isVisible()
                and results.count()
                and results.item(0).data(Qt.ItemDataRole.UserRole)
            )
            if event.key() == Qt.Key.Key_Down and has_hits:
                results.setFocus()
                results.setCurrentRow(0)
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and has_hits:
                self.open_hit(results.item(0))
                return True
        return super().eventFilter(watched, event)
