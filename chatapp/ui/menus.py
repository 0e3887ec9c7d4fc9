"""The window's menus and the keys they answer to; Help ▸ Keyboard shortcuts is read from
them, so it cannot go stale."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenuBar,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from chatapp import __version__

if TYPE_CHECKING:
    from chatapp.ui.main_window import MainWindow

# keys that no menu shows: the composer's, the thread list's and the search box's own
OTHER_KEYS = [
    ("Enter", "Send the message"),
    ("Shift+Enter", "New line in the message"),
    ("Esc", "Stop the reply being written"),
    ("Delete", "Delete the selected thread (in the thread list; Undo follows)"),
    ("Down", "From the search box to its results"),
]


def build_menus(window: MainWindow) -> None:
    """File, Edit, View, Model, Help; the actions other code enables or tests are kept on the
    window (new_action, export_action, rename_action, delete_action, regenerate_action,
    settings_action)."""
    bar = window.menuBar()

    def add(menu, text: str, slot, keys=None) -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, window)
        if keys is not None:
            action.setShortcut(keys if isinstance(keys, QKeySequence) else QKeySequence(keys))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    file_menu = bar.addMenu("&File")
    window.new_action = add(
        file_menu, "&New thread", window.new_thread, QKeySequence.StandardKey.New
    )
    file_menu.addSeparator()
    add(file_menu, "&Import…", window.files.import_threads, "Ctrl+I")
    window.export_action = add(file_menu, "&Export thread…", window.export_thread, "Ctrl+E")
    add(file_menu, "Export &all threads…", window.files.export_all)
    file_menu.addSeparator()
    add(file_menu, "&Trash…", window.show_trash)
    file_menu.addSeparator()
    add(file_menu, "&Quit", window.close, QKeySequence.StandardKey.Quit)

    edit_menu = bar.addMenu("&Edit")
    window.rename_action = add(
        edit_menu, "&Rename thread…", window.rename_thread, QKeySequence(Qt.Key.Key_F2)
    )
    window.delete_action = add(
        edit_menu, "&Delete thread", window.delete_thread, "Ctrl+Shift+Backspace"
    )
    add(edit_menu, "&Find in all threads", window.search.focus, QKeySequence.StandardKey.Find)
    window.regenerate_action = add(edit_menu, "Re&generate reply", window.regenerate, "Ctrl+R")
    edit_menu.addSeparator()
    window.settings_action = add(edit_menu, "&Settings…", window.open_settings, "Ctrl+,")

    view_menu = bar.addMenu("&View")
    memory_action = window.memory_panel.toggleViewAction()
    memory_action.setText("&Memory panel")
    memory_action.setShortcut(QKeySequence("Ctrl+M"))
    view_menu.addAction(memory_action)

    model_menu = bar.addMenu("&Model")
    add(model_menu, "&Load model file…", window.choose_model, "Ctrl+O")
    # one mnemonic each: Load L, library I, settings T, server S, Unload U
    add(model_menu, "Model l&ibrary…", window.open_library, "Ctrl+L")
    add(model_menu, "Model se&ttings…", lambda: window.open_model_settings(), "Ctrl+Shift+,")
    add(model_menu, "Connect to a &server…", window.connect_server)
    add(model_menu, "&Unload", window.engine.unload)

    help_menu = bar.addMenu("&Help")
    add(help_menu, "&Keyboard shortcuts", window.show_shortcuts, "Ctrl+/")
    add(help_menu, "&About chatapp", lambda: about(window))


def shortcuts(bar: QMenuBar) -> list[tuple[str, str]]:
    """Every key the window answers to: the menus' shortcuts and the composer's keys."""
    found = list(OTHER_KEYS)
    for menu_action in bar.actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        for action in menu.actions():
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if keys:
                found.append((keys, action.text().replace("&", "").rstrip("…")))
    return found


def shortcuts_dialog(rows: list[tuple[str, str]], parent: QWidget) -> QDialog:
    """Help ▸ Keyboard shortcuts: a table of `rows` (keys, what they do)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Keyboard shortcuts")
    layout = QVBoxLayout(dialog)
    table = QTableWidget(len(rows), 2)
    table.setAccessibleName("Keyboard shortcuts")
    table.setHorizontalHeaderLabels(["Keys", "Does"])
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    for row, (keys, what) in enumerate(rows):
        table.setItem(row, 0, QTableWidgetItem(keys))
        table.setItem(row, 1, QTableWidgetItem(what))
    # sized to its content, and long descriptions wrap rather than scroll sideways
    table.setWordWrap(True)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.resizeColumnsToContents()
    wanted = table.columnWidth(0) + table.columnWidth(1)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    layout.addWidget(table)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    margins = layout.contentsMargins()
    chrome = 2 * table.frameWidth() + margins.left() + margins.right()
    width = wanted + chrome + table.verticalScrollBar().sizeHint().width() + 8
    least = table.verticalHeader().minimumSectionSize()
    grid = 1 if table.showGrid() else 0
    rows_height = sum(max(table.sizeHintForRow(r), least) + grid for r in range(len(rows)))
    height = (
        rows_height
        + header.sizeHint().height()
        + buttons.sizeHint().height()
        + 2 * table.frameWidth()
        + margins.top()
        + margins.bottom()
        + layout.spacing()
        + 8
    )
    screen = parent.screen().availableGeometry()
    dialog.resize(min(width, int(screen.width() * 0.9)), min(height, int(screen.height() * 0.8)))
    return dialog


def about(parent: QWidget) -> None:
    import PySide6

    from chatapp.engine import device

    QMessageBox.about(
        parent,
        "About chatapp",
        f"<b>chatapp {__version__}</b><br>A chat app for local language models with long-term "
        f"memory.<br><br>llama-cpp-python {device.llama_version()}<br>"
        f"Qt {PySide6.QtCore.qVersion()}, PySide6 {PySide6.__version__}",
    )
