"""A thread as exporters see it: everything the store holds of it, read in one place."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from chatapp.domain import Message, Thread
from chatapp.store import Store
from chatapp.store.memory_tables import MemoryTables


@dataclass
class ThreadExport:
    thread: Thread
    memory_enabled: bool
    messages: list[dict[str, Any]]  # every version, in id order, with local ids
    shown: list[Message]  # the path the thread shows
    summaries: list[dict[str, Any]]
    slots: list[dict[str, Any]]


def read_thread(store: Store, thread_id: int) -> ThreadExport:
    thread = store.thread(thread_id)
    rows = store.export_messages(thread_id)
    local = {row["id"]: n + 1 for n, row in enumerate(rows)}
    messages = [
        {
            "id": local[r["id"]],
            "parent": local.get(r["parent_id"]) if r["parent_id"] is not None else None,
            "role": r["role"],
            "content": r["content"],
            "created_at": r["created_at"],
            "status": r["status"],
            "model": r["model"],
            "prompt_tokens": r["prompt_tokens"],
            "completion_tokens": r["completion_tokens"],
            "settings": json.loads(r["settings"]) if r["settings"] else None,
            "error": r["error"],
            "shown": bool(r["active"]),
            "selected_at": r["selected_at"],
        }
        for r in rows
    ]
    tables = MemoryTables(store)
    summaries = [
        {
            "level": s.level,
            "first_depth": s.first_depth,
            "last_depth": s.last_depth,
            "messages": [local[i] for i in s.message_ids if i in local],
            "text": s.text,
            "model": s.model,
            "created_at": s.created_at,
            "stale": s.stale,
            "superseded": s.superseded,
        }
        for s in tables.summaries(thread_id, current_only=False)
    ]
    slots = [
        {
            "text": s.text,
            "owner": s.owner,
            "key": base64.b64encode(np.asarray(s.key, dtype=np.float32).tobytes()).decode("ascii"),
            "salience": s.salience,
            "pinned": s.pinned,
            "sources": [local[i] for i in s.sources if i in local],
            "created_at": s.created_at,
            "updated_at": s.updated_at,
            "used_at": s.used_at,
            "attribute": s.attribute,
            "since": s.since,
            "history": [
                {
                    "text": h.text,
                    "sources": [local[i] for i in h.sources if i in local],
                    "since": h.since,
                    "until": h.until,
                }
                for h in s.history
            ],
        }
        for s in tables.slots(thread_id)
    ]
    return ThreadExport(
        thread, tables.memory_enabled(thread_id), messages, store.path(thread_id), summaries, slots
    )
