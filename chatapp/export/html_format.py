"""One self-contained HTML file: inline CSS, no scripts, no external resources.

Messages are rendered with the Markdown the transcript shows (CommonMark with
GitHub's tables and strikethrough, as Qt's own Markdown reader does): tables,
links, quotes, lists and code blocks come out as such, not as raw `| … |` or
`[text](url)`. The renderer never passes HTML through: raw HTML in a message
is escaped, images become their description (nothing is loaded), and only
http(s) and mailto links become links. The user's own messages are Markdown
too, made to show what was typed (line breaks kept, HTML and in-word asterisks
literal: chatapp.typed_markdown), as in the transcript; a reply keeps its single
line breaks (a poem's lines) there and here alike. The PDF export draws
this same HTML with Qt.
"""

from __future__ import annotations

import html
import re
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from chatapp.domain import Message, Role, speaker
from chatapp.export.clean import visible_controls
from chatapp.export.model import ThreadExport
from chatapp.export.progress import NO_PROGRESS, Progress
from chatapp.timestamps import format_local
from chatapp.typed_markdown import reply_markdown, typed_markdown

# Above this a message is shown as preformatted text: parsing 50 MB of Markdown takes
# minutes and gigabytes; the text is still all there.
MARKDOWN_LIMIT = 1_000_000

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; max-width: 820px;
       margin: 2em auto; padding: 0 1em; color: #1d1f23; background: #ffffff; line-height: 1.5; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
.meta { color: #6b7280; font-size: 0.9em; margin-bottom: 1.5em; }
.msg { border-radius: 10px; padding: 0.6em 1em; margin: 0.8em 0; }
.user { background-color: #dbe8fb; margin-left: 15%; }
.assistant { background-color: #f1f2f4; margin-right: 15%; }
.system { background-color: #fff7e0; }
.who { font-weight: bold; font-size: 0.85em; color: #4b5563; margin: 0 0 0.4em 0; }
.plain { white-space: pre-wrap; }
pre { background-color: #1f2430; color: #e6e6e6; padding: 0.7em; border-radius: 6px;
      overflow-x: auto; white-space: pre-wrap; }
code { font-family: "JetBrains Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace;
       font-size: 0.92em; }
p code { background-color: #e5e7eb; color: #1d1f23; }
blockquote { color: #4b5563; border-left: 3px solid #9ca3af; margin: 0.5em 0 0.5em 1.2em;
             padding-left: 0.8em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #9ca3af; padding: 0.25em 0.6em; }
th { background-color: #e5e7eb; }
.status { color: #b45309; font-size: 0.85em; }
.image { color: #6b7280; font-style: italic; }
"""

_SAFE_LINK = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.validateLink = lambda url: bool(_SAFE_LINK.match(url.strip()))
    rules: Any = md.renderer.rules

    def image(tokens: Any, idx: int, _options: Any, _env: Any) -> str:
        token = tokens[idx]
        alt = "".join(child.content for child in token.children or [])
        src = token.attrGet("src") or ""
        return f'<span class="image">[image: {html.escape(alt or src)}]</span>'

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer")
        return renderer.renderToken(tokens, idx, options, env)

    def fence(tokens: Any, idx: int, _options: Any, _env: Any) -> str:
        token = tokens[idx]
        lang = token.info.strip().split(" ")[0] if token.info else ""
        lang = lang if re.fullmatch(r"[\w+#.-]{1,30}", lang) else ""
        attr = f' class="language-{lang}"' if lang else ""
        code = token.content.removesuffix("\n")
        return f"<pre><code{attr}>{html.escape(code)}</code></pre>\n"

    def table_open(_tokens: Any, _idx: int, _options: Any, _env: Any) -> str:
        return '<table border="1" cellspacing="0" cellpadding="4">\n'  # Qt reads the attributes

    md.core.ruler.push("bare_links", _bare_links)
    rules["image"] = image
    md.add_render_rule("link_open", link_open)
    rules["fence"] = fence
    rules["code_block"] = fence
    rules["table_open"] = table_open
    return md


_BARE_URL = re.compile(r"(?:https?://|www\.)[^\s<>]*[^\s<>.,:;!?'\")\]]", re.IGNORECASE)


def _bare_links(state: Any) -> None:
    """A bare URL becomes a link, as Qt's GitHub-flavoured reader makes it in the transcript
    (markdown-it's own linkify needs another package)."""
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        out: list[Token] = []
        depth = 0  # inside an explicit link
        for token in block.children:
            depth += 1 if token.type == "link_open" else -1 if token.type == "link_close" else 0
            if token.type != "text" or depth or not _BARE_URL.search(token.content):
                out.append(token)
                continue
            at = 0
            for match in _BARE_URL.finditer(token.content):
                url = match.group()
                href = url if "://" in url else "http://" + url
                out.append(_text(token.content[at : match.start()]))
                link = Token("link_open", "a", 1)
                link.attrs = {"href": href}
                out += [link, _text(url), Token("link_close", "a", -1)]
                at = match.end()
            out.append(_text(token.content[at:]))
        block.children = [t for t in out if t.type != "text" or t.content]


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


_MD = _markdown()


def markdown_to_html(text: str) -> str:
    """A message's Markdown as safe HTML (no raw HTML, no loads, only http(s)/mailto links)."""
    text = visible_controls(text)
    if len(text) > MARKDOWN_LIMIT:
        return plain_to_html(text, code=True)
    return _MD.render(text)


def plain_to_html(text: str, *, code: bool = False) -> str:
    """Text shown as typed (the user's messages, as the transcript shows them)."""
    escaped = html.escape(visible_controls(text))
    if code:
        return f"<pre><code>{escaped}</code></pre>"
    return f'<p class="plain">{escaped}</p>'  # white-space: pre-wrap keeps its lines


def _when(ts: float) -> str:
    return format_local(ts, "%A %d %B %Y, %H:%M")


def who(m: Message) -> str:
    return speaker(m.role, m.model)


_PRINT_FILL = {Role.USER: "#dbe8fb", Role.ASSISTANT: "#f1f2f4", Role.SYSTEM: "#fff7e0"}


def message_html(m: Message, content: str | None = None, *, for_print: bool = False) -> str:
    """One message: its header on a line of its own, then its body. For print (Qt draws the
    PDF, and fills each block of a div apart) the bubble is a one-cell table."""
    content = m.content if content is None else content
    status = (
        ""
        if m.status.value == "complete"
        else f' <span class="status">({html.escape(m.status.value)})</span>'
    )
    if m.role == Role.USER and len(content) <= MARKDOWN_LIMIT:
        content = typed_markdown(content)
    elif len(content) <= MARKDOWN_LIMIT:
        content = reply_markdown(content)  # its single line breaks kept, as in the window
    body = markdown_to_html(content)
    header = f"{html.escape(visible_controls(who(m)))} · {html.escape(_when(m.created_at))}"
    return _bubble(m.role, f'<p class="who">{header}{status}</p>\n{body}', for_print)


def _bubble(role: Role, inner: str, for_print: bool) -> str:
    if for_print:
        return (
            '<table width="100%" cellspacing="0" cellpadding="8" style="margin-top: 8px">'
            f'<tr><td bgcolor="{_PRINT_FILL[role]}">{inner}</td></tr></table>'
        )
    return f'<div class="msg {role.value}">{inner}</div>'


def render(
    export: ThreadExport,
    progress: Progress = NO_PROGRESS,
    *,
    contents: list[str] | None = None,
    for_print: bool = False,
) -> str:
    """The page; `contents` replaces the messages' text (the PDF cuts giant messages)."""
    t = export.thread
    title = html.escape(visible_controls(t.title or "New chat"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{CSS}</style></head><body>",
        f"<h1>{title}</h1>",
        (
            f'<p class="meta">Started {html.escape(_when(t.created_at))} · last message '
            f"{html.escape(_when(t.updated_at))}</p>"
        ),
    ]
    if t.system_prompt:
        inner = f'<p class="who">System prompt</p>\n{markdown_to_html(t.system_prompt)}'
        parts.append(_bubble(Role.SYSTEM, inner, for_print))
    for n, m in enumerate(export.shown):
        progress.step(n, len(export.shown))
        text = contents[n] if contents is not None else None
        parts.append(message_html(m, text, for_print=for_print))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
