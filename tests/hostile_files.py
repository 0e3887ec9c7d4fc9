"""Hostile import files for property-based tests: chatapp JSON and ChatGPT conversations.json
built valid and then damaged (wrong types, missing keys, extreme numbers, NaN and infinities,
loops, deep nesting, lone surrogates, control characters). Shared by the import fuzzer and
the test that opens the window on what it imports."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

from chatapp.timestamps import MAX_TIME, MIN_TIME

DEEP = "\u2063DEEP\u2063"  # replaced by 10,000 nested brackets in the file's text
_SURROGATE = re.compile("[\ud800-\udfff]")

odd_text = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(
            ["\x1b[31m", "\x00", "\r", "\u202e", "\ud800", "\udfff", "🙂", "\u0301", "<script>"]
        ),
    ),
    max_size=12,
).map("".join)
good_time = st.floats(min_value=MIN_TIME, max_value=MAX_TIME, allow_nan=False)
not_text = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([1e20, -1e12, float("nan"), float("inf"), -float("inf"), 0, -1, 2**63]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
hostile = st.one_of(not_text, odd_text, st.just("yesterday"))
not_a_role = st.one_of(not_text, st.just("robot"))


def clean(text: str) -> str:
    """The text as imported: read from JSON (where \\ud800\\udfff is one character), with lone
    surrogates replaced."""
    return _SURROGATE.sub("\ufffd", json.loads(json.dumps(text)))


# -- chatapp's format ---------------------------------------------------------------


@st.composite
def chatapp_files(draw: Any) -> dict[str, Any]:
    threads = []
    for _ in range(draw(st.integers(0, 2))):
        messages = []
        for i in range(draw(st.integers(0, 4))):
            parent = draw(st.one_of(st.none(), st.integers(1, i))) if i else None
            messages.append(
                {
                    "id": i + 1,
                    "parent": parent,
                    "role": draw(st.sampled_from(["user", "assistant", "system"])),
                    "content": draw(odd_text),
                    "created_at": draw(good_time),
                    "status": draw(st.sampled_from(["complete", "stopped", "error", "streaming"])),
                }
            )
        thread = {
            "title": draw(odd_text),
            "system_prompt": draw(odd_text),
            "created_at": draw(good_time),
            "updated_at": draw(good_time),
            "messages": messages,
            "summaries": [
                {
                    "level": 0,
                    "first_depth": 0,
                    "last_depth": 1,
                    "messages": [1],
                    "text": draw(odd_text),
                    "created_at": draw(good_time),
                }
            ]
            if messages
            else [],
            "slots": [
                {
                    "text": draw(odd_text),
                    "created_at": draw(good_time),
                    "updated_at": draw(good_time),
                    "key": draw(st.one_of(st.none(), st.text(max_size=8))),
                }
            ],
        }
        threads.append(thread)
    doc: dict[str, Any] = {"format": "chatapp-export", "version": 1, "threads": threads}
    for _ in range(draw(st.integers(0, 2))):
        _damage(doc, draw)
    return doc


def _damage(doc: Any, draw: Any) -> None:
    """Replace or delete one value somewhere below the top level."""
    places: list[tuple[Any, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key in value:
                if key != "format":
                    places.append((value, key))
                    walk(value[key])
        elif isinstance(value, list):
            for i, item in enumerate(value):
                places.append((value, i))
                walk(item)

    walk(doc)
    if not places:
        return
    container, key = draw(st.sampled_from(places))
    if isinstance(container, dict) and draw(st.booleans()):
        del container[key]
    else:
        container[key] = DEEP if draw(st.integers(0, 9)) == 0 else draw(hostile)


# -- ChatGPT's format ---------------------------------------------------------------


@st.composite
def chatgpt_files(draw: Any) -> tuple[list[Any], list[list[str] | None]]:
    """The file, and per conversation the texts that must be imported (None: must be skipped)."""
    conversations: list[Any] = []
    expected: list[list[str] | None] = []
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 6))
        ids = [f"n{i}" for i in range(n)]
        loops = draw(st.booleans()) and draw(st.booleans())
        mapping: dict[str, Any] = {}
        texts: list[str] = []
        parents: dict[str, Any] = {}
        for i, node_id in enumerate(ids):
            if loops:
                parent: Any = draw(st.sampled_from(ids))
            else:
                parent = draw(
                    st.one_of(
                        st.none(),
                        st.sampled_from(ids[:i]) if i else st.none(),
                        st.sampled_from([[1], 5, "missing-node"]),
                    )
                )
            parents[node_id] = parent
            if draw(st.integers(0, 9)) == 0:
                mapping[node_id] = None  # a null entry: its children must still come in
                continue
            message, text = draw(chatgpt_message())
            if text is not None:
                texts.append(text)
            mapping[node_id] = {
                "parent": parent,
                "children": draw(st.one_of(st.just([]), hostile)),
                "message": message,
            }
        conv = {
            "title": draw(st.one_of(odd_text, hostile)),
            "mapping": mapping,
            "create_time": draw(st.one_of(good_time, hostile)),
            "update_time": draw(st.one_of(good_time, hostile)),
            "current_node": draw(st.one_of(st.sampled_from(ids), hostile)),
        }
        if draw(st.integers(0, 19)) == 0:
            conv["moderation_results"] = DEEP  # a key the importer does not read, nested too deep
        conversations.append(conv)
        expected.append(None if _has_loop(parents, mapping) else texts)
    return conversations, expected


def _has_loop(parents: dict[str, Any], mapping: dict[str, Any]) -> bool:
    """Independent of the importer: follow parents len(mapping) + 1 steps."""
    for start in mapping:
        node: Any = start
        for _ in range(len(mapping) + 1):
            entry = mapping.get(node) if isinstance(node, str) else None
            node = entry.get("parent") if isinstance(entry, dict) else None
            if not (isinstance(node, str) and node in mapping):
                break
        else:
            return True
    return False


@st.composite
def chatgpt_message(draw: Any) -> tuple[Any, str | None]:
    """A message in one of the shapes ChatGPT writes (or junk), and the text it must import as."""
    shape = draw(st.sampled_from(["parts", "string", "code", "junk", "none"]))
    role = draw(st.sampled_from(["user", "assistant", "system", "tool"]))
    body = draw(odd_text)
    if shape == "none":
        return None, None
    content: Any
    if shape == "parts":
        content, text = {"content_type": "text", "parts": [body]}, body.strip()
    elif shape == "string":
        content, text = body, body.strip()
    elif shape == "code":
        content, text = {"content_type": "code", "language": "python", "text": body}, body.strip()
        text = f"```python\n{text}\n```" if text else ""
    else:
        content, text = draw(not_text), ""
    author: Any = {"role": role} if draw(st.booleans()) else role
    if draw(st.integers(0, 5)) == 0:
        author, text = draw(not_a_role), ""  # no usable author: left out (and counted)
    message = {
        "author": author,
        "content": content,
        "create_time": draw(st.one_of(good_time, hostile)),
        "metadata": draw(st.one_of(st.just({"model_slug": "gpt-4o"}), hostile)),
    }
    keep = role in ("user", "assistant") and bool(text)
    return message, clean(text) if keep else None


def dump(data: Any) -> str:
    text = json.dumps(data, allow_nan=True)  # ASCII: lone surrogates as \ud800 escapes
    return text.replace(json.dumps(DEEP), "[" * 10_000 + "]" * 10_000)
