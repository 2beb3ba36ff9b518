"""Fault endpoints: what a flaky network, a rate limiter or a failing agent looks like on the wire.

All fault endpoints speak the Responses interface on every data-plane path. HTTP faults answer
before the agent runs; stream faults let a few text events through, then break the stream.

| endpoint | behaviour |
|---|---|
| fault-401 / fault-403 / fault-500 | that status, Databricks error JSON, every time |
| fault-429 | 429 + ``Retry-After: 1`` for the first 2 attempts of each distinct body, then the answer |
| fault-429-always | 429 + ``Retry-After: 1`` every time |
| fault-503 / fault-503-always | 503 for the first 2 attempts per distinct body / every time |
| fault-hang | no bytes at all for ``hang_seconds`` (60 s by default), then the connection closes |
| fault-stall | streams a few deltas, then no bytes for ``hang_seconds``, then closes; non-stream: as fault-hang |
| fault-drop | streams a few deltas, then drops the TCP connection; non-stream: drops with no response |
| fault-malformed-sse | a few good events, then ``data: {not json``; non-stream: a 200 body that is not JSON |
| fault-error-event | a few deltas, then ``{"type": "error", ...}`` (chat: ``{"error": {...}}``); non-stream: 500 JSON |
| fault-error-dict | a few deltas, then ``{"error": "..."}`` (AgentServer style); non-stream: 500 ``{"detail"}`` |
| flaky-agent | demo-agent, but ~5% of distinct bodies (by hash) get a 503 on their first attempt |
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent_magics.local.api_errors import api_error
from agent_magics.local.auth import ASGIApp

FAULT_ENDPOINTS = (
    "fault-401",
    "fault-403",
    "fault-429",
    "fault-429-always",
    "fault-500",
    "fault-503",
    "fault-503-always",
    "fault-hang",
    "fault-stall",
    "fault-drop",
    "fault-malformed-sse",
    "fault-error-event",
    "fault-error-dict",
)
FLAKY_ENDPOINT = "flaky-agent"
FAILING_ATTEMPTS = 2  # fault-429 / fault-503 fail this many attempts of a body, then answer
TEXT_EVENTS_BEFORE_FAULT = 5
FLAKY_PERCENT = 5
MALFORMED = "{not json"
ERROR_MESSAGE = "The agent failed in the middle of its answer (simulated by {name})."

_RAW_SEND = "agent_magics.raw_send"


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def flaky_selects(body: bytes) -> bool:
    """Whether ``flaky-agent`` fails the first attempt of this exact request body."""
    return int(body_digest(body)[:8], 16) % 100 < FLAKY_PERCENT


class AttemptBook:
    """How many times each (endpoint, body) has been tried, so retries can eventually succeed.

    The newest ``capacity`` bodies are remembered (a load test against flaky-agent sends distinct
    bodies without end); a retry comes within seconds, long before its body is forgotten."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    def attempt(self, endpoint: str, body: bytes) -> int:
        key = (endpoint, body_digest(body))
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            self._counts[key] = count  # the newest at the end
            if len(self._counts) > self._capacity:
                self._counts.popitem(last=False)
            return count


class KeepRawSend:
    """Outermost ASGI wrapper: remembers the server's own ``send`` so a fault can drop the socket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        scope[_RAW_SEND] = send
        await self.app(scope, receive, send)


async def drop_connection(scope: MutableMapping[str, Any]) -> None:
    """Close the TCP connection under the current request, mid-response or before any byte."""
    transport = getattr(getattr(scope.get(_RAW_SEND), "__self__", None), "transport", None)
    if transport is None:  # not one of uvicorn's protocols: an abrupt error is the closest we can do
        raise ConnectionAbortedError("fault-drop")
    transport.close()
    for _ in range(3):  # let the server notice, so it does not answer on a closed socket
        await asyncio.sleep(0)


class Dropped(Response):
    """A "response" that sends nothing and closes the connection."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await drop_connection(scope)


@dataclass(frozen=True)
class RawLine:
    """An SSE data line sent verbatim (not JSON-encoded)."""

    text: str


DROP = object()  # in an event stream: drop the connection here


async def before_agent(
    request: Request, name: str, body: bytes, stream: bool, book: AttemptBook, hang_seconds: float
) -> Response | None:
    """A response that replaces the agent's answer, or None to let the agent answer."""
    if name == FLAKY_ENDPOINT:
        attempt = book.attempt(name, body)
        if flaky_selects(body) and attempt == 1:
            return api_error(503, "TEMPORARILY_UNAVAILABLE", "The endpoint is temporarily unavailable (flaky-agent).")
        return None
    if name not in FAULT_ENDPOINTS:
        return None
    attempt = book.attempt(name, body)
    retry = {"Retry-After": "1"}
    if name == "fault-401":
        return api_error(401, "UNAUTHENTICATED", "Token expired or invalid (simulated by fault-401).")
    if name == "fault-403":
        return api_error(403, "PERMISSION_DENIED", "You do not have CAN QUERY permission (simulated by fault-403).")
    if name == "fault-500":
        return api_error(500, "INTERNAL_ERROR", "Internal error (simulated by fault-500).")
    if name == "fault-429-always" or (name == "fault-429" and attempt <= FAILING_ATTEMPTS):
        return api_error(429, "REQUEST_LIMIT_EXCEEDED", f"Rate limit exceeded (simulated by {name}).", retry)
    if name == "fault-503-always" or (name == "fault-503" and attempt <= FAILING_ATTEMPTS):
        return api_error(503, "TEMPORARILY_UNAVAILABLE", f"The endpoint is temporarily unavailable ({name}).")
    if name == "fault-hang" or (name == "fault-stall" and not stream):
        await _wait_for_disconnect(request, hang_seconds)
        return Dropped()
    if stream:
        return None  # the remaining faults happen inside the stream
    if name == "fault-drop":
        return Dropped()
    if name == "fault-malformed-sse":
        return Response(MALFORMED.encode(), status_code=200, media_type="application/json")
    if name == "fault-error-event":
        return api_error(500, "INTERNAL_ERROR", ERROR_MESSAGE.format(name=name))
    if name == "fault-error-dict":
        return JSONResponse({"detail": ERROR_MESSAGE.format(name=name)}, status_code=500)
    return None


async def _wait_for_disconnect(request: Request, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        try:
            message = await asyncio.wait_for(request.receive(), timeout=max(deadline - loop.time(), 0.001))
        except asyncio.TimeoutError:
            return
        if message["type"] == "http.disconnect":
            return


def _is_text(event: dict[str, Any]) -> bool:
    if event.get("type") == "response.output_text.delta":
        return True
    choices = event.get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content") or event.get("delta", {}).get("content"))


async def inject(
    name: str, events: AsyncIterator[Any], wire: str = "responses", hang_seconds: float = 60.0
) -> AsyncGenerator[Any, None]:
    """Pass ``events`` through until a few text events went out, then break the stream as ``name``
    (its error event in the shape of the stream's ``wire``: Responses, or chat-completion chunks;
    ``fault-stall`` sends nothing more for ``hang_seconds``, then drops the connection)."""
    if name not in FAULT_ENDPOINTS:
        async for event in events:
            yield event
        return
    async with contextlib.aclosing(events):  # type: ignore[type-var]  # an async generator at run time  # stops the agent when the stream is cut short
        texts = 0
        async for event in events:
            yield event
            texts += isinstance(event, dict) and _is_text(event)
            if texts >= TEXT_EVENTS_BEFORE_FAULT:
                break
    message = ERROR_MESSAGE.format(name=name)
    if name == "fault-stall":
        await asyncio.sleep(hang_seconds)  # Starlette cancels this when the client disconnects
        yield DROP
    elif name == "fault-drop":
        yield DROP
    elif name == "fault-malformed-sse":
        yield RawLine(MALFORMED)
    elif name == "fault-error-event" and wire == "responses":
        yield {"type": "error", "code": "INTERNAL_ERROR", "message": message}
    elif name == "fault-error-event":
        yield {"error": {"error_code": "INTERNAL_ERROR", "message": message}}
    elif name == "fault-error-dict":
        yield {"error": message}
