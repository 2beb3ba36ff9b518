"""The demo app is built by its first request: once, whoever asks meanwhile, and a failed build is
answered as a Databricks-style 500 (not a 503, which clients retry) rather than retried."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from agent_magics.local.apps import BuiltOnFirstRequest

T = TypeVar("T")


def run_on_a_fresh_loop(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run`` in a thread of its own: in the whole suite this process's main thread may
    already have a running loop (the browser tests keep Playwright's sync API open for the session,
    and it runs its loop there), and the server's loop is its own anyway."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result(timeout=60)


class CountingBuild:
    def __init__(self, seconds: float, fail: bool = False) -> None:
        self.seconds, self.fail, self.calls = seconds, fail, 0
        self.lock = threading.Lock()

    def __call__(self) -> Any:
        with self.lock:
            self.calls += 1
        time.sleep(self.seconds)
        if self.fail:
            raise ImportError("no module named 'nowhere'")

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"built"})

        return app


async def _request(app: BuiltOnFirstRequest) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "http", "method": "GET", "path": "/", "headers": []}, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


def test_requests_arriving_together_share_one_build() -> None:
    build = CountingBuild(0.2)
    app = BuiltOnFirstRequest("demo-app", build)

    async def main() -> list[tuple[int, bytes]]:
        return await asyncio.gather(*(_request(app) for _ in range(5)))

    assert run_on_a_fresh_loop(main) == [(200, b"built")] * 5
    assert build.calls == 1


def test_a_first_request_cancelled_during_the_build_starts_no_second_one() -> None:
    build = CountingBuild(0.3)
    app = BuiltOnFirstRequest("demo-app", build)

    async def main() -> tuple[int, bytes]:
        first = asyncio.ensure_future(_request(app))
        await asyncio.sleep(0.05)
        first.cancel()
        return await _request(app)

    assert run_on_a_fresh_loop(main) == (200, b"built")
    assert build.calls == 1


def test_a_failed_build_is_a_500_that_says_why_and_is_not_retried() -> None:
    build = CountingBuild(0.0, fail=True)
    app = BuiltOnFirstRequest("demo-app", build)

    async def main() -> list[tuple[int, bytes]]:
        return [await _request(app), await _request(app)]

    answers = run_on_a_fresh_loop(main)
    assert [status for status, _ in answers] == [500, 500]
    error = json.loads(answers[1][1])
    assert error["error_code"] == "INTERNAL_ERROR"
    assert "'demo-app' failed to start (ImportError)" in error["message"]
    assert build.calls == 1
