"""When a live view should send an update: a time-based rate cap plus a byte budget.

Checked on every event, with no timer thread: the first content goes out at once, then at most
``max_rate`` updates a second. Within that cap an update is sent when it is cheap relative to what
it shows (``new_chars * byte_ratio >= cost``, cost being the bytes the update would resend), or
when the display has been stale for ``1 / min_rate`` seconds (longer for a costly update, so that
a view that must resend everything stays under ``bandwidth`` bytes a second). A fast model then
gets ~``max_rate`` updates a second, a slow one fewer, and the bytes sent stay near the answer's size.
"""

from __future__ import annotations


class Coalescer:
    def __init__(
        self,
        max_rate: float = 15.0,
        *,
        min_rate: float = 4.0,
        byte_ratio: float = 1.0,
        bandwidth: float = 256_000.0,
    ) -> None:
        if max_rate <= 0:
            raise ValueError("max_rate must be positive")
        self.min_gap = 1.0 / max_rate
        self.max_gap = max(self.min_gap, 1.0 / min_rate) if min_rate > 0 else float("inf")
        self.byte_ratio = byte_ratio
        self.bandwidth = bandwidth
        self.last: float | None = None  # when the last update was sent
        self.updates = 0

    def due(self, now: float, new_chars: int, cost: float) -> bool:
        """Should an update showing ``new_chars`` more characters, costing ``cost`` bytes, go now?"""
        if self.last is None:
            return True
        gap = now - self.last
        if gap < self.min_gap:
            return False
        if new_chars * self.byte_ratio >= cost:
            return True
        return gap >= max(self.max_gap, cost / self.bandwidth)

    def mark(self, now: float) -> None:
        self.last = now
        self.updates += 1
