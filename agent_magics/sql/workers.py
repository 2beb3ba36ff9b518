"""A fixed-size pool of daemon threads for ai_query requests.

Not ``concurrent.futures.ThreadPoolExecutor``: the interpreter joins its threads at exit, so a request
left running by an interrupt (an agent may think for minutes) would hold up a kernel restart or the end
of a script until its read timeout. Here an abandoned request finishes, or not, in a daemon thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
_STOP = None


class DaemonPool:
    def __init__(self, size: int, name: str = "ai_query") -> None:
        self._size = size
        self._name = name
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                future.cancel()
                return future
            if len(self._threads) < self._size:  # threads start lazily, up to the size
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        self._tasks.put((future, fn, args))
        return future

    def _work(self) -> None:
        while True:
            task = self._tasks.get()
            if task is _STOP:
                return
            future, fn, args = task
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while queued
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self) -> None:
        """Cancel queued tasks and let the threads end once their current task (if any) is done."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = len(self._threads)
        while True:
            try:
                task = self._tasks.get_nowait()
            except queue.Empty:
                break
            if task is not _STOP:
                task[0].cancel()
        for _ in range(threads):
            self._tasks.put(_STOP)
