"""Streaming pace: how long before the first token, then how many tokens per second."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Pace:
    """``tokens_per_second <= 0`` means as fast as possible."""

    first_token_delay: float = 0.05
    tokens_per_second: float = 80.0

    def paced(self, items: Iterable[T]) -> Iterator[T]:
        """Yield ``items`` on a fixed schedule (absolute, so sleeps do not drift)."""
        start = time.monotonic() + max(self.first_token_delay, 0.0)
        interval = 1.0 / self.tokens_per_second if self.tokens_per_second > 0 else 0.0
        for index, item in enumerate(items):
            delay = start + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            yield item
