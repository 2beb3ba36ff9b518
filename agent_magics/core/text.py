"""Small text helpers shared by every layer (no I/O)."""

from __future__ import annotations

import re
from typing import Any

ELLIPSIS = "…"

# What a terminal acts on rather than shows: C0 controls but tab and newline (ESC starts sequences
# that clear the screen or write the clipboard, CR overwrites a line), DEL, C1, and the bidi overrides
# that reorder what is shown.
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """Agent text made safe to print: the characters a terminal would act on are shown escaped
    (``\\x1b``); a carriage return is dropped (CRLF text ends its lines as LF does, and none can go
    back over a line)."""
    if not _TERMINAL_CONTROL.search(text):
        return text
    text = text.replace("\r", "")
    return _TERMINAL_CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def one_line(text: str, limit: int = 80) -> str:
    """``text`` with its whitespace runs collapsed to single spaces, then shortened."""
    return shorten(" ".join(text.split()), limit)


def content_text(content: Any, sep: str = "") -> str:
    """The text of a message ``content`` in the shapes the Responses and chat APIs use: a string, or a
    list of parts (``{"type": "output_text", "text": ...}``, ``{"type": "refusal", "refusal": ...}``)
    joined with ``sep``. Anything else is agent data, not text: "" (the caller still shows the item)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for part in content:
        if isinstance(part, dict):
            text = part.get("refusal") if part.get("type") == "refusal" else part.get("text")
            if isinstance(text, str):
                parts.append(text)
    return sep.join(parts)


def rough_duration(seconds: float) -> str:
    """A wait to come, as precise as a wait needs: 12 s, 3 min 20 s, 2 h 5 min (the batch
    progress's time left, ``--estimate``'s expected time). Clocks of calls that ran are formatted
    by the header (tenths) and the trace (milliseconds) instead."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
