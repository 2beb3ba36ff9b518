"""Small text helpers shared by every layer (no I/O)."""

from __future__ import annotations

ELLIPSIS = "…"


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def one_line(text: str, limit: int = 80) -> str:
    """``text`` with its whitespace runs collapsed to single spaces, then shortened."""
    return shorten(" ".join(text.split()), limit)
