"""Importing threads: chatapp's own JSON (lossless) and ChatGPT's conversations.json.

A file is read and checked whole before anything is written; the threads are
then written in one transaction, so a bad file imports nothing.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from chatapp.domain import GenerationSettings
from chatapp.errors import UserFacingError
from chatapp.export import json_format
from chatapp.store import Store

MAX_BYTES = 512 * 1024 * 1024
ROLES = ("system", "user", "assistant")
STATUSES = ("complete", "streaming", "stopped", "error")


class ImportFailed(UserFacingError):
    """The file cannot be imported; nothing was written."""


def load(path: Path) -> tuple[str, Any]:
    """Read and parse, with a size check before reading; returns (kind, data)."""
    path = Path(path)
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ImportFailed(f"{path} cannot be read.", detail=exc.strerror or str(exc)) from exc
    if size > MAX_BYTES:
        raise ImportFailed(
            f"{path.name} is {size / 2**20:,.0f} MB; chatapp imports files up to {MAX_BYTES // 2**20} MB.",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"{path.name} is not UTF-8 text.", detail=str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
        ) from exc
    if isinstance(data, dict) and data.get("format") == json_format.FORMAT:
        return "chatapp", data
    if isinstance(data, list) and (not data or isinstance(data[0], dict) and "mapping" in data[0]):
        return "chatgpt", data
    raise ImportFailed(
        f"{path.name} is neither a chatapp export nor a ChatGPT conversations.json.",
    )


def import_file(store: Store, path: Path) -> list[int]:
    kind, data = load(path)
    threads = _check_chatapp(data) if kind == "chatapp" else _from_chatgpt(data)
    return write_threads(store, threads)


# -- checking ---------------------------------------------------------------


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ImportFailed(f"The file is malformed: {where} {what}.")


def _check_chatapp(data: dict[str, Any]) -> list[dict[str, Any]]:
    version = data.get("version")
    _need(isinstance(version, int), "version", "must be a number")
    if version > json_format.VERSION:
        raise ImportFailed(
            f"The file was written by a newer chatapp (export version {version}; this one reads up to "
            f"{json_format.VERSION}). Update chatapp to import it."
        )
    threads = data.get("threads")
    _need(isinstance(threads, list), "threads", "must be a list")
    for n, t in enumerate(threads):
        where = f"threads[{n}]"
        _need(isinstance(t, dict), where, "must be an object")
        for key, kind in (("title", str), ("system_prompt", str), ("messages", list), ("created_at", (int, float))):
            _need(isinstance(t.get(key), kind), f"{where}.{key}", f"must be {_kind(kind)}")
        ids = set()
        for m_n, m in enumerate(t["messages"]):
            mw = f"{where}.messages[{m_n}]"
            _need(isinstance(m, dict), mw, "must be an object")
            _need(isinstance(m.get("id"), int) and m["id"] not in ids, f"{mw}.id", "must be a new whole number")
            _need(m.get("parent") is None or m.get("parent") in ids, f"{mw}.parent", "must name an earlier message")
            _need(m.get("role") in ROLES, f"{mw}.role", f"must be one of {', '.join(ROLES)}")
            _need(isinstance(m.get("content"), str), f"{mw}.content", "must be text")
            _need(isinstance(m.get("created_at"), (int, float)), f"{mw}.created_at", "must be a number")
            _need(m.get("status", "complete") in STATUSES, f"{mw}.status", f"must be one of {', '.join(STATUSES)}")
            ids.add(m["id"])
        for key in ("summaries", "slots"):
            _need(isinstance(t.get(key, []), list), f"{where}.{key}", "must be a list")
    return threads


def _kind(kind: Any) -> str:
    return {str: "text", list: "a list"}.get(kind, "a number")


def _from_chatgpt(conversations: list[Any]) -> list[dict[str, Any]]:
    """ChatGPT's message tree becomes versions; the conversation's current path is shown."""
    threads = []
    for n, conv in enumerate(conversations):
        where = f"conversation {n + 1}"
        _need(isinstance(conv, dict) and isinstance(conv.get("mapping"), dict), where, "has no message mapping")
        mapping: dict[str, Any] = conv["mapping"]
        current = conv.get("current_node")
        shown_nodes: set[str] = set()
        node = current
        while isinstance(node, str) and node in mapping:
            shown_nodes.add(node)
            node = mapping[node].get("parent")
        local: dict[str, int] = {}
        messages: list[dict[str, Any]] = []
        created = conv.get("create_time") or time.time()

        def kept_parent(node_id: str | None) -> int | None:
            while node_id is not None and node_id in mapping:
                if node_id in local:
                    return local[node_id]
                node_id = mapping[node_id].get("parent")
            return None

        order = _tree_order(mapping)
        for node_id in order:
            msg = (mapping[node_id] or {}).get("message")
            if not isinstance(msg, dict):
                continue
            role = ((msg.get("author") or {}).get("role")) or ""
            content = msg.get("content") or {}
            parts = content.get("parts") if isinstance(content, dict) else None
            text = "\n".join(p for p in (parts or []) if isinstance(p, str)).strip()
            if role not in ("user", "assistant") or not text:
                continue
            local[node_id] = len(messages) + 1
            messages.append({
                "id": local[node_id],
                "parent": kept_parent(mapping[node_id].get("parent")),
                "role": role,
                "content": text,
                "created_at": float(msg.get("create_time") or created),
                "status": "complete",
                "model": (msg.get("metadata") or {}).get("model_slug"),
                "shown": node_id in shown_nodes,
            })
        threads.append({
            "title": str(conv.get("title") or "Imported chat"),
            "system_prompt": "",
            "created_at": float(created),
            "updated_at": float(conv.get("update_time") or created),
            "messages": messages,
        })
    return threads


def _tree_order(mapping: dict[str, Any]) -> list[str]:
    """Parents before children."""
    roots = [k for k, v in mapping.items() if not (v or {}).get("parent") or v.get("parent") not in mapping]
    order: list[str] = []
    stack = list(reversed(roots))
    seen: set[str] = set()
    while stack:
        node = stack.pop()
        if node in seen or node not in mapping:
            continue
        seen.add(node)
        order.append(node)
        stack.extend(reversed([c for c in (mapping[node] or {}).get("children") or [] if isinstance(c, str)]))
    return order


# -- writing ----------------------------------------------------------------


def write_threads(store: Store, threads: list[dict[str, Any]]) -> list[int]:
    """All threads in one transaction: either every one is imported or none."""
    created: list[int] = []
    with store._tx() as conn:
        for t in threads:
            settings = GenerationSettings.from_dict(t.get("settings"))
            cur = conn.execute(
                "INSERT INTO threads (title, title_auto, system_prompt, model, settings, pinned,"
                " created_at, updated_at, memory_enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    t["title"], int(bool(t.get("title_auto", False))), t.get("system_prompt", ""),
                    t.get("model"), json.dumps(settings.to_dict()), int(bool(t.get("pinned", False))),
                    t["created_at"], t.get("updated_at", t["created_at"]), int(t.get("memory_enabled", True)),
                ),
            )
            thread_id = cur.lastrowid
            created.append(thread_id)
            ids: dict[int, int] = {}
            depth: dict[int, int] = {}
            shown = _shown_path(t["messages"])
            for m in t["messages"]:
                parent = ids.get(m["parent"]) if m.get("parent") is not None else None
                d = depth[m["parent"]] + 1 if m.get("parent") is not None else 0
                cur = conn.execute(
                    "INSERT INTO messages (thread_id, parent_id, depth, role, content, created_at, status,"
                    " model, prompt_tokens, completion_tokens, settings, error, active, selected_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        thread_id, parent, d, m["role"], m["content"], m["created_at"],
                        "stopped" if m.get("status") == "streaming" else m.get("status", "complete"),
                        m.get("model"), m.get("prompt_tokens"), m.get("completion_tokens"),
                        json.dumps(m["settings"]) if m.get("settings") is not None else None,
                        m.get("error"), int(m["id"] in shown), m.get("selected_at", m["created_at"]),
                    ),
                )
                ids[m["id"]] = cur.lastrowid
                depth[m["id"]] = d
            for s in t.get("summaries", []):
                conn.execute(
                    "INSERT INTO summaries (thread_id, level, first_depth, last_depth, message_ids, text,"
                    " model, created_at, stale, superseded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        thread_id, int(s["level"]), int(s["first_depth"]), int(s["last_depth"]),
                        json.dumps([ids[i] for i in s.get("messages", []) if i in ids]), str(s["text"]),
                        s.get("model"), float(s["created_at"]), int(bool(s.get("stale"))),
                        int(bool(s.get("superseded"))),
                    ),
                )
            for s in t.get("slots", []):
                key = _slot_key(s.get("key"))
                conn.execute(
                    "INSERT INTO memory_slots (thread_id, text, owner, key, salience, pinned, sources,"
                    " created_at, updated_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        thread_id, str(s["text"]), str(s.get("owner", "user")), key.tobytes(),
                        float(s.get("salience", 1.0)), int(bool(s.get("pinned"))),
                        json.dumps([ids[i] for i in s.get("sources", []) if i in ids]),
                        float(s["created_at"]), float(s["updated_at"]), s.get("used_at"),
                    ),
                )
    return created


def _slot_key(encoded: Any) -> np.ndarray:
    """A slot's key from the file; a missing or damaged one is stored as none (zeros), and
    the memory thread makes it again from the slot's text (a note the user wrote is kept)."""
    from chatapp.memory.embedder import DIM

    try:
        key = np.frombuffer(base64.b64decode(str(encoded), validate=True), dtype=np.float32)
    except (ValueError, TypeError):
        key = None
    if key is None or key.shape != (DIM,) or not np.all(np.isfinite(key)):
        return np.zeros(DIM, dtype=np.float32)
    return key


def _shown_path(messages: list[dict[str, Any]]) -> set[int]:
    """The ids marked shown, or (when none are) the path to the newest message."""
    marked = {m["id"] for m in messages if m.get("shown")}
    if marked or not messages:
        return marked
    parents = {m["id"]: m.get("parent") for m in messages}
    node: int | None = messages[-1]["id"]
    path = set()
    while node is not None:
        path.add(node)
        node = parents.get(node)
    return path
