"""The memory panel: what chatapp remembers of a thread, editable, and what the model last saw."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDockWidget,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from chatapp.memory.builder import BuiltContext
from chatapp.memory.facts import owner_of
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables, SlotRow
from chatapp.timestamps import format_local, local
from chatapp.workers.store_writer import StoreWriter

NO_PROMPT = "No prompt yet for this thread."

_KIND_NAMES = {
    "system": "System prompt",
    "slots": "Memory slots",
    "summary": "Summary of earlier messages",
    "recall": "Recalled older messages (kept while the topic holds)",
    "recall_new": "Recalled for this message",
    "recall_held": "Recalled for your earlier messages (kept as they were sent)",
    "recent": "Recent messages",
    "message": "Your new message",
}


def _day(timestamp: float) -> str:
    """'3 May 2026': the day a value was stated or replaced."""
    when = local(timestamp)
    return f"{when.day} {when:%B %Y}" if when is not None else "an unknown day"


_Index = QModelIndex | QPersistentModelIndex


def _slot_text(slot: SlotRow) -> str:
    # words, not an emoji: not every Linux desktop has a font with 📌
    text = f"{slot.text}  (pinned)" if slot.pinned else slot.text
    if slot.history:  # what it held before, newest first, with when it stopped holding
        text += f"\n    since {_day(slot.current_since)}" + "".join(
            f"\n    earlier: {h.text}  ({_day(h.since)} – {_day(h.until)})"
            for h in reversed(slot.history)
        )
    return text


class HeadedItemDelegate(QStyledItemDelegate):
    """Draws an item's first line as a heading (bold, a little larger) above its text: a
    summary's range and each part of the prompt read as sections, not one run of text."""

    PAD = 4

    def _fonts(self, option: QStyleOptionViewItem) -> tuple[QFont, QFont]:
        body = QFont(option.font)
        head = QFont(body)
        head.setBold(True)
        if body.pointSizeF() > 0:
            head.setPointSizeF(body.pointSizeF() * 1.1)
        return head, body

    def _width(self, option: QStyleOptionViewItem) -> int:
        view = option.widget
        width = view.viewport().width() if isinstance(view, QListView) else option.rect.width()
        return max(40, width - 2 * self.PAD)

    def _rects(self, option: QStyleOptionViewItem, text: str, width: int) -> tuple[QRect, QRect]:
        head, _, body = text.partition("\n")
        head_font, body_font = self._fonts(option)
        flags = int(Qt.TextFlag.TextWordWrap)
        head_rect = QFontMetrics(head_font).boundingRect(QRect(0, 0, width, 100_000), flags, head)
        body_rect = (
            QFontMetrics(body_font).boundingRect(QRect(0, 0, width, 100_000), flags, body)
            if body
            else QRect(0, 0, 0, 0)
        )
        return head_rect, body_rect

    @staticmethod
    def _text(index: _Index) -> str:
        """The item's own text: the style option's has its line breaks replaced."""
        return str(index.data(Qt.ItemDataRole.DisplayRole) or "")

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        head, body = self._rects(opt, self._text(index), self._width(opt))
        gap = self.PAD if body.height() else 0
        return QSize(self._width(opt), head.height() + gap + body.height() + 2 * self.PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text, opt.text = self._text(index), ""
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        head, _, body = text.partition("\n")
        head_font, body_font = self._fonts(opt)
        width = opt.rect.width() - 2 * self.PAD
        head_rect, body_rect = self._rects(opt, text, width)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setPen(opt.palette.color(role))
        flags = int(Qt.TextFlag.TextWordWrap)
        left, top = opt.rect.left() + self.PAD, opt.rect.top() + self.PAD
        painter.setFont(head_font)
        painter.drawText(QRect(left, top, width, head_rect.height()), flags, head)
        if body:
            painter.setFont(body_font)
            top += head_rect.height() + self.PAD
            painter.drawText(QRect(left, top, width, body_rect.height()), flags, body)
        painter.restore()


class MemoryPanel(QDockWidget):
    """Signals: note_added(int thread id, str text) — a fact the user typed in;
    slot_edited(int thread id) — a slot's text changed (its key is made again);
    failed(str) — a change could not be saved (said by the store's writer).

    `writer` (the memory controller) saves the panel's changes on the memory thread, in the
    order they were made and after the memory's own updates; without one (no memory in this
    session, tests) they are asked of the store's one writer, `store_writer` (one of its
    own if none is given). The GUI thread never writes.
    """

    note_added = Signal(int, str)
    slot_edited = Signal(int)
    failed = Signal(str)

    UNDO_MS = 10_000  # how long Undo stays after the last Forget

    def __init__(
        self,
        store: Store,
        parent: QWidget | None = None,
        writer: Any = None,
        store_writer: StoreWriter | None = None,
    ) -> None:
        super().__init__("Memory", parent)
        self.setObjectName("memory-panel")
        self.tables = MemoryTables(store)
        self.thread_id: int | None = None
        self._prompts: dict[int, tuple[BuiltContext | None, int, int]] = {}  # per thread, this run
        self._writer = writer
        if writer is not None:
            writer.written.connect(self._written)
        self._store_writer = store_writer if store_writer is not None else StoreWriter(self)
        self._forgotten: list[SlotRow] = []  # what Undo brings back
        body = QWidget()
        layout = QVBoxLayout(body)
        # short labels: a check box does not wrap, and long ones kept the panel 378 px wide
        self.enabled_box = QCheckBox("Remember this thread")
        self.enabled_box.setAccessibleName("Memory on for this thread")
        self.enabled_box.setToolTip(
            "Keep facts (slots), summaries and recall of older messages for this thread."
        )
        self.enabled_box.toggled.connect(self._toggle_memory)
        layout.addWidget(self.enabled_box)
        self.global_box = QCheckBox("Share facts about me")
        self.global_box.setAccessibleName("Memory about me shared by all threads")
        self.global_box.setToolTip(
            "Also remember facts about me across all threads: facts you state about yourself "
            'are also kept in a few slots that every thread sees (listed under "About you, in '
            'every thread"). Off by default; turning it off stops writing and using them.'
        )
        self.global_box.toggled.connect(self._toggle_global)
        layout.addWidget(self.global_box)
        self.tabs = QTabWidget()
        self.tabs.setUsesScrollButtons(True)
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        layout.addWidget(self.tabs)

        slots_page = QWidget()
        slots_layout = QVBoxLayout(slots_page)
        self.slot_list = QListWidget()
        self.slot_list.setAccessibleName("Memory slots")
        self.slot_list.setWordWrap(True)
        slots_layout.addWidget(self.slot_list)
        row = QGridLayout()  # two by two: four buttons in a row set the panel's width
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.pin_button = QPushButton("Pin")
        self.forget_button = QPushButton("Forget")
        buttons = (self.add_button, self.edit_button, self.pin_button, self.forget_button)
        for i, button in enumerate(buttons):
            row.addWidget(button, i // 2, i % 2)
        slots_layout.addLayout(row)
        self.undo_row = QWidget()
        undo_layout = QHBoxLayout(self.undo_row)
        undo_layout.setContentsMargins(0, 0, 0, 0)
        self.undo_label = QLabel()
        self.undo_label.setWordWrap(True)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setAccessibleName("Undo forget")
        self.undo_button.clicked.connect(self.undo_forget)
        undo_layout.addWidget(self.undo_label, 1)
        undo_layout.addWidget(self.undo_button)
        self.undo_row.hide()
        slots_layout.addWidget(self.undo_row)
        self._undo_timer = QTimer(self, singleShot=True)  # one timer: each Forget restarts it
        self._undo_timer.timeout.connect(self._drop_undo)
        self.add_button.clicked.connect(self.add_slot)
        self.edit_button.clicked.connect(self.edit_slot)
        self.pin_button.clicked.connect(self.toggle_pin)
        self.forget_button.clicked.connect(self.forget_slot)
        self.slot_list.currentItemChanged.connect(lambda *_: self._name_pin_button())
        self.tabs.addTab(slots_page, "Slots")

        self.summary_list = QListWidget()
        self.summary_list.setAccessibleName("Summaries")
        self.summary_list.setWordWrap(True)
        self.summary_list.setItemDelegate(HeadedItemDelegate(self.summary_list))
        self.summary_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.tabs.addTab(self.summary_list, "Summaries")

        context_page = QWidget()
        context_layout = QVBoxLayout(context_page)
        self.context_label = QLabel(NO_PROMPT)
        self.context_label.setWordWrap(True)
        self.context_list = QListWidget()
        self.context_list.setAccessibleName("What the model saw")
        self.context_list.setWordWrap(True)
        self.context_list.setItemDelegate(HeadedItemDelegate(self.context_list))
        self.context_list.setResizeMode(QListView.ResizeMode.Adjust)
        context_layout.addWidget(self.context_label)
        context_layout.addWidget(self.context_list)
        self.tabs.addTab(context_page, "Last prompt")
        self.tabs.setTabToolTip(2, "What the model saw for its last reply, part by part")
        self.setWidget(body)

    # -- showing ----------------------------------------------------------

    def show_thread(self, thread_id: int | None) -> None:
        self.thread_id = thread_id
        self.refresh()
        shown = self._prompts.get(thread_id) if thread_id is not None else None
        if shown is None:
            self.context_list.clear()
            self.context_label.setText(NO_PROMPT)
        else:
            self._show_prompt(*shown)

    def refresh(self) -> None:
        self.slot_list.clear()
        self.summary_list.clear()
        enabled = self.thread_id is not None
        for w in (
            self.enabled_box,
            self.add_button,
            self.edit_button,
            self.pin_button,
            self.forget_button,
        ):
            w.setEnabled(enabled)
        shared = self.tables.global_memory()
        self.global_box.blockSignals(True)
        self.global_box.setChecked(shared)
        self.global_box.blockSignals(False)
        if self.thread_id is None:
            return
        self.enabled_box.blockSignals(True)
        self.enabled_box.setChecked(self.tables.memory_enabled(self.thread_id))
        self.enabled_box.blockSignals(False)
        shared_heading = False
        for slot in self._slots():
            if slot.thread_id is None and not shared_heading:
                heading = QListWidgetItem("About you, in every thread:")
                heading.setFlags(Qt.ItemFlag.ItemIsEnabled)  # a heading: not selectable
                font = heading.font()
                font.setBold(True)
                heading.setFont(font)
                self.slot_list.addItem(heading)
                shared_heading = True
            item = QListWidgetItem(_slot_text(slot))
            item.setToolTip(
                ("shared by all threads · " if slot.thread_id is None else "")
                + f"about: {slot.owner}"
                + (f" · {slot.attribute}" if slot.attribute else "")
                + f" · salience {slot.salience:.2f} · "
                f"from {len(slot.sources)} message(s) · updated "
                + format_local(slot.updated_at, "%Y-%m-%d %H:%M")
                + (f" · {len(slot.history)} earlier value(s)" if slot.history else "")
            )
            item.setData(Qt.ItemDataRole.UserRole, slot.id)
            self.slot_list.addItem(item)
        if self.slot_list.count() == 0:
            self.slot_list.addItem(QListWidgetItem("Nothing remembered yet."))
        for summary in self.tables.summaries(self.thread_id):
            stale = "  (out of date, being rebuilt)" if summary.stale else ""
            level = "" if summary.level == 0 else f" · level {summary.level}"
            self.summary_list.addItem(
                QListWidgetItem(
                    f"Messages {summary.first_depth + 1}–{summary.last_depth + 1}{level}{stale}"
                    f"\n{summary.text}"
                )
            )
        if self.summary_list.count() == 0:
            self.summary_list.addItem(
                QListWidgetItem("No summaries yet: the thread is still short.")
            )

    def show_context(
        self,
        context: BuiltContext | None,
        prompt_tokens: int,
        n_ctx: int,
        thread_id: int | None = None,
    ) -> None:
        """Keep a reply's prompt with its thread (default: the shown one); it is shown only while
        that thread is, so switching threads never leaves another thread's prompt on view."""
        thread_id = self.thread_id if thread_id is None else thread_id
        if thread_id is not None:
            self._prompts[thread_id] = (context, prompt_tokens, n_ctx)
        if thread_id == self.thread_id:
            self._show_prompt(context, prompt_tokens, n_ctx)

    def _show_prompt(self, context: BuiltContext | None, prompt_tokens: int, n_ctx: int) -> None:
        self.context_list.clear()
        if context is None:
            self.context_label.setText(
                f"Prompt: {prompt_tokens} of {n_ctx} tokens (recent messages only)."
            )
            return
        left = ", ".join(f"{n} {kind}" for kind, n in context.left_out.items() if kind != "recent")
        older = context.left_out.get("recent", 0)
        text = (
            f"Prompt: {prompt_tokens} of {n_ctx} tokens; "
            f"memory used {context.memory_tokens} of {context.memory_budget}."
        )
        if older:
            text += f" {older} older messages were not sent verbatim."
        if left:
            text += f" Left out for room: {left}."
        if context.recall_coverage is not None:
            how = "kept from an earlier turn" if context.recall_kept else "chosen for this message"
            text += f" Recall: {how}, {context.recall_coverage:.0%} of a fresh recall."
        self.context_label.setText(text)
        for part in context.parts:
            title = _KIND_NAMES.get(part.kind, part.kind)
            preview = part.text if len(part.text) < 1500 else part.text[:1500] + "…"
            item = QListWidgetItem(
                f"{title} — {part.tokens} tokens, {len(part.sources)} source message(s)\n{preview}"
            )
            self.context_list.addItem(item)

    # -- editing ----------------------------------------------------------

    def _selected_slot(self):  # type: ignore[no-untyped-def]
        item = self.slot_list.currentItem()
        slot_id = item.data(Qt.ItemDataRole.UserRole) if item else None
        if slot_id is None or self.thread_id is None:
            return None
        return next((s for s in self._slots() if s.id == slot_id), None)

    def _slots(self):  # type: ignore[no-untyped-def]
        """The thread's slots, then (when turned on) those shared by all threads."""
        if self.thread_id is None:
            return []
        own = self.tables.slots(self.thread_id)
        return own + (self.tables.slots(None) if self.tables.global_memory() else [])

    def add_slot(self) -> None:
        if self.thread_id is None:
            return
        text, ok = QInputDialog.getText(self, "Remember", "A fact to remember in this thread:")
        if ok and text.strip():
            self.note_added.emit(self.thread_id, text.strip())

    def edit_slot(self) -> None:
        slot = self._selected_slot()
        if slot is None:
            return
        text, ok = QInputDialog.getText(self, "Edit memory", "Fact:", text=slot.text)
        if ok and text.strip():
            before = slot.text
            slot.text = text.strip()
            slot.owner = owner_of(slot.text)
            slot.pinned = True  # the user's own words are kept
            slot.updated_at = time.time()
            # the old key would still say what the slot used to: the memory thread makes the
            # new one (until then the slot is pinned, so shown first whatever the message)
            slot.key = np.zeros_like(slot.key)
            self._show_now(slot)
            self._write(f"The edit of \u201c{before}\u201d", lambda: self.tables.save_slot(slot))
            if self.thread_id is not None:
                self.slot_edited.emit(self.thread_id)  # after the write: the same thread, in order

    def toggle_pin(self) -> None:
        slot = self._selected_slot()
        if slot is not None:
            slot.pinned = not slot.pinned
            what = "Pinning" if slot.pinned else "Unpinning"
            self._show_now(slot)
            self._write(f"{what} \u201c{slot.text}\u201d", lambda: self.tables.save_slot(slot))

    def forget_slot(self) -> None:
        """Forget the selected fact, with Undo beside the list for a while (all the facts
        forgotten while it shows come back together)."""
        slot = self._selected_slot()
        if slot is None or slot.id is None:
            return
        slot_id = slot.id
        self._forgotten.append(slot)
        self.slot_list.takeItem(self.slot_list.currentRow())  # gone at once, saved behind
        self._write(f"Forgetting \u201c{slot.text}\u201d", lambda: self.tables.delete_slot(slot_id))
        count = len(self._forgotten)
        self.undo_label.setText(
            f"Forgotten: \u201c{slot.text}\u201d" if count == 1 else f"Forgotten: {count} facts"
        )
        self.undo_row.show()
        self._undo_timer.start(self.UNDO_MS)

    def undo_forget(self) -> None:
        slots, self._forgotten = self._forgotten, []
        self._drop_undo()
        for slot in slots:  # a new row with all it held: text, key, sources, history, pin
            restored = dataclasses.replace(slot, id=None)
            self._write(
                f"Bringing back \u201c{slot.text}\u201d",
                lambda r=restored: self.tables.save_slot(r),
                slot.thread_id,
            )

    def _show_now(self, slot: SlotRow) -> None:
        """The change is on screen at once; the memory thread may first finish an update."""
        item = self.slot_list.currentItem()
        if item is not None and item.data(Qt.ItemDataRole.UserRole) == slot.id:
            item.setText(_slot_text(slot))
            self.pin_button.setText("Unpin" if slot.pinned else "Pin")

    def _drop_undo(self) -> None:
        self._undo_timer.stop()
        self.undo_row.hide()
        self._forgotten = []

    def _write(self, what: str, job: Callable[[], object], thread_id: int | None = None) -> None:
        """Save a change: on the memory thread when there is one, else by the store's writer
        (the GUI thread never waits on the database); the panel is shown again once it is
        saved."""
        thread_id = self.thread_id if thread_id is None else thread_id
        if self._writer is not None:
            self._writer.write(thread_id if thread_id is not None else -1, what, job)
            return

        def failed(message: str) -> None:
            self.failed.emit(f"{what} failed: {message}")
            self.refresh()

        self._store_writer.ask(job, on_done=lambda _r: self.refresh(), on_error=failed)

    def _written(self, thread_id: int) -> None:
        if thread_id == self.thread_id or thread_id == -1:
            self.refresh()

    def _name_pin_button(self) -> None:
        slot = self._selected_slot()
        self.pin_button.setText("Unpin" if slot is not None and slot.pinned else "Pin")

    def _toggle_global(self, on: bool) -> None:
        what = "Sharing facts about you" if on else "Turning shared facts off"
        self._write(what, lambda: self.tables.set_global_memory(on))

    def _toggle_memory(self, on: bool) -> None:
        thread_id = self.thread_id
        if thread_id is not None:
            what = "Turning memory on" if on else "Turning memory off"
            self._write(
                f"{what} for this thread", lambda: self.tables.set_memory_enabled(thread_id, on)
            )
