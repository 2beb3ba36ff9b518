"""When a live view should send an update: a rate cap, a byte budget, and a staleness bound.

Checked on every event, with no timer thread. The first content goes out at once; then never more
than ``max_rate`` updates a second. Updates are paid from a **credit** of bytes: each new answer
character earns ``byte_ratio`` bytes, the view starts with ``allowance`` bytes (so short answers
and the start of long ones refresh freely), and every message the view sends is charged in full:
its ~650-byte Jupyter envelope, what it re-sends (the answer's unfinished tail) and the answer text
it shows for the first time. An update goes when it is affordable and the view has shown the same
thing for ``1 / min_rate`` seconds, or when it pays for itself (a fast model: a lot of new text per
update), or when the view has been stale for ``max_stale`` seconds, affordable or not.

So what a long answer costs on the wire stays near ``byte_ratio`` times its size, whatever its
speed: a fast model gets ~``max_rate`` updates a second, a 200-token/s one one or two, and a slow
one one a second (``max_stale``), which is more than the budget relative to its size but ~1 KB/s.
"""

from __future__ import annotations


class Coalescer:
    def __init__(
        self,
        max_rate: float = 15.0,
        *,
        min_rate: float = 4.0,
        byte_ratio: float = 2.3,
        allowance: float = 16_000.0,
        max_stale: float = 1.0,
    ) -> None:
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.min_gap = 1.0 / max_rate
        self.soft_gap = max(self.min_gap, 1.0 / min_rate) if min_rate > 0 else self.min_gap
        self.max_stale = max(self.soft_gap, max_stale)
        self.byte_ratio = byte_ratio
        self.allowance = allowance
        self.credit = allowance  # bytes that updates may still spend
        self.last: float | None = None  # when the last update was sent
        self.updates = 0

    def due(self, now: float, new_chars: int, cost: float) -> bool:
        """Should an update showing ``new_chars`` more characters, costing ``cost`` bytes, go now?"""
        if self.last is None:
            return True
        gap = now - self.last
        if gap < self.min_gap:
            return False
        earned = new_chars * self.byte_ratio
        if earned >= cost:
            return True
        if gap >= self.soft_gap and self.credit + earned >= cost:
            return True
        return gap >= self.max_stale

    def mark(self, now: float, new_chars: int = 0, cost: float = 0.0) -> None:
        """An update went out: it showed ``new_chars`` more characters and sent ``cost`` bytes."""
        self.credit = min(self.credit + new_chars * self.byte_ratio - cost, self.allowance)
        self.last = now
        self.updates += 1
