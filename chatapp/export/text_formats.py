"""Markdown and plain text: the thread as it is shown, readable anywhere.

Control characters (a terminal's ESC sequences) are shown as symbols, not
written raw: `cat` of an export must not drive the terminal.
"""

from __future__ import annotations

from chatapp.domain import Role, speaker
from chatapp.export.clean import visible_controls as clean
from chatapp.export.model import ThreadExport
from chatapp.export.progress import NO_PROGRESS, Progress
from chatapp.timestamps import format_local


def _when(ts: float) -> str:
    return format_local(ts, "%Y-%m-%d %H:%M")


def _who(role: Role, model: str | None) -> str:
    return clean(speaker(role, model))


def render_markdown(export: ExportLike, progress: Progress = NO_PROGRESS) -> str:
    t = export.thread
    title = clean(t.title or "New chat")
    lines = [
        f"# {title}",
        "",
        f"*Started {_when(t.created_at)}, last message {_when(t.updated_at)}*",
        "",
    ]
    if t.system_prompt:
        lines += ["> **System prompt:** " + clean(t.system_prompt).replace("\n", "\n> "), ""]
    for n, m in enumerate(export.shown):
        progress.step(n, len(export.shown))
        status = "" if m.status.value == "complete" else f" *({m.status.value})*"
        lines += [
            f"### {_who(m.role, m.model)} — {_when(m.created_at)}{status}",
            "",
            clean(m.content),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def render_text(export: ExportLike, progress: Progress = NO_PROGRESS) -> str:
    t = export.thread
    title = clean(t.title or "New chat")
    lines = [title, "=" * max(8, len(title)), ""]
    if t.system_prompt:
        lines += [f"System prompt: {clean(t.system_prompt)}", ""]
    for n, m in enumerate(export.shown):
        progress.step(n, len(export.shown))
        status = "" if m.status.value == "complete" else f" ({m.status.value})"
        lines += [f"[{_when(m.created_at)}] {_who(m.role, m.model)}{status}:", clean(m.content), ""]
    return "\n".join(lines).rstrip() + "\n"


ExportLike = ThreadExport
