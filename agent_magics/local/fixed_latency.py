"""A serving endpoint with nothing but a fixed delay: every invocation answers after ``delay`` seconds.

Not part of the local workspace: a bare Responses endpoint (no auth, no agent, no tracing) whose cost
is known exactly, so a measurement on it shows the client's own overhead (benchmarks/sql_batch.py)
and a test can count how many requests a client keeps in flight (tests/sql/test_spark.py).
Its one endpoint of any name speaks ``agent/v1/responses``; the answer is ``prefix + question``.
"""

from __future__ import annotations

import asyncio
from typing import Any


class FixedLatencyEndpoint:
    def __init__(self, delay: float, *, prefix: str = "A:") -> None:
        self.delay = delay
        self.prefix = prefix
        self.in_flight = 0
        self.most = 0  # the most invocations in flight at once

    def app(self) -> Any:
        """The Starlette app: ``GET /api/2.0/serving-endpoints/{name}`` and its invocations."""
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def endpoint(request: Request) -> JSONResponse:
            return JSONResponse({"name": request.path_params["name"], "task": "agent/v1/responses"})

        async def invocations(request: Request) -> JSONResponse:
            body = await request.json()
            self.in_flight += 1  # one event loop: no await between the read and the write
            self.most = max(self.most, self.in_flight)
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.in_flight -= 1
            text = self.prefix + body["input"][0]["content"]
            message = {
                "type": "message",
                "id": "m",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            }
            return JSONResponse({"output": [message]})

        return Starlette(
            routes=[
                Route("/api/2.0/serving-endpoints/{name}", endpoint),
                Route("/serving-endpoints/{name}/invocations", invocations, methods=["POST"]),
            ]
        )
