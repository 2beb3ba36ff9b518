"""The line rules both markdown cutters share: code fences and link reference definitions.

``blocks.MarkdownBlocks`` cuts a live answer (its cuts may be inexact, the final render fixes them);
``sanitize._pieces`` cuts the final render into pieces that must render exactly as the whole. They
stay two scanners, but read fences and link definitions the same way, CommonMark's way.
"""

from __future__ import annotations

import re

# An opening fence: up to 3 spaces, then 3+ backticks or tildes, then the info string.
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")

Fence = tuple[str, int]  # the fence character and how many of it opened the block


def fence_opener(line: str) -> Fence | None:
    """The fence ``line`` opens, or None (a backtick fence's info string may not hold a backtick)."""
    match = FENCE.match(line)
    if match is None or (match.group(1)[0] == "`" and "`" in match.group(2)):
        return None
    return match.group(1)[0], len(match.group(1))


def closes_fence(line: str, fence: Fence) -> bool:
    """Does ``line`` close ``fence``: up to 3 spaces, at least as many of its character, nothing else."""
    body = line.rstrip(" \t\r")
    stripped = body.lstrip(" ")
    if len(body) - len(stripped) > 3:
        return False
    char, length = fence
    return len(stripped) >= length and stripped == char * len(stripped)


def may_define_links(text: str) -> bool:
    """Could ``text`` hold a link reference definition (``[label]: url``)? They apply to the whole
    document, so text holding one cannot be rendered in pieces. Errs on the side of yes (a ``]:``
    anywhere, blockquotes and list items included)."""
    return "]:" in text
