"""Run agent code off the event loop.

Agent code is synchronous (``predict`` blocks, ``predict_stream`` is a plain generator that sleeps
between tokens). Each call runs in a worker thread, in a copy of the caller's context so MLflow's
prediction context and active span carry over; a whole stream runs in one thread so its spans nest.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# Streams hold a worker for their whole duration, so allow many (threads are created lazily).
_EXECUTOR = ThreadPoolExecutor(max_workers=512, thread_name_prefix="agent-worker")

_ITEM, _ERROR, _END = "item", "error", "end"
# Items a stream's thread may be ahead of its reader: a client that stops reading (the socket's
# buffer full) holds the agent back instead of a queue that grows to the whole answer.
MAX_AHEAD = 256
STALLED_READER = 300.0  # seconds a stream waits for a reader that stopped reading; then it is dropped


async def call_in_thread(fn: Callable[..., T], *args: Any) -> T:
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, functools.partial(context.run, fn, *args))


async def iterate_in_thread(make: Callable[[], Iterable[T]]) -> AsyncIterator[T]:
    """Iterate ``make()`` in one worker thread; stops (and closes it) when the consumer goes away."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()
    ahead = threading.Semaphore(MAX_AHEAD)

    def post(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def produce() -> None:
        iterator = iter(make())
        try:
            for item in iterator:
                waited = 0.0
                while not ahead.acquire(timeout=0.1):  # the reader is MAX_AHEAD items behind: wait
                    waited += 0.1
                    if stop.is_set():
                        break
                    if waited > STALLED_READER:  # a worker is not held for ever; the stream fails
                        raise TimeoutError(f"the client read nothing for {STALLED_READER:g} s")
                if stop.is_set():
                    break
                post(_ITEM, item)
        except BaseException as exc:  # handed to the consumer, re-raised there
            post(_ERROR, exc)
        else:
            post(_END, None)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # ends the agent's open spans when the consumer left early

    context = contextvars.copy_context()
    loop.run_in_executor(_EXECUTOR, context.run, produce)
    try:
        while True:
            kind, value = await queue.get()
            if kind == _ITEM:
                ahead.release()
            elif kind == _END:
                return
            if kind == _ERROR:
                raise value
            yield value
    finally:
        stop.set()
