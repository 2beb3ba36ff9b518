"""Retry policy for the moment before the first byte: 429, 503 and connection errors only.

Once any part of an answer has been shown, nothing is retried (that would duplicate text).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff: float = 0.5  # first wait; doubles each time
    max_wait: float = 20.0  # cap for one wait, including a server's Retry-After

    def wait_for(self, attempt: int, headers: Mapping[str, str] | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        asked = retry_after_seconds(headers)
        computed = self.backoff * (2 ** (attempt - 1))
        return min(self.max_wait, asked if asked is not None else computed)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("retry-after") or headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def sleep_until(seconds: float, deadline: float | None, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Sleep unless it would pass the deadline; False means "no time left to retry"."""
    if deadline is not None and time.monotonic() + seconds >= deadline:
        return False
    sleep(seconds)
    return True
