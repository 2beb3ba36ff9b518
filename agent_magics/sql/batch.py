"""The concurrency of ai_query: one bounded thread pool per statement, shared by every call site.

DuckDB hands the ai_query UDF a whole vector of rows (up to 2,048) at a time, possibly from several of
its threads at once. Every row becomes one task in the statement's pool, so the number of requests in
flight never exceeds ``concurrency`` whatever DuckDB does, and each vector's answers come back in the
vector's order. The counters feed the progress display; ``cancel()`` (interrupt, timeout, or the first
failure under ``failOnError => true``) drops the queued rows at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from agent_magics.core.text import shorten
from agent_magics.sql.execute import MAX_CONCURRENCY
from agent_magics.sql.semantics import Answer
from agent_magics.sql.transpile import AiCall
from agent_magics.sql.workers import DaemonPool

AnswerFn = Callable[[AiCall, str], Answer]
_POLL = 0.05  # seconds between checks for cancellation while a vector is in flight


class BatchCancelled(Exception):
    """Raised inside the UDF when the statement was cancelled; the engine reports why."""


@dataclass(frozen=True)
class RowRecord:
    """A finished request: which call site, its row number there, what was asked and answered."""

    call: int
    row: int
    request: str  # the request as JSON text (as the UDF received it)
    answer: Answer
    seconds: float


@dataclass(frozen=True)
class Snapshot:
    submitted: int
    done: int
    failed: int
    elapsed: float
    tokens: int = 0  # total tokens the endpoints reported so far (0: none reported)


class Batch:
    def __init__(self, answer: AnswerFn, concurrency: int = 8) -> None:
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
        self._answer = answer
        self._pool = DaemonPool(concurrency)
        self._lock = threading.Lock()
        self._rows_seen: dict[int, int] = {}
        self._started = time.monotonic()
        self.submitted = 0
        self.done = 0
        self.failed = 0
        self.tokens = 0
        self.records: list[RowRecord] = []  # in completion order
        self.failure: str | None = None  # the first fatal row failure (failOnError => true)
        self.cancel_reason: str | None = None
        self.cancelled = threading.Event()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(self.submitted, self.done, self.failed, time.monotonic() - self._started, self.tokens)

    def cancel(self, reason: str) -> None:
        with self._lock:
            self.cancel_reason = self.cancel_reason or reason
        self.cancelled.set()

    def close(self) -> None:
        """Drop queued rows; rows already on the wire finish in the background and are ignored."""
        self._pool.shutdown()

    def run_rows(self, call: AiCall, requests: list[str | None]) -> list[Answer | None]:
        """Answers for one vector of requests (None for a NULL request), in the vector's order."""
        if self.cancelled.is_set():
            raise BatchCancelled(self.cancel_reason or "cancelled")
        with self._lock:
            first_row = self._rows_seen.get(call.index, 0)
            self._rows_seen[call.index] = first_row + len(requests)
            self.submitted += sum(r is not None for r in requests)
        # Completions arrive on a queue (O(1) each): concurrent.futures.wait() over a whole vector
        # would re-register a waiter on every pending future after each completion (O(n^2)).
        finished: queue.SimpleQueue[tuple[int, Future[Answer]]] = queue.SimpleQueue()
        futures: list[Future[Answer]] = []
        for offset, request in enumerate(requests):
            if request is None:
                continue
            future = self._pool.submit(self._one, call, first_row + offset, request)
            future.add_done_callback(lambda done, offset=offset: finished.put((offset, done)))  # type: ignore[misc]
            futures.append(future)
        answers: list[Answer | None] = [None] * len(requests)
        remaining = len(futures)
        try:
            while remaining:
                try:
                    offset, future = finished.get(timeout=_POLL)
                except queue.Empty:
                    offset, future = -1, None  # type: ignore[assignment]
                if future is not None:
                    remaining -= 1
                    if future.cancelled():
                        raise BatchCancelled(self.cancel_reason or "cancelled")
                    answer = answers[offset] = future.result()
                    if call.fail_on_error and answer.error is not None:
                        self._fail(call, first_row + offset, requests[offset] or "", answer.error)
                if self.cancelled.is_set():
                    raise BatchCancelled(self.cancel_reason or "cancelled")
        finally:
            for future in futures:
                future.cancel()  # a no-op for finished ones; queued ones are dropped
        return answers

    def _one(self, call: AiCall, row: int, request: str) -> Answer:
        if self.cancelled.is_set():
            return Answer(error="cancelled")
        started = time.monotonic()
        try:
            answer = self._answer(call, request)
        except Exception as exc:  # a bug in a row must not take the statement's bookkeeping with it
            answer = Answer(error=f"{call.endpoint}: unexpected {type(exc).__name__}: {exc}")
        record = RowRecord(call.index, row, request, answer, time.monotonic() - started)
        with self._lock:
            self.done += 1
            self.failed += answer.error is not None
            self.tokens += (answer.usage or {}).get("total_tokens", 0)
            self.records.append(record)
        return answer

    def _fail(self, call: AiCall, row: int, request: str, error: str) -> None:
        message = (
            f"ai_query({call.endpoint!r}) failed on row {row} (request {shorten(request)}): {error} "
            "Add failOnError => false to get an errorMessage per row instead."
        )
        with self._lock:
            self.failure = self.failure or message
        self.cancel(message)
        raise BatchCancelled(message)
