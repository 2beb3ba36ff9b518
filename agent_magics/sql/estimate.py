"""``--estimate``: what the whole statement would cost, from a few requests actually sent.

The statement runs as written on the local engine, so the number of ai_query requests is exact (joins,
filters and several call sites included); only the first ``sample`` requests go to the endpoints. Every
other request answers NULL at once without leaving the process. From the sample: seconds per request
and tokens per request (the endpoints' ``usage``, when they report it); for the whole input:
``requests x seconds / concurrency`` and ``requests x tokens``, and a cost when a price is given.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from agent_magics.core.text import rough_duration
from agent_magics.sql.batch import AnswerFn
from agent_magics.sql.semantics import Answer
from agent_magics.sql.transpile import AiCall


@dataclass
class Sampler:
    """An AnswerFn that asks the first ``sample`` requests and counts the rest."""

    asker: AnswerFn
    sample: int
    requests: int = 0
    seconds: list[float] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)  # per sampled request that reported usage
    failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, call: AiCall, request: str) -> Answer:
        with self._lock:
            self.requests += 1
            ask = self.requests <= self.sample
        if not ask:
            return Answer(value=None)  # NULL: counted, never sent
        started = time.monotonic()
        answer = self.asker(call, request)
        with self._lock:
            self.seconds.append(time.monotonic() - started)
            self.failed += answer.error is not None
            total = (answer.usage or {}).get("total_tokens")
            if total is not None:
                self.tokens.append(total)
        return answer


@dataclass(frozen=True)
class Estimate:
    requests: int
    sampled: int
    sample_failed: int
    seconds_per_request: float | None
    tokens_per_request: float | None
    concurrency: int
    price_per_1k_tokens: float | None

    @property
    def tokens(self) -> int | None:
        return None if self.tokens_per_request is None else round(self.tokens_per_request * self.requests)

    @property
    def seconds(self) -> float | None:
        if self.seconds_per_request is None:
            return None
        waves = math.ceil(self.requests / self.concurrency)  # requests in flight at once, wave after wave
        return waves * self.seconds_per_request

    @property
    def cost(self) -> float | None:
        if self.price_per_1k_tokens is None or self.tokens is None:
            return None
        return self.tokens / 1000 * self.price_per_1k_tokens

    def line(self) -> str:
        tokens = f"~{self.tokens:,} tokens" if self.tokens is not None else "tokens unknown (no usage reported)"
        seconds = ""
        if self.seconds is not None:
            seconds = f"~{rough_duration(self.seconds)} at --concurrency {self.concurrency}"
        cost = f"~{self.cost:,.4f} at {self.price_per_1k_tokens:g} per 1k tokens" if self.cost is not None else ""
        failed = f" ({self.sample_failed} failed)" if self.sample_failed else ""
        parts = [f"{self.requests:,} ai_query requests", tokens, seconds, cost]
        return (
            "agent_sql --estimate: "
            + " · ".join(p for p in parts if p)
            + f" — from {self.sampled} sampled request{'s' if self.sampled != 1 else ''}{failed}"
        )

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            {
                "requests": [self.requests],
                "sampled": [self.sampled],
                "sample_failed": [self.sample_failed],
                "seconds_per_request": [self.seconds_per_request],
                "tokens_per_request": [self.tokens_per_request],
                "tokens": [self.tokens],
                "concurrency": [self.concurrency],
                "expected_seconds": [self.seconds],
                "price_per_1k_tokens": [self.price_per_1k_tokens],
                "cost": [self.cost],
            }
        )


def estimate(sampler: Sampler, concurrency: int, price_per_1k_tokens: float | None) -> Estimate:
    seconds = sum(sampler.seconds) / len(sampler.seconds) if sampler.seconds else None
    tokens = sum(sampler.tokens) / len(sampler.tokens) if sampler.tokens else None
    return Estimate(
        requests=sampler.requests,
        sampled=len(sampler.seconds),
        sample_failed=sampler.failed,
        seconds_per_request=seconds,
        tokens_per_request=tokens,
        concurrency=concurrency,
        price_per_1k_tokens=price_per_1k_tokens,
    )
