"""Markdown and plain text: the thread as it is shown, readable anywhere."""

from __future__ import annotations

import datetime as dt

from chatapp.domain import Role
from chatapp.export.model import ThreadExport
from chatapp.export.progress import NO_PROGRESS, Progress


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _who(role: Role, model: str | None) -> str:
    if role == Role.USER:
        return "You"
    if role == Role.SYSTEM:
        return "System"
    return f"Assistant ({model})" if model else "Assistant"


def render_markdown(export: ExportLike, progress: Progress = NO_PROGRESS) -> str:
    t = export.thread
    lines = [f"# {t.title or 'New chat'}", "", f"*Started {_when(t.created_at)}, last message {_when(t.updated_at)}*", ""]
    if t.system_prompt:
        lines += ["> **System prompt:** " + t.system_prompt.replace("\n", "\n> "), ""]
    for n, m in enumerate(export.shown):
        progress.step(n, len(export.shown))
        status = "" if m.status.value == "complete" else f" *({m.status.value})*"
        lines += [f"### {_who(m.role, m.model)} — {_when(m.created_at)}{status}", "", m.content, ""]
    return "\n".join(lines).rstrip() + "\n"


def render_text(export: ExportLike, progress: Progress = NO_PROGRESS) -> str:
    t = export.thread
    lines = [t.title or "New chat", "=" * max(8, len(t.title or "New chat")), ""]
    if t.system_prompt:
        lines += [f"System prompt: {t.system_prompt}", ""]
    for n, m in enumerate(export.shown):
        progress.step(n, len(export.shown))
        status = "" if m.status.value == "complete" else f" ({m.status.value})"
        lines += [f"[{_when(m.created_at)}] {_who(m.role, m.model)}{status}:", m.content, ""]
    return "\n".join(lines).rstrip() + "\n"


ExportLike = ThreadExport
