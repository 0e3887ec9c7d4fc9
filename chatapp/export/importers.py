"""Importing threads: chatapp's own JSON (lossless) and ChatGPT's conversations.json.

A file is read and checked whole before anything is written; the threads are
then written in one transaction, so a bad file imports nothing. Every field is
checked for type and range here, before it reaches the database: a time of
1e20 or "yesterday" once imported fine and then broke every start of the window.

chatapp's own format is strict (a damaged field refuses the file with the
field's name). ChatGPT's export is a foreign format with hundreds of
conversations: what cannot be used there (a conversation whose messages form a
loop, an image, an unreadable time) is left out or replaced and reported in
`ImportReport.notes`, never dropped silently.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chatapp.domain import GenerationSettings
from chatapp.errors import UserFacingError
from chatapp.export import json_format
from chatapp.store import Store
from chatapp.timestamps import RANGE_TEXT, is_time

MAX_BYTES = 512 * 1024 * 1024
ROLES = ("system", "user", "assistant")
STATUSES = ("complete", "streaming", "stopped", "error")
MAX_INT = 2**63 - 1  # SQLite's INTEGER
_SURROGATE = re.compile("[\ud800-\udfff]")


class ImportFailed(UserFacingError):
    """The file cannot be imported; nothing was written."""


@dataclass
class ImportReport:
    """What an import wrote, and what it had to leave out or replace (one line each)."""

    thread_ids: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def message(self, name: str) -> str:
        text = f"Imported {len(self.thread_ids)} thread(s) from {name}"
        return text + (". " + " ".join(self.notes) if self.notes else ".")


def load(path: Path) -> tuple[str, Any]:
    """Read and parse, refusing anything but a regular file of sane size; returns (kind, data)."""
    path = Path(path)
    raw = _read_regular_file(path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"{path.name} is not UTF-8 text.", detail=str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
        ) from exc
    except RecursionError as exc:
        raise ImportFailed(f"{path.name} is nested too deeply to be a chat export.") from exc
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ImportFailed(f"{path.name} is not valid JSON ({exc}).") from exc
    if isinstance(data, dict) and data.get("format") == json_format.FORMAT:
        return "chatapp", data
    if isinstance(data, list) and (not data or isinstance(data[0], dict) and "mapping" in data[0]):
        return "chatgpt", data
    raise ImportFailed(
        f"{path.name} is neither a chatapp export nor a ChatGPT conversations.json.",
    )


def _read_regular_file(path: Path) -> bytes:
    """The size check needs a regular file: /dev/zero or a pipe would be read until memory
    runs out. Opened without blocking (a FIFO would wait for a writer) and checked after
    opening, so the file checked is the file read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except IsADirectoryError as exc:
        raise ImportFailed(
            f"{path} is a folder, not a file; choose the export file in it."
        ) from exc
    except OSError as exc:
        raise ImportFailed(f"{path} cannot be read.", detail=exc.strerror or str(exc)) from exc
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImportFailed(f"{path} is a folder, not a file; choose the export file in it.")
        if not stat.S_ISREG(info.st_mode):
            raise ImportFailed(
                f"{path} is not a regular file (a device or a pipe); nothing was imported."
            )
        if info.st_size > MAX_BYTES:
            raise ImportFailed(
                f"{path.name} is {info.st_size / 2**20:,.0f} MB; chatapp imports files up to "
                f"{MAX_BYTES // 2**20} MB.",
            )
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, 1 << 20):
            total += len(chunk)
            if total > MAX_BYTES:  # it grew while being read
                raise ImportFailed(
                    f"{path.name} is over {MAX_BYTES // 2**20} MB; nothing was imported."
                )
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ImportFailed(f"{path} cannot be read.", detail=exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)


def import_file(store: Store, path: Path) -> list[int]:
    """The ids of the imported threads (see `import_with_report` for what was left out)."""
    return import_with_report(store, path).thread_ids


def import_with_report(store: Store, path: Path) -> ImportReport:
    kind, data = load(path)
    report = ImportReport()
    threads = _check_chatapp(data, report) if kind == "chatapp" else _from_chatgpt(data, report)
    if kind == "chatgpt" and data and not threads:
        raise ImportFailed(
            f"No conversation in {Path(path).name} could be imported: " + " ".join(report.notes)
        )
    report.thread_ids = write_threads(store, threads)
    return report


# -- checking ---------------------------------------------------------------


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise ImportFailed(f"The file is malformed: {where} {what}.")


def _is_int(value: Any, low: int = -MAX_INT, high: int = MAX_INT) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Text:
    """Text from the file, with lone surrogates (which SQLite cannot store) replaced and counted."""

    def __init__(self) -> None:
        self.replaced = 0

    def __call__(self, value: str) -> str:
        if _SURROGATE.search(value):
            self.replaced += 1
            return _SURROGATE.sub("\ufffd", value)
        return value


def _check_chatapp(data: dict[str, Any], report: ImportReport) -> list[dict[str, Any]]:
    """Every field checked and copied into a clean dict (nothing unchecked reaches SQL)."""
    version = data.get("version")
    _need(_is_int(version), "version", "must be a whole number")
    if version > json_format.VERSION:
        raise ImportFailed(
            f"The file was written by a newer chatapp (export version {version}; "
            f"this one reads up to "
            f"{json_format.VERSION}). Update chatapp to import it."
        )
    threads = data.get("threads")
    _need(isinstance(threads, list), "threads", "must be a list")
    text = _Text()
    checked = [_check_thread(t, f"threads[{n}]", text) for n, t in enumerate(threads)]
    if text.replaced:
        report.notes.append(
            f"{text.replaced} text(s) held invalid characters (lone surrogates), "
            f"replaced by \ufffd."
        )
    return checked


def _check_thread(t: Any, where: str, text: _Text) -> dict[str, Any]:
    _need(isinstance(t, dict), where, "must be an object")
    for key in ("title", "system_prompt"):
        _need(isinstance(t.get(key), str), f"{where}.{key}", "must be text")
    _need(isinstance(t.get("messages"), list), f"{where}.messages", "must be a list")
    _need(is_time(t.get("created_at")), f"{where}.created_at", f"must be {RANGE_TEXT}")
    _need(
        is_time(t.get("updated_at", t["created_at"])),
        f"{where}.updated_at",
        f"must be {RANGE_TEXT}",
    )
    for key in ("title_auto", "pinned", "memory_enabled"):
        _need(isinstance(t.get(key, False), bool), f"{where}.{key}", "must be true or false")
    _need(
        t.get("model") is None or isinstance(t["model"], str),
        f"{where}.model",
        "must be text or null",
    )
    out: dict[str, Any] = {
        "title": text(t["title"]),
        "system_prompt": text(t["system_prompt"]),
        "created_at": float(t["created_at"]),
        "updated_at": float(t.get("updated_at", t["created_at"])),
        "title_auto": t.get("title_auto", False),
        "pinned": t.get("pinned", False),
        "memory_enabled": t.get("memory_enabled", True),
        "model": text(t["model"]) if t.get("model") is not None else None,
        "settings": _check_settings(t.get("settings"), f"{where}.settings"),
        "messages": [],
        "summaries": [],
        "slots": [],
    }
    ids: set[int] = set()
    for n, m in enumerate(t["messages"]):
        out["messages"].append(_check_message(m, f"{where}.messages[{n}]", ids, text))
    for key in ("summaries", "slots"):
        _need(isinstance(t.get(key, []), list), f"{where}.{key}", "must be a list")
    for n, s in enumerate(t.get("summaries", [])):
        out["summaries"].append(_check_summary(s, f"{where}.summaries[{n}]", text))
    for n, s in enumerate(t.get("slots", [])):
        out["slots"].append(_check_slot(s, f"{where}.slots[{n}]", text))
    return out


def _check_settings(value: Any, where: str) -> dict[str, Any]:
    """A thread's sampling settings: each known key of the right type and range."""
    if value is None:
        return GenerationSettings().to_dict()
    _need(isinstance(value, dict), where, "must be an object")
    default = GenerationSettings()
    out = default.to_dict()
    for key, wanted in default.to_dict().items():
        if key not in value:
            continue
        got = value[key]
        if key == "seed":
            _need(got is None or _is_int(got), f"{where}.seed", "must be a whole number or null")
        elif isinstance(wanted, int):
            _need(_is_int(got, 0, 10_000_000), f"{where}.{key}", "must be a whole number")
        else:
            _need(_is_number(got) and 0 <= got <= 1000, f"{where}.{key}", "must be a number")
        out[key] = got
    return out


def _check_message(m: Any, where: str, ids: set[int], text: _Text) -> dict[str, Any]:
    _need(isinstance(m, dict), where, "must be an object")
    _need(_is_int(m.get("id")) and m["id"] not in ids, f"{where}.id", "must be a new whole number")
    parent = m.get("parent")
    _need(
        parent is None or _is_int(parent) and parent in ids,
        f"{where}.parent",
        "must name an earlier message",
    )
    _need(
        m.get("role") in ROLES if isinstance(m.get("role"), str) else False,
        f"{where}.role",
        f"must be one of {', '.join(ROLES)}",
    )
    _need(isinstance(m.get("content"), str), f"{where}.content", "must be text")
    _need(is_time(m.get("created_at")), f"{where}.created_at", f"must be {RANGE_TEXT}")
    status = m.get("status", "complete")
    _need(
        isinstance(status, str) and status in STATUSES,
        f"{where}.status",
        f"must be one of {', '.join(STATUSES)}",
    )
    for key in ("model", "error"):
        _need(
            m.get(key) is None or isinstance(m[key], str), f"{where}.{key}", "must be text or null"
        )
    for key in ("prompt_tokens", "completion_tokens"):
        _need(
            m.get(key) is None or _is_int(m[key], 0),
            f"{where}.{key}",
            "must be a whole number or null",
        )
    _need(
        m.get("settings") is None or isinstance(m["settings"], dict),
        f"{where}.settings",
        "must be an object or null",
    )
    _need(isinstance(m.get("shown", False), bool), f"{where}.shown", "must be true or false")
    selected = m.get("selected_at", m["created_at"])
    _need(is_time(selected), f"{where}.selected_at", f"must be {RANGE_TEXT}")
    ids.add(m["id"])
    return {
        "id": m["id"],
        "parent": parent,
        "role": m["role"],
        "content": text(m["content"]),
        "created_at": float(m["created_at"]),
        "status": status,
        "model": text(m["model"]) if m.get("model") is not None else None,
        "error": text(m["error"]) if m.get("error") is not None else None,
        "prompt_tokens": m.get("prompt_tokens"),
        "completion_tokens": m.get("completion_tokens"),
        "settings": _json_safe(m.get("settings"), f"{where}.settings"),
        "shown": m.get("shown", False),
        "selected_at": float(selected),
    }


def _json_safe(value: Any, where: str) -> Any:
    """A free-form object stored as JSON text: it must write back as strict JSON."""
    if value is None:
        return None
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, RecursionError):
        _need(False, where, "must hold plain JSON values")
    if _SURROGATE.search(json.dumps(value, ensure_ascii=False)):
        _need(False, where, "must hold valid text")
    return value


def _id_list(value: Any, where: str) -> list[int]:
    _need(
        isinstance(value, list) and all(_is_int(i) for i in value),
        where,
        "must be a list of message ids",
    )
    return list(value)


def _check_summary(s: Any, where: str, text: _Text) -> dict[str, Any]:
    _need(isinstance(s, dict), where, "must be an object")
    for key in ("level", "first_depth", "last_depth"):
        _need(_is_int(s.get(key), 0), f"{where}.{key}", "must be a whole number (0 or more)")
    _need(isinstance(s.get("text"), str), f"{where}.text", "must be text")
    _need(
        s.get("model") is None or isinstance(s["model"], str),
        f"{where}.model",
        "must be text or null",
    )
    _need(is_time(s.get("created_at")), f"{where}.created_at", f"must be {RANGE_TEXT}")
    for key in ("stale", "superseded"):
        _need(isinstance(s.get(key, False), bool), f"{where}.{key}", "must be true or false")
    return {
        "level": s["level"],
        "first_depth": s["first_depth"],
        "last_depth": s["last_depth"],
        "messages": _id_list(s.get("messages", []), f"{where}.messages"),
        "text": text(s["text"]),
        "model": text(s["model"]) if s.get("model") is not None else None,
        "created_at": float(s["created_at"]),
        "stale": s.get("stale", False),
        "superseded": s.get("superseded", False),
    }


def _check_slot(s: Any, where: str, text: _Text) -> dict[str, Any]:
    _need(isinstance(s, dict), where, "must be an object")
    _need(isinstance(s.get("text"), str), f"{where}.text", "must be text")
    _need(isinstance(s.get("owner", "user"), str), f"{where}.owner", "must be text")
    _need(
        _is_number(s.get("salience", 1.0)) and 0 <= s.get("salience", 1.0) <= 1e6,
        f"{where}.salience",
        "must be a number",
    )
    _need(isinstance(s.get("pinned", False), bool), f"{where}.pinned", "must be true or false")
    _need(is_time(s.get("created_at")), f"{where}.created_at", f"must be {RANGE_TEXT}")
    _need(
        is_time(s.get("updated_at", s["created_at"])),
        f"{where}.updated_at",
        f"must be {RANGE_TEXT}",
    )
    _need(
        s.get("used_at") is None or is_time(s["used_at"]),
        f"{where}.used_at",
        f"must be {RANGE_TEXT} or null",
    )
    _need(
        s.get("attribute") is None or isinstance(s["attribute"], str),
        f"{where}.attribute",
        "must be text or null",
    )
    _need(
        s.get("since") is None or is_time(s["since"]),
        f"{where}.since",
        f"must be {RANGE_TEXT} or null",
    )
    history = s.get("history", [])
    _need(isinstance(history, list), f"{where}.history", "must be a list")
    for n, h in enumerate(history):
        at = f"{where}.history[{n}]"
        _need(isinstance(h, dict), at, "must be an object")
        _need(isinstance(h.get("text"), str), f"{at}.text", "must be text")
        for name in ("since", "until"):
            _need(is_time(h.get(name)), f"{at}.{name}", f"must be {RANGE_TEXT}")
    return {
        "attribute": text(s["attribute"]) if s.get("attribute") is not None else None,
        "since": float(s["since"]) if s.get("since") is not None else None,
        "history": [
            {
                "text": text(h["text"]),
                "sources": _id_list(h.get("sources", []), f"{where}.history[{n}].sources"),
                "since": float(h["since"]),
                "until": float(h["until"]),
            }
            for n, h in enumerate(history)
        ],
        "text": text(s["text"]),
        "owner": text(s.get("owner", "user")),
        "key": s.get("key"),
        "salience": float(s.get("salience", 1.0)),
        "pinned": s.get("pinned", False),
        "sources": _id_list(s.get("sources", []), f"{where}.sources"),
        "created_at": float(s["created_at"]),
        "updated_at": float(s.get("updated_at", s["created_at"])),
        "used_at": float(s["used_at"]) if s.get("used_at") is not None else None,
    }


# -- ChatGPT ------------------------------------------------------------------


def _from_chatgpt(conversations: list[Any], report: ImportReport) -> list[dict[str, Any]]:
    """ChatGPT's message tree becomes versions; the conversation's current path is shown."""
    tally = _Tally()
    threads = []
    for n, conv in enumerate(conversations):
        name = f"conversation {n + 1}"
        if isinstance(conv, dict) and isinstance(conv.get("title"), str) and conv["title"].strip():
            name += f' ("{conv["title"].strip()[:60]}")'
        if not isinstance(conv, dict) or not isinstance(conv.get("mapping"), dict):
            report.notes.append(f"{name} was skipped: it has no message mapping.")
            continue
        loop = _find_loop(conv["mapping"])
        if loop:
            report.notes.append(
                f"{name} was skipped: its messages form a loop ({' → '.join(loop)})."
            )
            continue
        threads.append(_conversation(conv, tally))
    report.notes.extend(tally.notes())
    return threads


@dataclass
class _Tally:
    """What a ChatGPT import left out or replaced, over all conversations."""

    non_text: int = 0  # images, files: only text is imported
    other_roles: int = 0  # tool output, system messages with text
    bad_times: int = 0
    text: _Text = field(default_factory=_Text)

    def notes(self) -> list[str]:
        out = []
        if self.non_text:
            out.append(
                f"{self.non_text} image(s) or file(s) were left out (only text is imported)."
            )
        if self.other_roles:
            out.append(
                f"{self.other_roles} message(s) not by the user or the assistant (tool output, "
                "system) were left out."
            )
        if self.bad_times:
            out.append(
                f"{self.bad_times} unreadable time(s) were replaced by the nearest known time."
            )
        if self.text.replaced:
            out.append(f"{self.text.replaced} text(s) held invalid characters, replaced by \ufffd.")
        return out


def _parent(mapping: dict[str, Any], node_id: str) -> str | None:
    """A node's parent where it names a node of the mapping (itself included: a loop);
    anything else (null, a number, a list, a missing node) makes it a root."""
    entry = mapping.get(node_id)
    parent = entry.get("parent") if isinstance(entry, dict) else None
    return parent if isinstance(parent, str) and parent in mapping else None


def _find_loop(mapping: dict[str, Any]) -> list[str] | None:
    """Parent links that come back to where they started (a node that is its own parent, too)."""
    done: set[str] = set()
    for start in mapping:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in done:
            if node in on_path:
                cycle = path[path.index(node) :] + [node]
                return cycle[:6] + (["…"] if len(cycle) > 6 else [])
            on_path.add(node)
            path.append(node)
            node = _parent(mapping, node)
        done.update(path)
    return None


def _children(mapping: dict[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """Roots and children from the parent links (a node whose parent entry is null keeps its
    subtree); siblings in the order the parent's `children` list gives, then the file's."""
    children: dict[str, list[str]] = {k: [] for k in mapping}
    roots: list[str] = []
    for node_id in mapping:
        parent = _parent(mapping, node_id)
        (children[parent] if parent is not None else roots).append(node_id)
    for node_id, kids in children.items():
        entry = mapping.get(node_id)
        listed = entry.get("children") if isinstance(entry, dict) else None
        if isinstance(listed, list) and len(kids) > 1:
            rank = {c: i for i, c in enumerate(listed) if isinstance(c, str)}
            kids.sort(key=lambda c: rank.get(c, len(rank)))
    return roots, children


def _message_text(msg: dict[str, Any], tally: _Tally) -> str:
    """The text of a message in any of the shapes ChatGPT writes: `parts`, a `text` field
    (code, quotes), or the content given as a plain string."""
    content = msg.get("content")
    if isinstance(content, str):
        return content.strip()
    if not isinstance(content, dict):
        return ""
    pieces: list[str] = []
    parts = content.get("parts")
    if isinstance(parts, list):
        for part in parts:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                pieces.append(part["text"])
            elif part not in (None, ""):
                tally.non_text += 1
    for key in ("text", "result"):
        if not pieces and isinstance(content.get(key), str):
            pieces.append(content[key])
    text = "\n".join(pieces).strip()
    if text and content.get("content_type") == "code":
        lang = content.get("language")
        lang = (
            lang
            if isinstance(lang, str) and re.fullmatch(r"[\w+-]{1,30}", lang) and lang != "unknown"
            else ""
        )
        text = f"```{lang}\n{text}\n```"
    return text


def _role(msg: dict[str, Any]) -> str:
    author = msg.get("author")
    role = author.get("role") if isinstance(author, dict) else author
    return role if isinstance(role, str) else ""


def _conversation(conv: dict[str, Any], tally: _Tally) -> dict[str, Any]:
    mapping: dict[str, Any] = conv["mapping"]
    roots, children = _children(mapping)
    shown_nodes: set[str] = set()
    node = conv.get("current_node")
    node = node if isinstance(node, str) and node in mapping else None
    while node is not None:
        shown_nodes.add(node)
        node = _parent(mapping, node)
    created = conv.get("create_time") if is_time(conv.get("create_time")) else None
    if conv.get("create_time") is not None and created is None:
        tally.bad_times += 1
    local: dict[str, int] = {}
    messages: list[dict[str, Any]] = []
    # depth-first, parents before children; each node carries its nearest kept ancestor and time
    stack: list[tuple[str, int | None, float | None]] = [
        (r, None, created) for r in reversed(roots)
    ]
    while stack:
        node_id, kept_parent, last_time = stack.pop()
        entry = mapping.get(node_id)
        msg = entry.get("message") if isinstance(entry, dict) else None
        if isinstance(msg, dict):
            role = _role(msg)
            text = _message_text(msg, tally)
            when = msg.get("create_time")
            if when is not None and not is_time(when):
                tally.bad_times += 1
            if is_time(when):
                last_time = float(when)
            if text and role in ("user", "assistant"):
                metadata = msg.get("metadata")
                slug = metadata.get("model_slug") if isinstance(metadata, dict) else None
                local[node_id] = len(messages) + 1
                messages.append(
                    {
                        "id": local[node_id],
                        "parent": kept_parent,
                        "role": role,
                        "content": tally.text(text),
                        "created_at": last_time,  # None until the fallback below
                        "status": "complete",
                        "model": tally.text(slug) if isinstance(slug, str) and slug else None,
                        "shown": node_id in shown_nodes,
                    }
                )
                kept_parent = local[node_id]
            elif text:
                tally.other_roles += 1
        for child in reversed(children.get(node_id, [])):
            stack.append((child, kept_parent, last_time))
    known = [m["created_at"] for m in messages if m["created_at"] is not None]
    fallback = created if created is not None else (min(known) if known else time.time())
    for m in messages:
        if m["created_at"] is None:
            m["created_at"] = float(fallback)
        m["selected_at"] = m["created_at"]
    updated = conv.get("update_time")
    if updated is not None and not is_time(updated):
        tally.bad_times += 1
    title = conv.get("title")
    return {
        "title": tally.text(title.strip())
        if isinstance(title, str) and title.strip()
        else "Imported chat",
        "system_prompt": "",
        "created_at": float(fallback),
        "updated_at": float(updated) if is_time(updated) else max([fallback, *known]),
        "title_auto": False,
        "pinned": False,
        "memory_enabled": True,
        "model": None,
        "settings": GenerationSettings().to_dict(),
        "messages": messages,
        "summaries": [],
        "slots": [],
    }


# -- writing ----------------------------------------------------------------


def write_threads(store: Store, threads: list[dict[str, Any]]) -> list[int]:
    """All threads in one transaction (the store's): either every one is imported or none.

    `threads` are the checked dicts made above (every key present, every value checked);
    here each message learns whether it is on the shown path and each slot gets its key."""
    prepared = []
    for t in threads:
        shown = _shown_path(t["messages"])
        prepared.append(
            {
                **t,
                "messages": [{**m, "active": m["id"] in shown} for m in t["messages"]],
                "slots": [{**s, "key": _slot_key(s.get("key")).tobytes()} for s in t["slots"]],
            }
        )
    return store.import_threads(prepared)


def _slot_key(encoded: Any) -> np.ndarray:
    """A slot's key from the file; a missing or damaged one is stored as none (zeros), and
    the memory thread makes it again from the slot's text (a note the user wrote is kept)."""
    from chatapp.store.memory_tables import VECTOR_DIM as DIM

    key = None
    if isinstance(encoded, str):
        try:
            key = np.frombuffer(base64.b64decode(encoded, validate=True), dtype=np.float32)
        except (ValueError, TypeError):
            key = None
    if key is None or key.shape != (DIM,) or not np.all(np.isfinite(key)):
        return np.zeros(DIM, dtype=np.float32)
    return key


def _shown_path(messages: list[dict[str, Any]]) -> set[int]:
    """The ids marked shown when no two of them are versions of one message (both would be
    drawn in the transcript); otherwise the path to the newest message."""
    marked = {m["id"] for m in messages if m.get("shown")}
    if not messages:
        return marked
    parents = {m["id"]: m.get("parent") for m in messages}
    chosen = [parents[i] for i in marked]
    if marked and len(set(chosen)) == len(chosen):
        return marked
    node: int | None = messages[-1]["id"]
    path = set()
    while node is not None:
        path.add(node)
        node = parents.get(node)
    return path
