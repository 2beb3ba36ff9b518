"""The smallest change that turns one HTML string into the next, for the stream view's tail.

A block being written is re-rendered on every update, but its HTML mostly grows at the end: the
new text goes in before the closing tags. So an update is sent as ``(drop, add)``: remove
``drop`` characters from the end of what the frontend shows, then append ``add``. ``drop`` counts
UTF-16 code units, as JavaScript strings do (an emoji is one character here and two there).

The cut is moved back out of a tag or a character reference, so that ``add`` never starts inside
one: what a patch carries is then whole markup, and its visible text is easy to count.
"""

from __future__ import annotations


def common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (by bisection: slices compare in C, not per character)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    low, high = 0, n  # a[:low] == b[:low] and a[:high] != b[:high]
    while high - low > 1:
        middle = (low + high) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle
    return low


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _outside_markup(html: str, cut: int) -> int:
    """``cut`` moved back, if needed, so that ``html[:cut]`` ends outside any tag or ``&...;``."""
    head = html[:cut]
    tag = head.rfind("<")
    if tag > head.rfind(">"):
        cut = tag
        head = html[:cut]
    reference = head.rfind("&")
    if reference > head.rfind(";"):
        cut = reference
    return cut


def diff(old: str, new: str) -> tuple[int, str]:
    """``(drop, add)`` such that ``old`` without its last ``drop`` UTF-16 units, plus ``add``, is ``new``."""
    cut = _outside_markup(new, common_prefix(old, new))
    return utf16_length(old[cut:]), new[cut:]


def apply(shown: str, drop: int, add: str) -> str:
    """What the frontend does with a patch (for tests: the same arithmetic on UTF-16 units)."""
    units = shown.encode("utf-16-le")
    return (units[: len(units) - 2 * drop]).decode("utf-16-le") + add
