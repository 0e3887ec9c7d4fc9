"""The main window: threads on the left, the conversation and the composer on the right.

The window shows and asks; each responsibility lives in its own room: model policy in
`model_controller`, the composer's drafts in `drafts`, Undo and the Trash in `trash`,
export and import in `file_actions`, search in `search_panel`, per-message actions in
`message_actions`, menus and shortcuts in `menus`, theme and layout in `appearance`,
the first-start view in `welcome`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, QSettings, Qt, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from chatapp.config.settings import AppSettings
from chatapp.domain import Message, MessageStatus, Role
from chatapp.engine.backend import ModelSpec
from chatapp.store import Store
from chatapp.ui import appearance, menus
from chatapp.ui.appearance import Appearance, font_points
from chatapp.ui.composer import ComposerRow
from chatapp.ui.drafts import Drafts
from chatapp.ui.file_actions import FileActions
from chatapp.ui.follow import FollowEnd
from chatapp.ui.memory_panel import MemoryPanel
from chatapp.ui.message_actions import MessageActions
from chatapp.ui.model_controller import ModelController
from chatapp.ui.model_dialogs import ModelDialogs
from chatapp.ui.model_picker import ModelPicker
from chatapp.ui.reply_status import ReplyStatus
from chatapp.ui.search_panel import SearchPanel
from chatapp.ui.session import ChatSession
from chatapp.ui.settings_actions import SettingsActions
from chatapp.ui.status_bar import ERROR_MARK, StatusBar
from chatapp.ui.thread_actions import ThreadActions
from chatapp.ui.thread_list import ThreadDelegate, ThreadIdRole, ThreadListModel
from chatapp.ui.transcript import MessageDelegate, TranscriptModel
from chatapp.ui.trash import UndoDelete
from chatapp.ui.welcome import Welcome
from chatapp.workers.engine import EngineController
from chatapp.workers.jobs import Jobs
from chatapp.workers.memory import MemoryController
from chatapp.workers.store_writer import StoreWriter

__all__ = ["MainWindow", "font_points"]

log = logging.getLogger("chatapp.ui")
DETAILS_MARK = "Last lines of llama.cpp's log:"
BUSY_TITLE_CHARS = 30  # a thread's title quoted in a status-bar notice, so the sentence fits


class MainWindow(QMainWindow):
    """The one window; its parts report through their own signals (see the modules above)."""

    UNDO_MS = 10_000  # how long Undo stays after a delete (the last delete's own time)
    MIN_CHAT_WIDTH = appearance.MIN_CHAT_WIDTH
    SIDEBAR_NARROW = appearance.SIDEBAR_NARROW

    def __init__(
        self,
        store: Store,
        engine: EngineController,
        model_spec: ModelSpec | None,
        settings: QSettings,
        memory: MemoryController | None = None,
        app_settings: AppSettings | None = None,
        settings_path: Path | None = None,
        jobs: Jobs | None = None,
        writer: StoreWriter | None = None,
    ) -> None:
        """`jobs`: the app's background jobs, `writer` the store's one writer (a window made
        alone, as in tests, gets its own); the window's close waits for them."""
        super().__init__()
        self.store = store
        self.engine = engine
        self.memory = memory
        self.settings = settings
        self._own_writer = writer is None
        self.writer = writer if writer is not None else StoreWriter(self)
        self.writer.on_bug = self.show_error
        self.session = ChatSession(store, engine, self, memory, self.writer)
        self.models = ModelController(
            engine,
            self.session,
            store,
            app_settings or AppSettings(),
            settings_path,
            lambda message: self.confirm_large_model(message),
            self,
        )
        self._focused_once = False
        self._current_thread: int | None = None
        self._busy_notice = ""
        self.jobs = jobs if jobs is not None else Jobs(self)
        self.jobs.on_bug = self.show_error
        self.drafts = Drafts(
            store, lambda: (self._current_thread, self.composer.toPlainText()), self.writer, self
        )
        self.files = FileActions(self)
        self.settings_actions = SettingsActions(self)
        self.undo = UndoDelete(store, self.writer, self)
        self.search = SearchPanel(store, self.jobs, self)
        self.setWindowTitle("chatapp")
        self.setAcceptDrops(True)
        self._build()
        self.messages = MessageActions(self)
        self.threads = ThreadActions(self)
        self.model_dialogs = ModelDialogs(self)
        self.appearance = Appearance(
            lambda: self.app_settings, [self.transcript_view, self.thread_view], self
        )
        menus.build_menus(self)
        self._wire()
        self.threads_model.refresh()
        self._restore_state()  # may load the last thread's own model
        self.apply_appearance()
        if model_spec is None:
            self.model_label.setText("No model")
            self.welcome.name_model_of(self.session, self.models)
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
        self.search_box = self.search.box
        self.search_list = self.search.results
        for widget in (new_button, self.search_box, self.search_list, self.thread_view):
            left_layout.addWidget(widget)

        self.transcript = TranscriptModel(self.store, self)
        self.transcript_view = view = QListView()
        view.setModel(self.transcript)
        delegate = MessageDelegate(view)
        delegate.link_activated.connect(self.open_link)
        view.setItemDelegate(delegate)
        # double-click a message: its text becomes selectable in place
        view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked)
        view.setAccessibleName("Conversation")
        view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        view.setResizeMode(QListView.ResizeMode.Adjust)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setWordWrap(True)
        view.setSpacing(0)
        self.welcome = Welcome(view, self.transcript)
        self.follow = FollowEnd(view, self.transcript)

        self.composer_row = ComposerRow()
        self.composer = self.composer_row.composer
        self.send_button = self.composer_row.send_button
        self.stop_button = self.composer_row.stop_button
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 6, 6, 6)
        right_layout.addWidget(view, 1)
        self.model_picker = ModelPicker(self.models, self.store, self.jobs, right)
        right_layout.addWidget(self.model_picker)
        right_layout.addWidget(self.composer_row)

        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([220, 680])
        self.setCentralWidget(self.splitter)
        self.memory_panel = MemoryPanel(self.store, self, self.memory, self.writer)
        self.memory_panel.failed.connect(self.show_error)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.memory_panel)
        self.memory_panel.hide()

        self.reply_status = ReplyStatus(
            self.session, self.transcript, lambda: self._current_thread, self
        )
        self.model_label = self.reply_status.model_label
        self.speed_label = self.reply_status.speed_label
        self.context_label = self.reply_status.context_label
        status = StatusBar(self)
        self.setStatusBar(status)
        # permanent widgets: a normal widget would hide under the message
        for widget in (self.undo.button, self.context_label, self.speed_label, self.model_label):
            status.addPermanentWidget(widget)
        self.resize(960, 680)

    def _wire(self) -> None:
        self.thread_view.selectionModel().currentChanged.connect(self._thread_selected)
        self.composer.textChanged.connect(self.drafts.timer.start)
        self.composer_row.send.connect(self.send)
        self.composer_row.stop.connect(self.session.stop)
        self.search.hit_opened.connect(self._open_hit)
        self.search.left.connect(self.composer.setFocus)
        self.drafts.notice.connect(self.notice)
        self.undo.notice.connect(self.notice)
        self.undo.error.connect(self.show_error)
        self.undo.restored.connect(lambda thread_id: self._refresh_threads(select=thread_id))
        s = self.session
        s.message_added.connect(self._on_message_added)
        s.message_saved.connect(self.transcript.replace_shown)
        s.message_dropped.connect(self.transcript.remove_shown)
        s.unsent.connect(self._give_back)
        self.writer.waiting.connect(
            lambda on: self._statusbar().saving_waits(on, self.store.bulk_writing)
        )
        s.reply_text.connect(self._on_reply_text)
        s.reading.connect(self.transcript.set_reading)
        s.read_progress.connect(self.transcript.set_read_progress)
        s.reply_dropped.connect(lambda _id: self.transcript.reload())
        s.reply_done.connect(self._on_reply_done)
        s.busy_changed.connect(self._on_busy)
        s.threads_changed.connect(self._refresh_threads)
        s.error.connect(self.show_error)
        self.models.label.connect(self.reply_status.show_model)
        self.models.label.connect(lambda *_: self.welcome.name_model_of(self.session, self.models))
        # a model loaded again (after a crash, or another one) has its own context size
        self.models.label.connect(
            lambda *_: self.reply_status.show_thread_context(self._current_thread)
        )
        self.models.label.connect(lambda *_: self.model_picker.relist())
        self.model_picker.chosen.connect(self.load_path)
        self.model_picker.library_requested.connect(self.open_library)
        self.models.notice.connect(self.notice)
        self.models.error.connect(self.show_error)
        self.engine.started.connect(self._on_reply_started)
        self.engine.summarized.connect(lambda tid, n: self._memory_changed(tid) if n else None)
        self.memory_panel.note_added.connect(self._add_note)
        self.memory_panel.visibilityChanged.connect(self._make_room_for_memory)
        if self.memory is not None:
            self.memory.ingested.connect(lambda tid, _r: self._memory_changed(tid))
            self.memory_panel.slot_edited.connect(self.memory.ingest)
            self.memory.unavailable.connect(self.show_error)
            self.memory.failed.connect(self.show_error)

    @property
    def current_thread(self) -> int | None:
        """The open thread (None: none is open)."""
        return self._current_thread

    # -- threads --------------------------------------------------------

    @Slot()
    def new_thread(self) -> None:
        """A new chat (an untouched one is reused), selected once it is stored."""
        self.threads.new_then()

    def new_thread_then(self, then: Callable[[int], None]) -> None:
        """A new chat, then `then(thread_id)` once it is stored and open (`--send`)."""
        self.threads.new_then(then)

    def refresh_threads(self, select: int | None = None) -> None:
        """Reread the thread list, keeping (or selecting) the open thread."""
        keep = select if select is not None else self._current_thread
        self.threads_model.refresh()
        row = self.threads_model.row_of(keep) if keep is not None else -1
        if row < 0 and self.threads_model.rowCount() > 0 and keep is None:
            row = 0
        if row >= 0:
            self.thread_view.selectionModel().setCurrentIndex(
                self.threads_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        self._show_title()  # a rename or an auto-title keeps the open thread selected

    _refresh_threads = refresh_threads

    def _show_title(self) -> None:
        """The window title names the open thread, also after it is renamed in place."""
        row = (
            self.threads_model.row_of(self._current_thread)
            if self._current_thread is not None
            else -1
        )
        thread = self.threads_model.thread_at(row) if row >= 0 else None
        self.setWindowTitle(f"{thread.title or 'New chat'} — chatapp" if thread else "chatapp")

    @Slot()
    def _thread_selected(self, current, _previous=None) -> None:  # type: ignore[no-untyped-def]
        thread_id = current.data(ThreadIdRole) if current.isValid() else None
        if thread_id == self._current_thread:
            return
        typed = self.composer.toPlainText()
        was_none = self._current_thread is None
        if not was_none:
            self.drafts.save()
        self._current_thread = thread_id
        if self._busy_notice and self.statusBar().currentMessage() == self._busy_notice:
            self.statusBar().clearMessage()  # it spoke of the thread left ("in another thread")
        self.follow.resume()  # a thread opens at its end
        self.transcript.load_thread(thread_id)
        self.memory_panel.show_thread(thread_id)
        self.reply_status.show_thread_context(thread_id)
        self.model_picker.show_thread(thread_id)
        if thread_id is not None:
            self.models.follow_thread(thread_id)
        draft = self.drafts.text(thread_id)
        if typed.strip() and was_none and typed not in draft:
            # typed before any thread was open: it goes with the thread (after its own draft)
            draft = f"{draft.rstrip()}\n{typed}" if draft.strip() else typed
        if draft != typed:
            self.composer.setPlainText(draft)
        if was_none and thread_id is not None and draft.strip():
            self.drafts.save()
        self.transcript_view.scrollToBottom()
        self._show_title()

    def rename_thread(self) -> None:
        self.threads.rename()

    def pin_thread(self, thread_id: int, pinned: bool) -> None:
        self.threads.pin(thread_id, pinned)

    def delete_thread(self) -> None:
        """To the trash, with Undo in the status bar (and restorable for 30 days)."""
        self.threads.delete()

    def close_thread(self) -> None:
        """No thread is open (the open one went to the trash); the composer starts empty."""
        self._current_thread = None
        self.composer.clear()  # not carried over to the thread shown next
        self.drafts.timer.stop()
        self.transcript.load_thread(None)
        self.memory_panel.show_thread(None)

    def undo_delete(self) -> None:
        self.undo.undo()

    def show_trash(self) -> None:
        self.threads.show_trash()

    def confirm(self, title: str, text: str) -> bool:
        """Yes/No for what cannot be undone (No is the default)."""
        answer = QMessageBox.question(
            self,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- conversation ---------------------------------------------------

    @Slot()
    def send(self) -> None:
        text = self.composer.toPlainText()
        if not text.strip():
            return
        if self.session.busy:  # the text stays in the composer; no dialog in the way
            self.busy_notice("your message stays here; send it")
            return
        if self.models.loading and self.session.model_info is None:
            self.notice("The model is still loading: your message stays here; send it then.", 8000)
            return
        if self._current_thread is None:  # sent once the new chat is stored and open
            self.new_thread_then(lambda t: self.send() if self._current_thread == t else None)
            return
        if self.session.send(self._current_thread, text):
            self.models.remember_for(self._current_thread)
            self.composer.clear()
            self.drafts.timer.stop()
            self.drafts.store(self._current_thread, "")

    def busy_notice(self, then: str) -> None:
        """Why an action waits while a reply is being written: a quiet status-bar line, not a
        dialog, short enough to be read whole (a long thread title is cut)."""
        writing = self.session.reply_thread
        where = ""
        if writing is not None and writing != self._current_thread:
            thread = self.threads_model.thread_at(self.threads_model.row_of(writing))
            title = (thread.title or "New chat") if thread else ""
            if len(title) > BUSY_TITLE_CHARS:
                title = title[: BUSY_TITLE_CHARS - 1].rstrip() + "…"
            where = f" in “{title}”" if thread else " in another thread"
        self._busy_notice = (
            f"A reply is being written{where}: {then} when it ends, or stop it (Esc)."
        )
        self.notice(self._busy_notice, 8000)

    def regenerate(self) -> None:
        if self.session.busy:
            self.busy_notice("regenerate")
            return
        last = self.transcript.message_at(self.transcript.rowCount() - 1)
        if last is not None and last.role.value == "assistant":
            self.session.regenerate(last.id)

    def regenerate_message(self, message: Message) -> bool:
        return self.messages.regenerate(message)

    def delete_message(self, message: Message) -> None:
        self.messages.delete(message)

    def switch_version(self, message: Message, step: int) -> None:
        self.messages.switch_version(message, step)

    def link_at(self, pos: QPoint) -> str:
        return self.messages.link_at(pos)

    def open_link(self, url: str) -> bool:
        return self.messages.open_link(url)

    @Slot(object)
    def _on_message_added(self, message: Message) -> None:
        if message.thread_id == self._current_thread and message.role == Role.USER:
            self.follow.resume()  # the user's own message brings the view back to the end
        self.transcript.append(message)
        self.follow.now()

    def _give_back(self, thread_id: int, text: str) -> None:
        """A message whose save failed: its text goes back where it was typed, not lost."""
        if thread_id == self._current_thread:
            typed = self.composer.toPlainText()
            self.composer.setPlainText(f"{text}\n{typed}" if typed.strip() else text)
        else:
            draft = self.drafts.text(thread_id)
            self.drafts.store(thread_id, f"{text}\n{draft}" if draft.strip() else text)

    @Slot(int, str)
    def _on_reply_text(self, message_id: int, text: str) -> None:
        self.transcript.set_text(message_id, text)
        self.follow.soon()

    @Slot(object)
    def _on_reply_done(self, message: Message) -> None:
        self.transcript.replace_message(message)
        if message.thread_id == self._current_thread:
            if message.status == MessageStatus.COMPLETE:
                self._statusbar().clear_error()
            self.reply_status.show_thread_context(self._current_thread)
        self.follow.soon()

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.threads_model.set_writing(self.session.reply_thread if busy else None)
        self.composer_row.set_busy(busy)
        self.model_picker.setEnabled(not busy)  # a model is switched between replies

    def _statusbar(self) -> StatusBar:
        return self.statusBar()  # type: ignore[return-value]

    def _open_hit(self, thread_id: int, message_id: int) -> None:
        self._refresh_threads(select=thread_id)
        self.messages.show_found(message_id)  # an earlier version is switched to

    def show_message(self, message_id: int) -> None:
        """Scroll to a message of the open thread, loading older pages until it is there."""
        while self.transcript.row_of(message_id) < 0 and self.transcript.load_older():
            pass
        row = self.transcript.row_of(message_id)
        if row >= 0:
            index = self.transcript.index(row)
            self.transcript_view.setCurrentIndex(index)
            self.transcript_view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    # -- export and import ------------------------------------------------

    def export_thread(self) -> None:
        self.files.export_thread()

    def run_export(self, thread_ids: list[int], fmt: str, path: Path) -> None:
        self.files.run_export(thread_ids, fmt, path)

    def run_import(self, path: Path) -> None:
        self.files.run_import(path)

    # -- settings -------------------------------------------------------

    def open_settings(self) -> None:
        self.settings_actions.open()

    @property
    def _settings_dialog(self):  # type: ignore[no-untyped-def]
        return self.settings_actions.dialog

    def database_written_back(self, message: str) -> None:
        """The database file was deleted and written back (`DatabaseWatch`): said, and the
        search reader opened before it, which reads the deleted file, is let go (the next
        search opens one on the file under the name)."""
        self.search.reopen_reader()
        self.show_error(message)

    def restart_to_convert(self, target: str) -> None:
        self.settings_actions.restart_to_convert(target)

    def apply_appearance(self) -> None:
        """Theme and font size, at once (the text of every view scales with the size)."""
        self.appearance.apply()

    # -- memory ---------------------------------------------------------

    @Slot(bool)
    def _make_room_for_memory(self, visible: bool) -> None:
        if visible:
            appearance.make_room_for(self, self.memory_panel, self.splitter)

    def _memory_changed(self, thread_id: int) -> None:
        if thread_id == self._current_thread:
            self.memory_panel.refresh()

    def _on_reply_started(self, started) -> None:  # type: ignore[no-untyped-def]
        self.memory_panel.show_context(
            started.context, started.prompt_tokens, started.n_ctx, self.session.reply_thread
        )

    def _add_note(self, thread_id: int, text: str) -> None:
        if self.memory is None:
            self.show_error("Memory is not available in this session.")
            return
        self.memory.add_note(thread_id, text)

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
        """Load a model; `for_thread`: the open thread uses it from now on (the user chose it)."""
        self.models.load(spec, for_thread=self._current_thread if for_thread else None)

    def load_path(self, path: str) -> None:
        """Load a model file or `server:` reference for the open thread (the user chose it)."""
        self.models.load_path(path, for_thread=self._current_thread)

    _load_path = load_path

    def choose_model(self) -> None:
        self.model_dialogs.choose_file()

    def open_library(self) -> None:
        self.model_dialogs.open_library()

    def open_model_settings(self, path: str | None = None) -> None:
        self.model_dialogs.open_model_settings(path)

    def connect_server(self) -> None:
        self.model_dialogs.connect_server()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].toLocalFile().lower().endswith(".gguf"):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls:
            self.load_path(urls[0].toLocalFile())

    def confirm_large_model(self, message: str) -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Model larger than the free memory",
            message.splitlines()[0],
            parent=self,
        )
        box.setInformativeText("\n".join(message.splitlines()[1:]) + "\n\nLoad it anyway?")
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        return box.exec() == QMessageBox.StandardButton.Yes

    # -- misc -----------------------------------------------------------

    @Slot(str, int)
    def notice(self, text: str, ms: int = 0) -> None:
        """A status-bar message for `ms` milliseconds (0: until the next one)."""
        self.statusBar().showMessage(text, ms)

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

    def shortcuts(self) -> list[tuple[str, str]]:
        """Every key the window answers to: the menus' shortcuts and the composer's keys."""
        return menus.shortcuts(self.menuBar())

    def show_shortcuts(self) -> None:
        """Help > Keyboard shortcuts: a table read from the menus, so it cannot go stale."""
        self._shortcuts_dialog = menus.shortcuts_dialog(self.shortcuts(), self)
        self._shortcuts_dialog.open()

    def _restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        sizes = self.settings.value("window/splitter")
        if sizes is not None:
            self.splitter.restoreState(sizes)
        docks = self.settings.value("window/state")  # the memory panel: open or not, its width
        if docks is not None:
            self.restoreState(docks)
        last = self.settings.value("last_thread", None)
        self._refresh_threads(select=int(last) if last is not None else None)

    def showEvent(self, event: QShowEvent) -> None:
        """The composer has the focus when the window first appears: what the user types
        at once goes there (not to the New chat button or the search box)."""
        super().showEvent(event)
        if not self._focused_once:
            self._focused_once = True
            self.composer.setFocus(Qt.FocusReason.ActiveWindowFocusReason)

    def closeEvent(self, event: QCloseEvent) -> None:
        text = self.composer.toPlainText()
        if self._current_thread is None and text.strip():
            # typed while no thread was open: a new chat's draft, opened at the next start
            self._current_thread = self.drafts.keep_orphan(text)
        self.drafts.save()
        self.session.close()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.setValue("window/state", self.saveState())
        if self._current_thread is not None:
            self.settings.setValue("last_thread", self._current_thread)
        self.settings.sync()
        self.model_picker.stop()
        self.jobs.shutdown(wait=True)
        self.drafts.flush()  # what is still pending, after what was asked before
        self.writer.flush()
        if self._own_writer:
            self.writer.shutdown()
        self.search.close()
        super().closeEvent(event)
