"""The main window: threads on the left, the conversation and the composer on the right."""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QObject,
    QPoint,
    QPointF,
    QSettings,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from chatapp import __version__
from chatapp.config.settings import FONT_SIZES, AppSettings
from chatapp.domain import Message, MessageStatus, Role, SearchHit
from chatapp.engine.backend import ModelSpec, ReplyResult
from chatapp.errors import StorageError, UserFacingError
from chatapp.store import Store
from chatapp.timestamps import local
from chatapp.ui.composer import Composer
from chatapp.ui.highlight import code_blocks
from chatapp.ui.memory_panel import MemoryPanel
from chatapp.ui.model_controller import ModelController
from chatapp.ui.search_results import SearchHitDelegate, hit_item
from chatapp.ui.session import BUSY, ChatSession
from chatapp.ui.status_bar import ERROR_MARK, StatusBar
from chatapp.ui.theme import apply_theme
from chatapp.ui.thread_list import ThreadDelegate, ThreadIdRole, ThreadListModel
from chatapp.ui.transcript import MessageDelegate, TranscriptModel
from chatapp.workers.engine import EngineController
from chatapp.workers.jobs import Job, Jobs
from chatapp.workers.memory import MemoryController

log = logging.getLogger("chatapp.ui")
DETAILS_MARK = "Last lines of llama.cpp's log:"
TRASH_TITLE_ROLE = Qt.ItemDataRole.UserRole + 2  # the title of a thread in the trash dialog


WELCOME = (
    "<h3>Start a conversation</h3>"
    "<p>Type below and press Enter (Shift+Enter for a new line).</p>"
    "<p>The built-in model, SmolLM2-135M, is tiny: good for trying the app, short chats and "
    "simple rewording, not for facts or long reasoning. Load your own GGUF model with "
    "<b>Model ▸ Load model file…</b> (Ctrl+O), or drop the file on this window.</p>"
    "<p>Threads stay on this computer; chatapp remembers what you told it across days "
    "(View ▸ Memory panel, Ctrl+M). All keys: <b>Help ▸ Keyboard shortcuts</b> (Ctrl+/).</p>"
)


def font_points(size: int) -> int:
    """A font size from the settings, kept readable (0 is the system's size)."""
    return 0 if size <= 0 else min(FONT_SIZES[1], max(FONT_SIZES[0], size))


class MainWindow(QMainWindow):
    """Signals: export_done(str, str), import_done(str, str): a message, or an error."""

    export_done = Signal(str, str)  # message, error
    import_done = Signal(str, str)  # message, error
    export_progress = Signal(float)

    UNDO_MS = 10_000  # how long Undo stays after a delete (the last delete's own time)
    DRAFT_SAVE_MS = 1_500  # a draft is saved this long after the last keystroke

    def __init__(
        self,
        store: Store,
        engine: EngineController,
        model_spec: ModelSpec | None,
        settings: QSettings,
        memory: MemoryController | None = None,
        app_settings: AppSettings | None = None,
        settings_path: Path | None = None,
    ) -> None:
        super().__init__()
        self._base_font = None
        self.store = store
        self.engine = engine
        self.memory = memory
        self.settings = settings
        self.session = ChatSession(store, engine, self, memory)
        self.models = ModelController(
            engine, self.session, store, app_settings or AppSettings(), settings_path,
            lambda message: self.confirm_large_model(message), self,
        )
        try:
            self._drafts: dict[int, str] = store.drafts()  # unsent text, kept across restarts
        except StorageError as exc:
            log.warning("drafts could not be read: %s", exc)
            self._drafts = {}
        self._unsaved_drafts: set[int] = set()  # drafts a failed write left only in memory
        self._focused_once = False
        self._follow = True  # the transcript follows its end until the user scrolls up
        self._current_thread: int | None = None
        # one background thread for search, export and import (the GUI thread never waits on them)
        self.jobs = Jobs(self)  # search, export, import: off the GUI thread, results back on it
        self.jobs.on_bug = self.show_error
        self._export_dialog: QProgressDialog | None = None
        self._export_cancel: threading.Event | None = None
        self._search_store: Store | None = None
        self.setWindowTitle("chatapp")
        self.setAcceptDrops(True)
        self._build()
        self._build_menus()
        self._wire()
        self.threads_model.refresh()
        self._restore_state()  # may load the last thread's own model
        self.apply_appearance()
        if model_spec is None:
            self.model_label.setText("No model")
        elif self.models.spec is None:  # no thread asked for its own
            self.load_model(model_spec)

    # -- construction ---------------------------------------------------

    def _build(self) -> None:
        self.threads_model = ThreadListModel(self.store, self)
        self.thread_view = QListView()
        self.thread_view.setModel(self.threads_model)
        self.thread_view.setAccessibleName("Threads")
        self.thread_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.thread_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.thread_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thread_view.setItemDelegate(ThreadDelegate(self.thread_view))
        new_button = QPushButton("+ New chat")
        new_button.setAccessibleName("New chat")
        new_button.clicked.connect(self.new_thread)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        self.search_box = QLineEdit()
        self.search_box.setPlaceholderText("Search all threads (Ctrl+F)")
        self.search_box.setAccessibleName("Search")
        self.search_box.setClearButtonEnabled(True)
        self.search_list = QListWidget()
        self.search_list.setAccessibleName("Search results")
        self.search_list.setWordWrap(True)
        self.search_list.setItemDelegate(SearchHitDelegate(self.search_list))
        self.search_list.hide()
        self._search_timer = QTimer(self, singleShot=True, interval=250)
        left_layout.addWidget(new_button)
        left_layout.addWidget(self.search_box)
        left_layout.addWidget(self.search_list)
        left_layout.addWidget(self.thread_view)

        self.transcript = TranscriptModel(self.store, self)
        self.transcript_view = QListView()
        self.transcript_view.setModel(self.transcript)
        delegate = MessageDelegate(self.transcript_view)
        delegate.link_activated.connect(self.open_link)
        self.transcript_view.setItemDelegate(delegate)
        # double-click a message: its text becomes selectable in place
        self.transcript_view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked)
        self.transcript_view.setAccessibleName("Conversation")
        self.transcript_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.transcript_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.transcript_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.transcript_view.setWordWrap(True)
        self.transcript_view.setSpacing(0)
        self.welcome = QLabel(WELCOME, self.transcript_view.viewport())
        self.welcome.setAccessibleName("Getting started")
        self.welcome.setWordWrap(True)
        self.welcome.setTextFormat(Qt.TextFormat.RichText)
        self.welcome.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.welcome.setContentsMargins(40, 20, 40, 20)
        self.transcript.modelReset.connect(self._update_welcome)
        self.transcript.rowsInserted.connect(self._update_welcome)
        self.transcript.rowsRemoved.connect(self._update_welcome)

        self.composer = Composer()
        self.send_button = QPushButton("Send")
        self.send_button.setAccessibleName("Send")
        self.send_button.setEnabled(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setAccessibleName("Stop")
        self.stop_button.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.stop_button.hide()
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch()
        composer_row = QHBoxLayout()
        composer_row.addWidget(self.composer, 1)
        composer_row.addLayout(buttons)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 6)
        right_layout.addWidget(self.transcript_view, 1)
        right_layout.addLayout(composer_row)

        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([220, 680])
        self.setCentralWidget(self.splitter)
        self.memory_panel = MemoryPanel(self.store, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.memory_panel)
        self.memory_panel.hide()
        self.memory_panel.visibilityChanged.connect(self._make_room_for_memory)

        self.model_label = QLabel("Loading model…")
        self.model_label.setAccessibleName("Model status")
        self.speed_label = QLabel("")
        self.context_label = QLabel("")
        status = StatusBar(self)
        self.setStatusBar(status)
        self._undo_button = QPushButton("Undo")
        self._undo_button.setAccessibleName("Undo delete")
        self._undo_button.hide()
        self._undo_button.clicked.connect(self.undo_delete)
        self._undo_timer = QTimer(self, singleShot=True)  # one timer: each delete restarts it
        self._undo_timer.timeout.connect(self._undo_button.hide)
        self._draft_timer = QTimer(self, singleShot=True, interval=self.DRAFT_SAVE_MS)
        self._draft_timer.timeout.connect(self._save_draft)
        status.addPermanentWidget(self._undo_button)  # a normal widget would hide under the message
        status.addPermanentWidget(self.context_label)
        status.addPermanentWidget(self.speed_label)
        status.addPermanentWidget(self.model_label)
        self.resize(960, 680)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_action = QAction("&New thread", self, shortcut=QKeySequence.StandardKey.New)
        self.new_action.triggered.connect(self.new_thread)
        file_menu.addAction(self.new_action)
        file_menu.addSeparator()
        import_action = QAction("&Import…", self, shortcut=QKeySequence("Ctrl+I"))
        import_action.triggered.connect(self.import_threads)
        file_menu.addAction(import_action)
        self.export_action = QAction("&Export thread…", self, shortcut=QKeySequence("Ctrl+E"))
        self.export_action.triggered.connect(self.export_thread)
        file_menu.addAction(self.export_action)
        export_all = QAction("Export &all threads…", self)
        export_all.triggered.connect(self.export_all)
        file_menu.addAction(export_all)
        file_menu.addSeparator()
        trash_action = QAction("&Trash…", self)
        trash_action.triggered.connect(self.show_trash)
        file_menu.addAction(trash_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.rename_action = QAction("&Rename thread…", self, shortcut=QKeySequence(Qt.Key.Key_F2))
        self.rename_action.triggered.connect(self.rename_thread)
        edit_menu.addAction(self.rename_action)
        self.delete_action = QAction("&Delete thread", self, shortcut=QKeySequence("Ctrl+Shift+Backspace"))
        self.delete_action.triggered.connect(self.delete_thread)
        edit_menu.addAction(self.delete_action)
        find_action = QAction("&Find in all threads", self, shortcut=QKeySequence.StandardKey.Find)
        find_action.triggered.connect(lambda: (self.search_box.setFocus(), self.search_box.selectAll()))
        edit_menu.addAction(find_action)
        self.regenerate_action = QAction("Re&generate reply", self, shortcut=QKeySequence("Ctrl+R"))
        self.regenerate_action.triggered.connect(self.regenerate)
        edit_menu.addAction(self.regenerate_action)
        edit_menu.addSeparator()
        self.settings_action = QAction("&Settings…", self, shortcut=QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(self.open_settings)
        edit_menu.addAction(self.settings_action)

        view_menu = self.menuBar().addMenu("&View")
        memory_action = self.memory_panel.toggleViewAction()
        memory_action.setText("&Memory panel")
        memory_action.setShortcut(QKeySequence("Ctrl+M"))
        view_menu.addAction(memory_action)

        model_menu = self.menuBar().addMenu("&Model")
        load_action = QAction("&Load model file…", self, shortcut=QKeySequence("Ctrl+O"))
        load_action.triggered.connect(self.choose_model)
        model_menu.addAction(load_action)
        library_action = QAction("Model &library…", self, shortcut=QKeySequence("Ctrl+L"))
        library_action.triggered.connect(self.open_library)
        model_menu.addAction(library_action)
        settings_model = QAction("Model &settings…", self, shortcut=QKeySequence("Ctrl+Shift+,"))
        settings_model.triggered.connect(lambda: self.open_model_settings())
        model_menu.addAction(settings_model)
        server_action = QAction("Connect to a &server…", self)
        server_action.triggered.connect(self.connect_server)
        model_menu.addAction(server_action)
        unload_action = QAction("&Unload", self)
        unload_action.triggered.connect(self.engine.unload)
        model_menu.addAction(unload_action)

        help_menu = self.menuBar().addMenu("&Help")
        keys_action = QAction("&Keyboard shortcuts", self, shortcut=QKeySequence("Ctrl+/"))
        keys_action.triggered.connect(self.show_shortcuts)
        help_menu.addAction(keys_action)
        about_action = QAction("&About chatapp", self)
        about_action.triggered.connect(self.about)
        help_menu.addAction(about_action)

    def _wire(self) -> None:
        self.thread_view.selectionModel().currentChanged.connect(self._thread_selected)
        self.thread_view.doubleClicked.connect(lambda _i: self.rename_thread())
        self.thread_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.thread_view.customContextMenuRequested.connect(self._thread_menu)
        self.composer.textChanged.connect(self._update_send_enabled)
        self.composer.textChanged.connect(self._draft_timer.start)
        self.composer.submitted.connect(self.send)
        self.send_button.clicked.connect(self.send)
        self.stop_button.clicked.connect(self.session.stop)
        bar = self.transcript_view.verticalScrollBar()
        bar.valueChanged.connect(self._maybe_load_older)
        bar.valueChanged.connect(self._note_scroll)
        bar.rangeChanged.connect(self._keep_following)
        self.transcript_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.transcript_view.viewport().setMouseTracking(True)
        self.transcript_view.viewport().installEventFilter(self)
        self.search_box.installEventFilter(self)  # Down goes to the results, Enter opens the first
        self.thread_view.installEventFilter(self)  # Delete deletes the selected thread (not elsewhere)
        self.transcript_view.customContextMenuRequested.connect(self._message_menu)
        self.search_box.textChanged.connect(lambda _t: self._search_timer.start())
        self._search_timer.timeout.connect(self._start_search)
        self.export_done.connect(self._on_file_job_done)
        self.import_done.connect(self._on_file_job_done)
        self.export_progress.connect(self._on_export_progress)
        self.search_list.itemActivated.connect(self._open_hit)
        self.search_list.itemClicked.connect(self._open_hit)
        s = self.session
        s.message_added.connect(self._on_message_added)
        s.reply_text.connect(self._on_reply_text)
        s.reading.connect(self.transcript.set_reading)
        s.read_progress.connect(self.transcript.set_read_progress)
        s.reply_done.connect(self._on_reply_done)
        s.busy_changed.connect(self._on_busy)
        s.threads_changed.connect(self._refresh_threads)
        s.context_used.connect(self._on_context)
        s.reply_stats.connect(self._on_stats)
        s.error.connect(self.show_error)
        self.models.label.connect(self._show_model_label)
        self.models.notice.connect(lambda text, ms: self.statusBar().showMessage(text, ms))
        self.models.error.connect(self.show_error)
        self.engine.started.connect(self._on_reply_started)
        self.engine.summarized.connect(lambda tid, n: self._memory_changed(tid) if n else None)
        self.memory_panel.note_added.connect(self._add_note)
        if self.memory is not None:
            self.memory.ingested.connect(lambda tid, _r: self._memory_changed(tid))
            self.memory_panel.slot_edited.connect(self.memory.ingest)
            self.memory.unavailable.connect(self.show_error)
            self.memory.failed.connect(self.show_error)

    # -- threads --------------------------------------------------------

    @Slot()
    def new_thread(self) -> None:
        """A new chat; an untouched one (no message, draft or settings) is reused, so
        pressing Ctrl+N again and again does not pile up empty threads."""
        self._save_draft()
        try:
            unused = self.store.unused_thread()
            if unused is not None:
                self.store.renew_thread(unused)
            thread_id = unused if unused is not None else self.store.create_thread().id
        except StorageError as exc:
            self.show_error(str(exc))
            return
        self._refresh_threads(select=thread_id)
        self.composer.setFocus()

    def _refresh_threads(self, select: int | None = None) -> None:
        keep = select if select is not None else self._current_thread
        self.threads_model.refresh()
        row = self.threads_model.row_of(keep) if keep is not None else -1
        if row < 0 and self.threads_model.rowCount() > 0 and keep is None:
            row = 0
        if row >= 0:
            self.thread_view.selectionModel().setCurrentIndex(
                self.threads_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )

    @Slot()
    def _thread_selected(self, current, _previous=None) -> None:  # type: ignore[no-untyped-def]
        thread_id = current.data(ThreadIdRole) if current.isValid() else None
        if thread_id == self._current_thread:
            return
        typed = self.composer.toPlainText()
        was_none = self._current_thread is None
        if not was_none:
            self._save_draft()
        self._current_thread = thread_id
        self._follow = True  # a thread opens at its end
        self.transcript.load_thread(thread_id)
        self.memory_panel.show_thread(thread_id)
        self._show_thread_context(thread_id)
        if thread_id is not None:
            self._follow_thread_model(thread_id)
        draft = self._drafts.get(thread_id, "") if thread_id else ""
        if typed.strip() and was_none and typed not in draft:
            # typed before any thread was open: it goes with the thread (after its own draft)
            draft = f"{draft.rstrip()}\n{typed}" if draft.strip() else typed
        if draft != typed:
            self.composer.setPlainText(draft)
        if was_none and thread_id is not None and draft.strip():
            self._save_draft()
        self.transcript_view.scrollToBottom()
        if thread_id is not None:
            thread = self.threads_model.thread_at(current.row())
            self.setWindowTitle(f"{thread.title or 'New chat'} — chatapp" if thread else "chatapp")

    def rename_thread(self) -> None:
        if self._current_thread is None:
            return
        thread = self.store.thread(self._current_thread)
        title, ok = QInputDialog.getText(self, "Rename thread", "Title:", text=thread.title)
        if ok and title.strip():
            self.store.rename_thread(thread.id, title)
            self._refresh_threads()

    def _thread_menu(self, pos: QPoint) -> None:
        index = self.thread_view.indexAt(pos)
        thread = self.threads_model.thread_at(index.row()) if index.isValid() else None
        if thread is None:
            return
        self.thread_view.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction("Rename…", self.rename_thread)
        menu.addAction("Unpin" if thread.pinned else "Pin to top", lambda: self.pin_thread(thread.id, not thread.pinned))
        menu.addAction("Export…", self.export_thread)
        menu.addSeparator()
        menu.addAction("Delete", self.delete_thread)
        menu.exec(self.thread_view.viewport().mapToGlobal(pos))

    def pin_thread(self, thread_id: int, pinned: bool) -> None:
        self.store.pin_thread(thread_id, pinned)
        self._refresh_threads()

    def delete_thread(self) -> None:
        """To the trash, with Undo in the status bar (and restorable for 30 days)."""
        if self._current_thread is None:
            return
        thread_id = self._current_thread
        try:
            self.store.trash_thread(thread_id)
        except StorageError as exc:
            self.show_error(str(exc))
            return
        self._save_draft()  # the draft stays with its thread (Undo brings both back)
        self._current_thread = None
        self.composer.clear()  # not carried over to the thread shown next
        self._draft_timer.stop()
        self.transcript.load_thread(None)
        self._refresh_threads()
        self.memory_panel.show_thread(self._current_thread)
        self._undo_button.setProperty("thread_id", thread_id)
        self._undo_button.show()
        self.statusBar().showMessage("Thread moved to the trash (kept 30 days).", self.UNDO_MS)
        self._undo_timer.start(self.UNDO_MS)

    def show_trash(self) -> None:
        """Deleted threads stay 30 days: restore them, or delete them for good (asked first)."""
        import datetime as dt

        from PySide6.QtWidgets import QDialog, QDialogButtonBox

        from chatapp.store.store import TRASH_DAYS

        dialog = QDialog(self)
        dialog.setWindowTitle("Trash")
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel(f"Deleted threads are kept for {TRASH_DAYS} days."))
        listing = QListWidget()
        listing.setAccessibleName("Deleted threads")
        for thread in self.store.threads(trash=True):
            deleted = local(thread.deleted_at)  # a damaged time must not take the window down
            when = f"{deleted:%d %b %Y %H:%M}" if deleted is not None else "at an unknown date"
            gone = (
                f"{deleted + dt.timedelta(days=TRASH_DAYS):%d %b %Y}" if deleted is not None else "?"
            )
            title = thread.title or "New chat"
            item = QListWidgetItem(f"{title}  —  deleted {when}")
            item.setToolTip(f"Deleted {when}; deleted for good after {gone}")
            item.setData(Qt.ItemDataRole.UserRole, thread.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, f"deleted {when}")
            item.setData(TRASH_TITLE_ROLE, title)
            listing.addItem(item)
        layout.addWidget(listing)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        restore = buttons.addButton("Restore", QDialogButtonBox.ButtonRole.ActionRole)
        forever = buttons.addButton("Delete forever…", QDialogButtonBox.ButtonRole.DestructiveRole)
        empty = buttons.addButton("Empty trash…", QDialogButtonBox.ButtonRole.DestructiveRole)
        layout.addWidget(buttons)
        buttons.rejected.connect(dialog.reject)

        def do_restore() -> None:
            item = listing.currentItem()
            if item is not None:
                self.store.restore_thread(item.data(Qt.ItemDataRole.UserRole))
                listing.takeItem(listing.row(item))
                self._refresh_threads()

        def do_forever() -> None:
            item = listing.currentItem()
            if item is None:
                return
            title = item.data(TRASH_TITLE_ROLE)
            if not self.confirm("Delete forever", f"Delete “{title}” for good? This cannot be undone."):
                return
            try:
                self.store.delete_forever(item.data(Qt.ItemDataRole.UserRole))
            except (StorageError, KeyError) as exc:
                self.show_error(str(exc))
                return
            self._forget_undo({int(item.data(Qt.ItemDataRole.UserRole))})
            listing.takeItem(listing.row(item))

        def do_empty() -> None:
            if listing.count() == 0:
                return
            if not self.confirm(
                "Empty trash", f"Delete the {listing.count()} thread(s) in the trash for good? This cannot be undone."
            ):
                return
            try:
                self.store.purge_trash(days=0, now=time.time() + 1)
            except StorageError as exc:
                self.show_error(str(exc))
                return
            self._forget_undo()
            listing.clear()

        restore.clicked.connect(do_restore)
        forever.clicked.connect(do_forever)
        empty.clicked.connect(do_empty)
        self._trash_dialog = dialog
        dialog.open()

    def confirm(self, title: str, text: str) -> bool:
        """Yes/No for what cannot be undone (No is the default)."""
        answer = QMessageBox.question(
            self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def undo_delete(self) -> None:
        thread_id = self._undo_button.property("thread_id")
        self._undo_timer.stop()
        self._undo_button.hide()
        if thread_id is None:
            return
        try:
            restored = self.store.restore_thread(int(thread_id))
        except StorageError as exc:
            self.show_error(str(exc))
            return
        if not restored:
            self.statusBar().showMessage("That thread was deleted for good; it cannot be restored.", 8000)
            return
        self._refresh_threads(select=int(thread_id))
        self.statusBar().showMessage("Thread restored.", 5000)

    def _forget_undo(self, thread_ids: set[int] | None = None) -> None:
        """Hide the Undo of a deletion whose thread was deleted for good (None: any)."""
        shown = self._undo_button.property("thread_id")
        if shown is not None and (thread_ids is None or int(shown) in thread_ids):
            self._undo_timer.stop()
            self._undo_button.hide()
            self._undo_button.setProperty("thread_id", None)

    # -- conversation ---------------------------------------------------

    @Slot()
    def send(self) -> None:
        text = self.composer.toPlainText()
        if not text.strip():
            return
        if self.session.busy:  # the text stays in the composer; no dialog in the way
            writing = self.session.reply_thread
            where = ""
            if writing is not None and writing != self._current_thread:
                thread = self.threads_model.thread_at(self.threads_model.row_of(writing))
                where = f" in “{thread.title or 'New chat'}”" if thread else " in another thread"
            self.statusBar().showMessage(
                f"A reply is being written{where}: your message stays here; send it when that "
                "reply ends, or stop it (Esc).", 8000,
            )
            return
        if self._current_thread is None:
            self.new_thread()
            if self._current_thread is None:
                return
        if self.session.send(self._current_thread, text):
            self.composer.clear()
            self._draft_timer.stop()
            self._store_draft(self._current_thread, "")

    def regenerate(self) -> None:
        last = self.transcript.message_at(self.transcript.rowCount() - 1)
        if last is not None and last.role.value == "assistant":
            self.session.regenerate(last.id)

    def regenerate_message(self, message: Message) -> bool:
        """A new version of a reply. One in the middle of the thread says first that the
        messages after it stay with the current version (reachable with ‹ ›)."""
        row = self.transcript.row_of(message.id)
        later = self.transcript.rowCount() - 1 - row if row >= 0 else 0
        if later > 0 and not self.confirm(
            "Regenerate reply",
            f"The {later} message(s) after this reply stay with its current version; the new "
            "reply starts a new branch. Switch back with ‹ › on the reply.\n\nRegenerate it?",
        ):
            return False
        return self.session.regenerate(message.id)

    def _at_bottom(self) -> bool:
        bar = self.transcript_view.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    @Slot(int)
    def _note_scroll(self, _value: int) -> None:
        """Scrolling up stops following the stream; scrolling back to the end resumes it."""
        self._follow = self._at_bottom()

    @Slot()
    def _scroll_to_end_if_following(self) -> None:
        if self._follow:
            self.transcript_view.scrollToBottom()

    @Slot(int, int)
    def _keep_following(self, _low: int, high: int) -> None:
        """The rows grew (streamed text, a thread laid out after opening): stay at the end."""
        if self._follow:
            self.transcript_view.verticalScrollBar().setValue(high)

    @Slot(object)
    def _on_message_added(self, message: Message) -> None:
        if message.thread_id == self._current_thread and message.role == Role.USER:
            self._follow = True  # the user's own message brings the view back to the end
        self.transcript.append(message)
        if self._follow:
            self.transcript_view.scrollToBottom()

    @Slot(int, str)
    def _on_reply_text(self, message_id: int, text: str) -> None:
        self.transcript.set_text(message_id, text)
        if self._follow:  # checked again when it runs: the user may scroll up meanwhile
            QTimer.singleShot(0, self._scroll_to_end_if_following)

    @Slot(object)
    def _on_reply_done(self, message: Message) -> None:
        self.transcript.replace_message(message)
        if message.thread_id == self._current_thread:
            if message.status == MessageStatus.COMPLETE:
                self._statusbar().clear_error()
            self._show_thread_context(self._current_thread)
        if self._follow:  # checked again when it runs: the user may scroll up meanwhile
            QTimer.singleShot(0, self._scroll_to_end_if_following)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.threads_model.set_writing(self.session.reply_thread if busy else None)
        self.stop_button.setVisible(busy)
        self.send_button.setVisible(not busy)
        self._update_send_enabled()

    def _update_send_enabled(self) -> None:
        self.send_button.setEnabled(bool(self.composer.toPlainText().strip()) and not self.session.busy)

    @Slot(int, int)
    def _on_context(self, used: int, size: int) -> None:
        if self.session.reply_thread == self._current_thread:  # the counter is the shown thread's
            self.context_label.setText(f"Context {used}/{size}")

    def _show_thread_context(self, thread_id: int | None) -> None:
        """The shown thread's own context use: its last reply's prompt, or nothing yet."""
        info = self.session.model_info
        last = self.transcript.message_at(self.transcript.rowCount() - 1) if thread_id else None
        if info is not None and last is not None and last.prompt_tokens:
            self.context_label.setText(f"Context {last.prompt_tokens}/{info.n_ctx}")
        else:
            self.context_label.setText("")

    def _statusbar(self) -> StatusBar:
        return self.statusBar()  # type: ignore[return-value]

    # -- drafts ---------------------------------------------------------

    @Slot()
    def _save_draft(self) -> None:
        """The open thread's unsent text goes to the store (after a pause in typing, on a
        thread switch, and on quit), so a restart or a crash keeps it."""
        self._draft_timer.stop()
        if self._current_thread is not None:
            self._store_draft(self._current_thread, self.composer.toPlainText())

    def _store_draft(self, thread_id: int, text: str) -> None:
        """Write one draft; one a failed write left in memory is tried again on every later
        save (and at quit) until it is written, not only when its text changes."""
        for unsaved in sorted(self._unsaved_drafts - {thread_id}):
            self._write_draft(unsaved, self._drafts.get(unsaved, ""))
        if self._drafts.get(thread_id, "") == text and thread_id not in self._unsaved_drafts:
            return
        if text.strip():
            self._drafts[thread_id] = text
        else:
            self._drafts.pop(thread_id, None)
        self._write_draft(thread_id, text)

    def _write_draft(self, thread_id: int, text: str) -> None:
        try:
            self.store.save_draft(thread_id, text)
        except KeyError:  # the thread is gone: nothing to keep it with
            self._unsaved_drafts.discard(thread_id)
        except StorageError as exc:
            self._unsaved_drafts.add(thread_id)
            log.warning("draft not saved: %s", exc)
            self.statusBar().showMessage(f"The draft could not be saved yet: {exc}", 8000)
        else:
            self._unsaved_drafts.discard(thread_id)

    @Slot(object)
    def _on_stats(self, result: ReplyResult) -> None:
        if result.completion_tokens:
            self.speed_label.setText(f"{result.tokens_per_second:.1f} tokens/s")
            self.speed_label.setToolTip(
                f"{result.completion_tokens} tokens in {result.seconds:.1f} s, "
                f"first after {result.time_to_first_token:.2f} s"
            )

    def _maybe_load_older(self, value: int) -> None:
        if value == 0 and self.transcript.has_older():
            bar = self.transcript_view.verticalScrollBar()
            before = bar.maximum()
            if self.transcript.load_older():
                QTimer.singleShot(0, lambda: bar.setValue(bar.maximum() - before))

    # -- settings -------------------------------------------------------

    def open_settings(self) -> None:
        from chatapp.ui.settings_dialog import SettingsDialog

        thread = self.store.thread(self._current_thread) if self._current_thread is not None else None
        if thread is not None:  # what replies use now: the model's defaults until changed
            thread = dataclasses.replace(thread, settings=self.session.effective_sampling(thread.settings))
        from chatapp.store.crypto import describe

        privacy = describe(self.store.db_path, self.store.key)
        dialog = SettingsDialog(thread, self.app_settings, self, privacy=privacy)
        self._settings_dialog = dialog
        dialog.accepted.connect(lambda: self.apply_settings(dialog))
        dialog.open()

    def apply_settings(self, dialog) -> None:  # type: ignore[no-untyped-def]
        values = dialog.thread_values()
        try:
            if values is not None and self._current_thread is not None:
                prompt, sampling = values
                own = self.store.thread(self._current_thread).settings
                unchanged = sampling == self.session.effective_sampling(own)
                self.store.update_thread(
                    self._current_thread, system_prompt=prompt, settings=None if unchanged else sampling
                )
            new = dialog.app_values(self.app_settings)
            if self.settings_path is not None:
                new.save(self.settings_path)
        except (StorageError, OSError) as exc:
            self.show_error(f"The settings could not be saved: {exc}")
            return
        self.app_settings = new
        self.apply_appearance()
        self.statusBar().showMessage("Settings saved. Model settings apply when a model is next loaded.", 6000)

    def apply_appearance(self) -> None:
        """Theme and font size, at once (the text of every view scales with the size)."""
        from PySide6.QtGui import QGuiApplication

        app = QGuiApplication.instance()
        if self._base_font is None:
            self._base_font = app.font()
            app.styleHints().colorSchemeChanged.connect(self._system_scheme_changed)
        font = app.font()
        size = font_points(self.app_settings.font_size) or self._base_font.pointSize()
        if size > 0:
            font.setPointSize(size)
        app.setFont(font)
        self.transcript_view.setFont(font)
        self.thread_view.setFont(font)
        apply_theme(app, self.app_settings.theme)
        self.transcript_view.doItemsLayout()  # row heights follow the new font
        self.transcript_view.viewport().update()
        self.thread_view.doItemsLayout()

    @Slot()
    def _system_scheme_changed(self) -> None:
        """The desktop switched between light and dark: "system" follows it."""
        if self.app_settings.theme == "system":
            self.apply_appearance()

    # -- memory ---------------------------------------------------------

    MIN_CHAT_WIDTH = 520  # the conversation stays readable beside the memory panel

    @Slot(bool)
    def _make_room_for_memory(self, visible: bool) -> None:
        """Opening the memory panel widens the window (within the screen) rather than
        squeezing the conversation below a readable width."""
        if not visible or self.memory_panel.isFloating() or self.isMaximized() or self.isFullScreen():
            return
        panel = max(self.memory_panel.width(), self.memory_panel.sizeHint().width(), 300)
        sidebar = self.splitter.sizes()[0] if self.splitter.count() else 0
        needed = sidebar + self.MIN_CHAT_WIDTH + panel + 24
        if self.width() >= needed:
            return
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        frame = self.frameGeometry().width() - self.width()
        width = min(needed, screen.width() - frame) if screen is not None else needed
        self.resize(max(self.width(), width), self.height())
        if screen is not None and self.frameGeometry().right() > screen.right():
            self.move(max(screen.left(), screen.right() - self.frameGeometry().width()), self.y())
        if self.width() < needed:
            self._give_the_chat_room()

    SIDEBAR_NARROW = 160  # the thread list's width when the screen is too narrow for all three

    def _give_the_chat_room(self) -> None:
        """The window cannot grow enough (a small screen): the thread list and the panel
        give up width to the conversation, down to their smallest usable widths."""
        sizes = self.splitter.sizes()
        if len(sizes) == 2:
            sidebar_min = self.splitter.widget(0).minimumSizeHint().width()
            sidebar = max(sidebar_min, min(sizes[0], self.SIDEBAR_NARROW))
            self.splitter.setSizes([sidebar, sum(sizes) - sidebar])
        panel_min = self.memory_panel.minimumSizeHint().width()
        self.resizeDocks([self.memory_panel], [panel_min], Qt.Orientation.Horizontal)

    def _memory_changed(self, thread_id: int) -> None:
        if thread_id == self._current_thread:
            self.memory_panel.refresh()

    def _on_reply_started(self, started) -> None:  # type: ignore[no-untyped-def]
        self.memory_panel.show_context(started.context, started.prompt_tokens, started.n_ctx)

    def _add_note(self, thread_id: int, text: str) -> None:
        if self.memory is None:
            self.show_error("Memory is not available in this session.")
            return
        self.memory.add_note(thread_id, text)

    # -- export and import -------------------------------------------------

    _FILTERS: ClassVar[dict[str, str]] = {
        "md": "Markdown (*.md)",
        "html": "Web page (*.html)",
        "pdf": "PDF (*.pdf)",
        "json": "chatapp JSON (*.json)",
        "txt": "Plain text (*.txt)",
    }

    def export_thread(self) -> None:
        if self._current_thread is None:
            self.show_error("Choose a thread to export first.")
            return
        thread = self.store.thread(self._current_thread)
        name = re.sub(r"[^\w\- ]+", "", thread.title or "chat").strip()[:60] or "chat"
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export thread (the exported file is not encrypted)", str(Path.home() / f"{name}.md"), ";;".join(self._FILTERS.values())
        )
        if path:
            from chatapp.export.writer import choose_format

            # the typed extension wins (x.html is HTML under any filter), else the filter's
            fmt, target = choose_format(path, next((k for k, v in self._FILTERS.items() if v == chosen), None))
            if target != Path(path) and target.exists() and not self.confirm(
                "Replace file",
                f"“{target.name}” already exists in {target.parent}. Replace it with this export?",
            ):
                return  # the dialog confirmed another name; this one was never asked about
            self.run_export([thread.id], fmt, target)

    def export_all(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export all threads (the exported file is not encrypted)", str(Path.home() / "chatapp-threads.json"), self._FILTERS["json"]
        )
        if path:
            self.run_export([t.id for t in self.store.threads()], "json", Path(path))

    def run_export(self, thread_ids: list[int], fmt: str, path: Path) -> None:
        """On a background thread with its own read connection, with progress and Cancel;
        the window stays responsive."""
        from chatapp.export.progress import Progress
        from chatapp.export.writer import export_threads
        from chatapp.ui.pdf_export import write_pdf

        self.statusBar().showMessage(f"Exporting to {path.name}…")
        progress = Progress(self.export_progress.emit)
        dialog = QProgressDialog(f"Exporting to {path.name}…", "Cancel", 0, 100, self)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(400)  # quick exports show no dialog
        dialog.setAutoClose(True)
        dialog.canceled.connect(progress.cancel.set)
        self._export_dialog = dialog
        self._export_cancel = progress.cancel

        def work(job: Job) -> str:
            reader = self.store.reader()
            try:
                export_threads(reader, thread_ids, fmt, path, progress, pdf=write_pdf)
            finally:
                reader.close()
            return f"Exported to {path}"

        self.jobs.run(
            work,
            lambda message: self.export_done.emit(message, ""),
            lambda error: self.export_done.emit("", error),
            name=f"The export to {path}",
        )

    @Slot(float)
    def _on_export_progress(self, fraction: float) -> None:
        dialog = self._export_dialog
        if dialog is not None and not dialog.wasCanceled():
            dialog.setValue(int(fraction * 100))

    @Slot(str, str)
    def _on_file_job_done(self, message: str, error: str) -> None:
        dialog = self._export_dialog
        if dialog is not None:
            dialog.reset()
            self._export_dialog = None
        if error:
            self.show_error(error)
        else:
            self.statusBar().showMessage(message, 10000)  # replaces an earlier error too
            self._refresh_threads()

    def import_threads(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import threads", str(Path.home()), "chatapp or ChatGPT export (*.json);;All files (*)"
        )
        if path:
            self.run_import(Path(path))

    def run_import(self, path: Path) -> None:
        from chatapp.export.importers import ImportReport, import_with_report

        self.statusBar().showMessage(f"Importing {path.name}…")

        def work(job: Job) -> ImportReport:
            # its own connection: a long import holds a write transaction, and the window's
            # connection (and its lock) must stay free for reading meanwhile (WAL)
            writer = Store.open(self.store.db_path, self.store.key)
            try:
                return import_with_report(writer, path)
            finally:
                writer.close()

        def done(report: ImportReport) -> None:
            self.import_done.emit(report.message(path.name), "")
            for thread_id in report.thread_ids:
                if self.memory is not None:
                    self.memory.ingest(thread_id)  # memory is built in the background

        self.jobs.run(
            work, done, lambda error: self.import_done.emit("", error), name=f"The import of {path.name}"
        )

    # -- search ---------------------------------------------------------

    def _start_search(self) -> None:
        """FTS runs on the search thread with its own read connection; results come back as a signal."""
        query = self.search_box.text().strip()
        if not query:
            self.search_list.hide()
            self.search_list.clear()
            return

        def search(job: Job) -> list[SearchHit]:
            try:
                if self._search_store is None:
                    self._search_store = self.store.reader()
                return self._search_store.search(query)
            except StorageError as exc:
                log.warning("search failed: %s", exc)
                return []

        self.jobs.run(search, lambda hits: self._show_search_results(query, hits), name="search")

    def _show_search_results(self, query: str, hits: list[SearchHit]) -> None:
        if query != self.search_box.text().strip():
            return  # an older query's answer
        self.search_list.clear()
        for hit in hits:
            self.search_list.addItem(hit_item(hit))
        if not hits:
            self.search_list.addItem(QListWidgetItem("No messages found"))
        self.search_list.show()

    def _open_hit(self, item: QListWidgetItem) -> None:
        target = item.data(Qt.ItemDataRole.UserRole)
        if not target:
            return
        thread_id, message_id = target
        self._refresh_threads(select=thread_id)
        self.show_message(message_id)

    def show_message(self, message_id: int) -> None:
        """Scroll to a message of the open thread, loading older pages until it is there."""
        while self.transcript.row_of(message_id) < 0 and self.transcript.load_older():
            pass
        row = self.transcript.row_of(message_id)
        if row >= 0:
            index = self.transcript.index(row)
            self.transcript_view.setCurrentIndex(index)
            self.transcript_view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    # -- per-message actions ----------------------------------------------

    def _message_menu(self, pos: QPoint) -> None:
        index = self.transcript_view.indexAt(pos)
        if not index.isValid():  # the Menu key: the selected message
            index = self.transcript_view.currentIndex()
            pos = self.transcript_view.visualRect(index).center()
        message = self.transcript.message_at(index.row()) if index.isValid() else None
        if message is None:
            return
        menu = QMenu(self)
        menu.addAction("Copy", lambda: self._copy(message.content))
        for n, code in enumerate(code_blocks(message.content)[:5]):
            label = "Copy code" if n == 0 else f"Copy code block {n + 1}"
            menu.addAction(label, lambda c=code: self._copy(c))
        if message.role == Role.USER:
            menu.addAction("Edit and resend…", lambda: self.edit_message(message))
        elif message.role == Role.ASSISTANT:
            menu.addAction("Regenerate", lambda: self.regenerate_message(message))
        menu.addAction("Delete…", lambda: self.delete_message(message))
        if message.version_count > 1:
            prev = menu.addAction("‹ Previous version", lambda: self.switch_version(message, -1))
            prev.setEnabled(message.version_index > 1)
            nxt = menu.addAction("Next version ›", lambda: self.switch_version(message, +1))
            nxt.setEnabled(message.version_index < message.version_count)
        menu.exec(self.transcript_view.viewport().mapToGlobal(pos))

    def delete_message(self, message: Message) -> None:
        """Delete a message and what follows it on its branch (asks first; other versions stay)."""
        if self.session.busy:
            self.show_error(BUSY)
            return
        answer = QMessageBox.question(
            self, "Delete message", "Delete this message and the messages after it on this branch?"
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        try:
            self.store.delete_message(message.id)
        except StorageError as exc:
            self.show_error(str(exc))
            return
        self.transcript.reload()
        self.memory_panel.refresh()

    def _copy(self, text: str) -> None:
        from PySide6.QtGui import QGuiApplication

        QGuiApplication.clipboard().setText(text)
        self.statusBar().showMessage("Copied.", 2000)

    def edit_message(self, message: Message) -> None:
        text, ok = QInputDialog.getMultiLineText(self, "Edit message", "Message:", message.content)
        if ok and text.strip() and text != message.content:
            self.session.edit_and_resend(message.id, text)

    def _message_option(self, index) -> QStyleOptionViewItem:  # type: ignore[no-untyped-def]
        """The option the delegate painted `index` with (for hit tests)."""
        option = QStyleOptionViewItem()
        option.rect = self.transcript_view.visualRect(index)
        option.font = self.transcript_view.font()
        option.palette = self.transcript_view.palette()
        return option

    def code_button_at(self, pos: QPoint) -> str | None:
        """The code a message's "Copy" button under `pos` copies, if one is there."""
        index = self.transcript_view.indexAt(pos)
        delegate = self.transcript_view.itemDelegate()
        if not index.isValid() or not isinstance(delegate, MessageDelegate):
            return None
        for area, code in delegate.code_buttons(self._message_option(index), index):
            if area.contains(QPointF(pos)):
                return code
        return None

    def link_at(self, pos: QPoint) -> str:
        index = self.transcript_view.indexAt(pos)
        delegate = self.transcript_view.itemDelegate()
        if not index.isValid() or not isinstance(delegate, MessageDelegate):
            return ""
        return delegate.link_at(self._message_option(index), index, QPointF(pos))

    def open_link(self, url: str) -> bool:
        """A link opens in the browser after the user has seen where it goes."""
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        target = QUrl(url)
        if target.scheme() not in ("http", "https", "mailto"):
            self.statusBar().showMessage(f"Not opened: {url} (only web and mail links open)", 8000)
            return False
        if not self.confirm("Open link", f"Open this address in your browser?\n\n{target.toDisplayString()}"):
            return False
        return QDesktopServices.openUrl(target)

    def version_arrow_at(self, pos: QPoint) -> tuple[Message, int] | None:
        """The message and step (-1 ‹, +1 ›) of a usable version arrow under `pos`."""
        index = self.transcript_view.indexAt(pos)
        message = self.transcript.message_at(index.row()) if index.isValid() else None
        if message is None or message.version_count <= 1:
            return None
        delegate = self.transcript_view.itemDelegate()
        option = self._message_option(index)
        arrows = delegate.version_arrows(option, index) if isinstance(delegate, MessageDelegate) else None
        if arrows is None:
            return None
        if arrows[0].contains(QPointF(pos)) and message.version_index > 1:
            return message, -1
        if arrows[1].contains(QPointF(pos)) and message.version_index < message.version_count:
            return message, +1
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """‹ and › in a message header are buttons: a click switches the version; so are a code
        block's Copy and links. In the search box, Down moves to the results and Enter opens the
        first one; in the thread list, Delete deletes the selected thread (with Undo)."""
        if watched is self.search_box and event.type() == QEvent.Type.KeyPress:
            results = self.search_list
            has_hits = results.isVisible() and results.count() and results.item(0).data(Qt.ItemDataRole.UserRole)
            if event.key() == Qt.Key.Key_Down and has_hits:
                results.setFocus()
                results.setCurrentRow(0)
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and has_hits:
                self._open_hit(results.item(0))
                return True
        if (
            watched is getattr(self, "thread_view", None) and event.type() == QEvent.Type.KeyPress
            and event.key() == Qt.Key.Key_Delete and not event.modifiers()
        ):
            self.delete_thread()
            return True
        if watched is self.transcript_view.viewport():
            kind = event.type()
            if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
                pos = event.position().toPoint()
                hit = self.version_arrow_at(pos)
                if hit is not None:
                    self.switch_version(*hit)
                    return True
                code = self.code_button_at(pos)
                if code is not None:
                    self._copy(code)
                    return True
                link = self.link_at(pos)
                if link:
                    self.open_link(link)
                    return True
            elif kind == QEvent.Type.MouseMove:
                pos = event.position().toPoint()
                link = self.link_at(pos)  # once per move: it lays out the message's document
                over = bool(link) or (
                    self.version_arrow_at(pos) is not None or self.code_button_at(pos) is not None
                )
                watched.setCursor(Qt.CursorShape.PointingHandCursor if over else Qt.CursorShape.ArrowCursor)
                watched.setToolTip(link)
        return super().eventFilter(watched, event)

    def switch_version(self, message: Message, step: int) -> None:
        """Show another version of a message (‹ 2/3 ›); what follows it switches with it."""
        if self.session.busy:
            self.show_error(BUSY)
            return
        versions = self.store.versions(message.id)
        position = versions.index(message.id) + step
        if 0 <= position < len(versions):
            self.store.select_version(versions[position])
            self.transcript.reload()
            self.show_message(versions[position])

    # -- model (the policy is in ui.model_controller; the window shows and asks) --------

    @property
    def model_spec(self) -> ModelSpec | None:
        return self.models.spec

    @property
    def model_loading(self) -> bool:
        return self.models.loading

    @property
    def app_settings(self) -> AppSettings:
        return self.models.app_settings

    @app_settings.setter
    def app_settings(self, value: AppSettings) -> None:
        self.models.app_settings = value

    @property
    def settings_path(self) -> Path | None:
        return self.models.settings_path

    @settings_path.setter
    def settings_path(self, value: Path | None) -> None:
        self.models.settings_path = value

    def load_model(self, spec: ModelSpec, *, for_thread: bool = False) -> None:
        """Load a model; `for_thread`: the open thread will use it from now on (the user chose it)."""
        self.models.load(spec, for_thread=self._current_thread if for_thread else None)

    def _load_path(self, path: str) -> None:
        self.models.load_path(path, for_thread=self._current_thread)

    def _follow_thread_model(self, thread_id: int) -> None:
        self.models.follow_thread(thread_id)

    @Slot(str, str)
    def _show_model_label(self, text: str, tooltip: str) -> None:
        self.model_label.setText(text)
        if tooltip:
            self.model_label.setToolTip(tooltip)

    def choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
        )
        if path:
            self._load_path(path)

    def open_library(self) -> None:
        from chatapp.ui.model_library import ModelLibrary

        info = self.session.model_info
        ref = self.models.loaded_ref
        library = ModelLibrary(
            self.models.model_folders(), self.models.builtin_model(), self.app_settings.last_used, self,
            endpoints=list(self.app_settings.endpoints),
            loaded=(ref, info.device) if info is not None and ref else None,
            crashed=self.app_settings.crashed_models,
        )
        library.chosen.connect(self._load_path)
        library.configure.connect(self.open_model_settings)
        self._library = library
        library.open()

    def open_model_settings(self, path: str | None = None) -> None:
        """The settings of a model file (the loaded one when `path` is None)."""
        from chatapp.ui.model_settings_dialog import ModelSettingsDialog

        try:
            target = self.models.settings_target(path)
        except UserFacingError as exc:
            self.show_error(str(exc))
            return
        dialog = ModelSettingsDialog(
            target.header, self.app_settings.model(target.path), gpu_available=target.gpu_available,
            rpc_available=target.rpc_available, free=target.free, builtin=target.builtin, parent=self,
        )
        self._model_settings_dialog = dialog
        dialog.accepted.connect(lambda: self.models.save_model_settings(target.path, dialog.values()))
        dialog.open()

    def connect_server(self) -> None:
        """Use a model on an OpenAI-compatible server, with the same threads and memory."""
        from chatapp.ui.endpoint_dialog import EndpointDialog, save_key

        dialog = EndpointDialog(list(self.app_settings.endpoints), self)
        self._endpoint_dialog = dialog

        def connect() -> None:
            endpoint = dialog.endpoint()
            entry = dialog.entry() if dialog.remember.isChecked() else None
            saved = entry is not None and bool(endpoint.api_key) and save_key(endpoint.name, endpoint.api_key)
            self.models.load_endpoint(endpoint, entry, saved, self._current_thread)

        dialog.accepted.connect(connect)
        dialog.open()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].toLocalFile().lower().endswith(".gguf"):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls:
            self._load_path(urls[0].toLocalFile())

    def confirm_large_model(self, message: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Warning, "Model larger than the free memory", message.splitlines()[0], parent=self)
        box.setInformativeText("\n".join(message.splitlines()[1:]) + "\n\nLoad it anyway?")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    # -- misc -----------------------------------------------------------

    @Slot(str)
    def show_error(self, message: str) -> None:
        """Errors are shown in the window; the app keeps running."""
        if not message:
            return
        log.info("shown to user: %s", message)
        first = message.splitlines()[0]
        self.statusBar().showMessage(ERROR_MARK + first, 20000)
        if self.isVisible() and not self.settings.value("quiet_errors", False, type=bool):
            box = QMessageBox(QMessageBox.Icon.Warning, "chatapp", first, parent=self)
            rest = "\n".join(message.splitlines()[1:])
            rest, mark, details = rest.partition(DETAILS_MARK)  # llama.cpp's log: behind Details
            if details:
                box.setDetailedText(mark + details)
            if rest:
                box.setInformativeText(rest)
            box.setModal(False)
            box.show()

    def _update_welcome(self, *_args: object) -> None:
        """The getting-started text, while the shown thread is empty (a fresh start, a new chat)."""
        empty = self.transcript.rowCount() == 0
        self.welcome.setVisible(empty)
        if empty:
            self.welcome.setGeometry(self.transcript_view.viewport().rect())
            self.welcome.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.welcome.isVisible():
            self.welcome.setGeometry(self.transcript_view.viewport().rect())

    def shortcuts(self) -> list[tuple[str, str]]:
        """Every key the window answers to: the menus' shortcuts and the composer's keys."""
        found: list[tuple[str, str]] = [
            ("Enter", "Send the message"),
            ("Shift+Enter", "New line in the message"),
            ("Esc", "Stop the reply being written"),
            ("Delete", "Delete the selected thread (in the thread list; Undo follows)"),
            ("Down", "From the search box to its results"),
        ]
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            if menu is None:
                continue
            for action in menu.actions():
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys:
                    found.append((keys, action.text().replace("&", "").rstrip("…")))
        return found

    def show_shortcuts(self) -> None:
        """Help > Keyboard shortcuts: a table read from the menus, so it cannot go stale."""
        from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem

        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(dialog)
        rows = self.shortcuts()
        table = QTableWidget(len(rows), 2)
        table.setAccessibleName("Keyboard shortcuts")
        table.setHorizontalHeaderLabels(["Keys", "Does"])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, (keys, what) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(what))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        dialog.resize(520, 480)
        self._shortcuts_dialog = dialog
        dialog.open()

    def about(self) -> None:
        import PySide6

        from chatapp.engine import device

        llama_version = device.llama_version()
        QMessageBox.about(
            self,
            "About chatapp",
            f"<b>chatapp {__version__}</b><br>A chat app for local language models with long-term memory."
            f"<br><br>llama-cpp-python {llama_version}<br>Qt {PySide6.QtCore.qVersion()}, PySide6 {PySide6.__version__}",
        )

    def _restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        sizes = self.settings.value("window/splitter")
        if sizes is not None:
            self.splitter.restoreState(sizes)
        last = self.settings.value("last_thread", None)
        self._refresh_threads(select=int(last) if last is not None else None)

    def _keep_text_typed_without_a_thread(self) -> None:
        """At quit, text typed while no thread was open becomes a new chat's draft (and that
        chat opens at the next start) instead of being dropped."""
        text = self.composer.toPlainText()
        if self._current_thread is not None or not text.strip():
            return
        try:
            unused = self.store.unused_thread()
            thread_id = unused if unused is not None else self.store.create_thread().id
        except StorageError as exc:
            log.warning("the unsent text could not be kept: %s", exc)
            return
        self._current_thread = thread_id
        self._store_draft(thread_id, text)

    def showEvent(self, event: QShowEvent) -> None:
        """The composer has the focus when the window first appears: what the user types
        at once goes there (not to the New chat button or the search box)."""
        super().showEvent(event)
        if not self._focused_once:
            self._focused_once = True
            self.composer.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._keep_text_typed_without_a_thread()
        self._save_draft()
        self.session.close()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        if self._current_thread is not None:
            self.settings.setValue("last_thread", self._current_thread)
        self.settings.sync()
        self.jobs.shutdown(wait=True)
        if self._search_store is not None:
            self._search_store.close()
            self._search_store = None
        super().closeEvent(event)
