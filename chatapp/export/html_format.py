"""One self-contained HTML file: inline CSS, no scripts, no external resources.

Every piece of user or model text is escaped before the small Markdown subset
(fenced code, headings, lists, bold, italics, inline code) is turned into tags,
so a message containing <script> shows as text.
"""

from __future__ import annotations

import datetime as dt
import html
import re

from chatapp.domain import Role
from chatapp.export.model import ThreadExport
from chatapp.export.progress import NO_PROGRESS, Progress

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; max-width: 820px;
       margin: 2em auto; padding: 0 1em; color: #1d1f23; background: #ffffff; line-height: 1.5; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
.meta { color: #6b7280; font-size: 0.9em; margin-bottom: 1.5em; }
.msg { border-radius: 10px; padding: 0.6em 1em; margin: 0.8em 0; }
.user { background: #dbe8fb; margin-left: 15%; }
.assistant { background: #f1f2f4; margin-right: 15%; }
.system { background: #fff7e0; }
.who { font-weight: bold; font-size: 0.85em; color: #4b5563; }
pre { background: #1f2430; color: #e6e6e6; padding: 0.7em; border-radius: 6px; overflow-x: auto; }
code { font-family: "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
.status { color: #b45309; font-size: 0.85em; }
"""


def _inline(escaped: str) -> str:
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    escaped = re.sub(r"(?<![*\w])\*([^*\n]+)\*(?!\w)", r"<em>\1</em>", escaped)
    return escaped


def markdown_to_html(text: str) -> str:
    """A safe Markdown subset: the text is escaped first, then tags are added around it."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(_inline(html.escape(p)) for p in paragraph) + "</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^\s*```\s*([\w+-]*)", line)
        if fence:
            flush()
            body = []
            i += 1
            while i < len(lines) and not re.match(r"^\s*```", lines[i]):
                body.append(lines[i])
                i += 1
            lang = html.escape(fence.group(1))
            out.append(f'<pre><code class="language-{lang}">' + html.escape("\n".join(body)) + "</code></pre>")
            i += 1
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        bullet = re.match(r"^\s*([-*+]|\d+[.)])\s+(.*)$", line)
        if heading:
            flush()
            level = min(6, len(heading.group(1)) + 2)
            out.append(f"<h{level}>{_inline(html.escape(heading.group(2)))}</h{level}>")
        elif bullet:
            flush()
            ordered = bullet.group(1)[0].isdigit()
            tag = "ol" if ordered else "ul"
            items = []
            while i < len(lines) and (m := re.match(r"^\s*([-*+]|\d+[.)])\s+(.*)$", lines[i])):
                items.append(f"<li>{_inline(html.escape(m.group(2)))}</li>")
                i += 1
            out.append(f"<{tag}>" + "".join(items) + f"</{tag}>")
            continue
        elif not line.strip():
            flush()
        else:
            paragraph.append(line)
        i += 1
    flush()
    return "\n".join(out)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%A %d %B %Y, %H:%M")


def render(export: ThreadExport, progress: Progress = NO_PROGRESS) -> str:
    t = export.thread
    title = html.escape(t.title or "New chat")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<div class="meta">Started {html.escape(_when(t.created_at))} · last message {html.escape(_when(t.updated_at))}</div>',
    ]
    if t.system_prompt:
        parts.append(f'<div class="msg system"><div class="who">System prompt</div>{markdown_to_html(t.system_prompt)}</div>')
    for n, m in enumerate(export.shown):
        progress.step(n, len(export.shown))
        who = "You" if m.role == Role.USER else (m.model or "Assistant")
        status = "" if m.status.value == "complete" else f' <span class="status">({html.escape(m.status.value)})</span>'
        body = html.escape(m.content).replace("\n", "<br>") if m.role == Role.USER else markdown_to_html(m.content)
        parts.append(
            f'<div class="msg {m.role.value}"><div class="who">{html.escape(who)} · '
            f"{html.escape(_when(m.created_at))}{status}</div>{body}</div>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
