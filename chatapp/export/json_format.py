"""chatapp's own JSON: lossless, versioned (schema in docs/export-format.md)."""

from __future__ import annotations

import json
from typing import Any

from chatapp.export.model import ThreadExport

FORMAT = "chatapp-export"
VERSION = 1


def thread_dict(export: ThreadExport) -> dict[str, Any]:
    t = export.thread
    return {
        "title": t.title,
        "title_auto": t.title_auto,
        "system_prompt": t.system_prompt,
        "model": t.model,
        "settings": t.settings.to_dict(),
        "pinned": t.pinned,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "memory_enabled": export.memory_enabled,
        "messages": export.messages,
        "summaries": export.summaries,
        "slots": export.slots,
    }


def render(exports: list[ThreadExport]) -> str:
    document = {"format": FORMAT, "version": VERSION, "threads": [thread_dict(e) for e in exports]}
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
