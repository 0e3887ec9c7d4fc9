"""Control characters in exported text.

A message can hold ESC sequences (pasted from a terminal, written by a model):
`cat export.txt` would run them, and they are invalid in HTML. Exports show
each as its visible Unicode symbol (ESC as ␛) instead, so nothing is lost and
nothing is executed. Tabs and line ends are kept; a lone carriage return (which
lets text overwrite the line in a terminal) is shown too.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def _symbol(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls have no symbols


def visible_controls(text: str) -> str:
    return _CONTROL.sub(_symbol, text).replace("\r\n", "\n") if text else text
