"""A stream's agent thread stays at most MAX_AHEAD items ahead of a reader that stopped reading."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from agent_magics.local.threads import MAX_AHEAD, iterate_in_thread


def test_a_reader_that_stops_reading_holds_the_agent_back() -> None:
    produced = 0

    def agent() -> Iterator[int]:
        nonlocal produced
        for i in range(1_000_000):  # a fast agent: nothing else would stop it
            produced += 1
            yield i

    seen: list[int] = []

    async def slow_reader() -> None:
        stream = iterate_in_thread(agent)
        async for item in stream:
            seen.append(item)
            if len(seen) == 10:
                await asyncio.sleep(1.0)  # the client stopped reading (its socket's buffer is full)
                ahead = produced - len(seen)
                assert ahead <= MAX_AHEAD + 1, ahead
                break
        await stream.aclose()

    # Its own loop in a thread of its own (another test may leave one running on the main thread).
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run(slow_reader(), errors), daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and not errors, errors
    time.sleep(0.3)
    stopped_at = produced
    time.sleep(0.3)
    assert produced == stopped_at < 1_000_000  # and stops once the reader is gone


def test_a_reader_stalled_for_too_long_lets_the_agent_go(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The agent's worker is not held for ever by a client that keeps its socket open and reads nothing."""
    import agent_magics.local.threads as threads

    monkeypatch.setattr(threads, "STALLED_READER", 0.3)
    closed = threading.Event()

    def agent() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed.set()  # its spans end, its worker is free

    async def stalled_reader() -> None:
        stream = threads.iterate_in_thread(agent)
        await stream.__anext__()
        await asyncio.sleep(1.5)  # reads nothing more, and does not go away
        assert closed.is_set()
        with pytest.raises(TimeoutError, match="the client read nothing"):  # not an answer that looks whole
            while True:
                await stream.__anext__()

    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _run(stalled_reader(), errors), daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive() and not errors, errors


def _run(coroutine, errors: list[BaseException]) -> None:  # type: ignore[no-untyped-def]
    try:
        asyncio.run(coroutine)
    except BaseException as exc:
        errors.append(exc)
