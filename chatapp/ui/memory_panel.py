"""The memory panel: what chatapp remembers of a thread, editable, and what the model last saw."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from chatapp.memory.builder import BuiltContext
from chatapp.memory.facts import owner_of
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables
from chatapp.timestamps import format_local, local

_KIND_NAMES = {
    "system": "System prompt",
    "slots": "Memory slots",
    "summary": "Summary of earlier messages",
    "recall": "Recalled older messages (kept while the topic holds)",
    "recall_new": "Recalled for this message",
    "recent": "Recent messages",
    "message": "Your new message",
}


def _day(timestamp: float) -> str:
    """'3 May 2026': the day a value was stated or replaced."""
    when = local(timestamp)
    return f"{when.day} {when:%B %Y}" if when is not None else "an unknown day"


class MemoryPanel(QDockWidget):
    """Signals: note_added(int thread id, str text) — a fact the user typed in;
    slot_edited(int thread id) — a slot's text changed (its key is made again)."""

    note_added = Signal(int, str)
    slot_edited = Signal(int)

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        super().__init__("Memory", parent)
        self.setObjectName("memory-panel")
        self.tables = MemoryTables(store)
        self.thread_id: int | None = None
        body = QWidget()
        layout = QVBoxLayout(body)
        self.enabled_box = QCheckBox("Remember this thread (slots, summaries, recall)")
        self.enabled_box.setAccessibleName("Memory on for this thread")
        self.enabled_box.toggled.connect(self._toggle_memory)
        layout.addWidget(self.enabled_box)
        self.global_box = QCheckBox("Also remember facts about me across all threads")
        self.global_box.setAccessibleName("Memory about me shared by all threads")
        self.global_box.setToolTip(
            "Facts you state about yourself are also kept in a few slots that every thread sees "
            "(listed under \"About you, in every thread\"). Off by default; turning it off stops "
            "writing and using them."
        )
        self.global_box.toggled.connect(self._toggle_global)
        layout.addWidget(self.global_box)
        self.tabs = QTabWidget()
        layout.addWidget(self.tabs)

        slots_page = QWidget()
        slots_layout = QVBoxLayout(slots_page)
        self.slot_list = QListWidget()
        self.slot_list.setAccessibleName("Memory slots")
        self.slot_list.setWordWrap(True)
        slots_layout.addWidget(self.slot_list)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.pin_button = QPushButton("Pin")
        self.forget_button = QPushButton("Forget")
        for button in (self.add_button, self.edit_button, self.pin_button, self.forget_button):
            row.addWidget(button)
        slots_layout.addLayout(row)
        self.add_button.clicked.connect(self.add_slot)
        self.edit_button.clicked.connect(self.edit_slot)
        self.pin_button.clicked.connect(self.toggle_pin)
        self.forget_button.clicked.connect(self.forget_slot)
        self.slot_list.currentItemChanged.connect(lambda *_: self._name_pin_button())
        self.tabs.addTab(slots_page, "Slots")

        self.summary_list = QListWidget()
        self.summary_list.setAccessibleName("Summaries")
        self.summary_list.setWordWrap(True)
        self.tabs.addTab(self.summary_list, "Summaries")

        context_page = QWidget()
        context_layout = QVBoxLayout(context_page)
        self.context_label = QLabel("No reply yet in this session.")
        self.context_label.setWordWrap(True)
        self.context_list = QListWidget()
        self.context_list.setAccessibleName("What the model saw")
        self.context_list.setWordWrap(True)
        context_layout.addWidget(self.context_label)
        context_layout.addWidget(self.context_list)
        self.tabs.addTab(context_page, "What the model saw")
        self.setWidget(body)

    # -- showing ----------------------------------------------------------

    def show_thread(self, thread_id: int | None) -> None:
        self.thread_id = thread_id
        self.refresh()

    def refresh(self) -> None:
        self.slot_list.clear()
        self.summary_list.clear()
        enabled = self.thread_id is not None
        for w in (self.enabled_box, self.add_button, self.edit_button, self.pin_button, self.forget_button):
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
            # words, not an emoji: not every Linux desktop has a font with 📌
            text = f"{slot.text}  (pinned)" if slot.pinned else slot.text
            if slot.history:  # what it held before, newest first, with when it stopped holding
                text += f"\n    since {_day(slot.current_since)}" + "".join(
                    f"\n    earlier: {h.text}  ({_day(h.since)} – {_day(h.until)})" for h in reversed(slot.history)
                )
            item = QListWidgetItem(text)
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
                QListWidgetItem(f"Messages {summary.first_depth + 1}–{summary.last_depth + 1}{level}{stale}\n{summary.text}")
            )
        if self.summary_list.count() == 0:
            self.summary_list.addItem(QListWidgetItem("No summaries yet: the thread is still short."))

    def show_context(self, context: BuiltContext | None, prompt_tokens: int, n_ctx: int) -> None:
        self.context_list.clear()
        if context is None:
            self.context_label.setText(f"Prompt: {prompt_tokens} of {n_ctx} tokens (recent messages only).")
            return
        left = ", ".join(f"{n} {kind}" for kind, n in context.left_out.items() if kind != "recent")
        older = context.left_out.get("recent", 0)
        text = f"Prompt: {prompt_tokens} of {n_ctx} tokens; memory used {context.memory_tokens} of {context.memory_budget}."
        if older:
            text += f" {older} older messages were not sent verbatim."
        if left:
            text += f" Left out for room: {left}."
        if context.recall_coverage is not None:
            text += (
                f" Recall: {'kept from an earlier turn' if context.recall_kept else 'chosen for this message'},"
                f" {context.recall_coverage:.0%} of a fresh recall."
            )
        self.context_label.setText(text)
        for part in context.parts:
            title = _KIND_NAMES.get(part.kind, part.kind)
            preview = part.text if len(part.text) < 1500 else part.text[:1500] + "…"
            item = QListWidgetItem(f"{title} — {part.tokens} tokens, {len(part.sources)} source message(s)\n{preview}")
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
            slot.text = text.strip()
            slot.owner = owner_of(slot.text)
            slot.pinned = True  # the user's own words are kept
            slot.updated_at = time.time()
            # the old key would still say what the slot used to: the memory thread makes the
            # new one (until then the slot is pinned, so shown first whatever the message)
            slot.key = np.zeros_like(slot.key)
            self.tables.save_slot(slot)
            self.refresh()
            if self.thread_id is not None:
                self.slot_edited.emit(self.thread_id)

    def toggle_pin(self) -> None:
        slot = self._selected_slot()
        if slot is not None:
            slot.pinned = not slot.pinned
            self.tables.save_slot(slot)
            self.refresh()

    def forget_slot(self) -> None:
        slot = self._selected_slot()
        if slot is not None and slot.id is not None:
            self.tables.delete_slot(slot.id)
            self.refresh()

    def _name_pin_button(self) -> None:
        slot = self._selected_slot()
        self.pin_button.setText("Unpin" if slot is not None and slot.pinned else "Pin")

    def _toggle_global(self, on: bool) -> None:
        self.tables.set_global_memory(on)
        self.refresh()

    def _toggle_memory(self, on: bool) -> None:
        if self.thread_id is not None:
            self.tables.set_memory_enabled(self.thread_id, on)
