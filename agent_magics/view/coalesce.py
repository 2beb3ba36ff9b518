"""When a live view should send an update: smooth at every speed, without re-sending much.

Checked on every event, with no timer thread. The first content goes out at once; then never more
than ``max_rate`` updates a second, and an update is sent as soon as the view has shown the same
thing for ``1 / min_rate`` seconds (5 a second by default: a new line every ~0.2 s, whatever the
token rate). In between, an update goes early only when it is cheap: when what it would re-send
(the unfinished block already on screen) is paid for by ``resend_ratio`` × the new characters it
shows, from a small credit (``allowance``), as at the start of a block or with a fast model.

Why time and not bytes: a Jupyter message costs ~0.65 KB of envelope whatever it carries, so a slow
stream at 5 updates a second costs a few KB/s, which is nothing, while a byte budget made slow
streams jump two or three lines at a time. What stays bounded is the re-sent text: the views send
each finished block once and re-send only the block being written (see ``blocks.py``).
"""

from __future__ import annotations


class Coalescer:
    def __init__(
        self,
        max_rate: float = 15.0,
        *,
        min_rate: float = 5.0,
        resend_ratio: float = 0.0,
        allowance: float = 1000.0,
    ) -> None:
        """``min_rate``: updates a second while text arrives (0: only the ``max_rate`` cap, which
        then sends whenever the gap allows: the text view and progress notes use that)."""
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.min_gap = 1.0 / max_rate
        self.period = max(self.min_gap, 1.0 / min_rate) if min_rate > 0 else self.min_gap
        self.resend_ratio = resend_ratio
        self.allowance = allowance
        self.credit = allowance  # characters early updates may still re-send
        self.last: float | None = None  # when the last update was sent
        self.updates = 0
        self.resent = 0  # characters re-sent by all updates (what was on screen already)

    def due(self, now: float, new_chars: int, resend: float = 0.0) -> bool:
        """Should an update showing ``new_chars`` more characters, re-sending ``resend``, go now?"""
        if self.last is None:
            return True
        gap = now - self.last
        if gap < self.min_gap:
            return False
        if gap >= self.period:
            return True
        return self.credit + new_chars * self.resend_ratio >= resend

    def mark(self, now: float, new_chars: int = 0, resend: float = 0.0) -> None:
        """An update went out: it showed ``new_chars`` more characters and re-sent ``resend``."""
        self.credit = min(self.credit + new_chars * self.resend_ratio - resend, self.allowance)
        self.last = now
        self.updates += 1
        self.resent += int(resend)
