"""Retry policy for the moment before the first byte: 429, 503 and connection errors only.

Once any part of an answer has been shown, nothing is retried (that would duplicate text).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TypeVar

from agent_magics.core import defaults

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryWait:
    """A retry about to wait: why (``429``, ``could not connect``...), which one, and how long."""

    reason: str
    attempt: int  # 1-based retry number
    retries: int  # retries allowed in all
    seconds: float


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = defaults.MAX_RETRIES
    backoff: float = 0.5  # first wait; doubles each time
    max_wait: float = defaults.RETRY_MAX_WAIT  # cap for one wait, including a server's Retry-After
    # Told of every wait before it starts (the live view shows it); None: nobody is listening.
    on_wait: Callable[[RetryWait], None] | None = field(default=None, compare=False)
    # What to do about a status no retry fixed, for the user of this caller (each magic its own).
    hints: Mapping[int, str] = field(default_factory=dict, compare=False)

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


T = TypeVar("T")


@dataclass(frozen=True)
class Failure:
    """A failure that no retry fixes, or one with no retry left: its one-line message for the user."""

    message: str


@dataclass(frozen=True)
class Retry:
    """A failure worth another attempt: what to report if none is left, and the server's headers."""

    message: str
    headers: Mapping[str, str] | None = None
    reason: str = ""  # short: "429", "could not connect"


def retrying(send: Callable[[int], T | Retry | Failure], policy: RetryPolicy, deadline: float | None) -> T | Failure:
    """Call ``send(attempt)`` until it succeeds, fails for good or runs out of retries.

    The one retry loop of every transport: ``send`` returns its result, a :class:`Retry` or a
    :class:`Failure`. Retries wait as ``policy`` says (honouring Retry-After) and never past ``deadline``.
    """
    attempt = 0
    while True:
        attempt += 1
        outcome = send(attempt)
        if not isinstance(outcome, Retry):
            return outcome
        if attempt > policy.max_retries:
            return Failure(outcome.message)
        wait = policy.wait_for(attempt, outcome.headers)
        if deadline is not None and time.monotonic() + wait >= deadline:
            return Failure(outcome.message)
        if policy.on_wait is not None:
            policy.on_wait(RetryWait(outcome.reason or "failure", attempt, policy.max_retries, wait))
        time.sleep(wait)
