"""Bounds on what one client may make the server hold: header time, body time, body size, JSON depth.

Without them a slow client keeps a socket forever (slowloris), a large body is read whole into
memory, and a deeply nested JSON body raises ``RecursionError`` inside a handler (a 500).

* **Header time**: a connection must finish each request's headers within ``header_timeout``
  seconds of connecting (or of the previous response); else it gets a 408 and is closed. uvicorn's
  keep-alive timer does not cover this: any byte received cancels it.
* **Body time and size**: the body is read here, before any handler, within ``body_timeout``
  seconds (408) and up to ``max_body_bytes`` (413; a ``Content-Length`` over the limit is refused
  before a byte of the body is read). Every handler of this server reads whole bodies anyway.
* **JSON depth**: a body that starts like JSON and nests deeper than ``max_json_depth`` gets a 400
  before any parser sees it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from agent_magics.local.api_errors import api_error
from agent_magics.local.auth import ASGIApp

MiB = 1024 * 1024
# Model Serving documents a 16 MB request payload limit.
DEFAULT_MAX_BODY_BYTES = 16 * MiB
DEFAULT_MAX_JSON_DEPTH = 64
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0

_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` / ``{`` in a JSON text (brackets inside strings do not count).

    Linear and without recursion: strings are blanked out by one regular expression, and the depth
    is the maximum of a running sum computed by numpy, so a 16 MB body costs milliseconds.
    """
    import numpy as np

    brackets = _JSON_STRING.sub(b"", raw).translate(None, bytes(set(range(256)) - _OPEN - _CLOSE))
    if len(brackets) < 2:
        return len(brackets)
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where(np.isin(codes, list(_OPEN)), 1, -1).astype(np.int64)
    return int(np.cumsum(steps).max())


def _looks_like_json(body: bytes) -> bool:
    start = body.lstrip()[:1]
    return start in (b"{", b"[")


def as_utf8(body: bytes) -> bytes:
    """``body`` as plain UTF-8: ``json.loads`` also reads a BOM and UTF-16/32, which the depth check
    (on bytes) would not recognise; the app is then given what was checked."""
    import json

    encoding = json.detect_encoding(body)
    if encoding == "utf-8":
        return body
    try:
        text = body.decode(encoding)  # utf-8-sig drops the BOM
    except UnicodeError:
        return body  # not text in that encoding: the app's JSON parsing refuses it (400)
    as_text = text.encode("utf-8")
    return as_text if _looks_like_json(as_text) else body  # other bodies (binary, forms) go on untouched


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class RequestLimits:
    """ASGI wrapper: reads the body within the time and size limits, checks its JSON depth, then
    hands the app the buffered body (later ``receive`` calls go to the server, for disconnects)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        close = {"Connection": "close"}
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit, close)(scope, receive, send)
            return
        try:
            body = await self._read_body(receive)
        except _TooLarge:
            await _too_large(limit, close)(scope, receive, send)
            return
        except _TooSlow:
            message = f"The request body did not arrive within {self.limits.body_timeout:g} seconds."
            await api_error(408, "REQUEST_TIMEOUT", message, close)(scope, receive, send)
            return
        if body is None:  # the client left
            return
        body = as_utf8(body)
        if _looks_like_json(body) and json_depth(body) > self.limits.max_json_depth:
            message = (
                f"The request body is nested too deeply: JSON may nest at most {self.limits.max_json_depth} levels."
            )
            await api_error(400, "BAD_REQUEST", message)(scope, receive, send)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Any) -> bytes | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise _TooSlow
            try:
                message = await asyncio.wait_for(receive(), timeout=remaining)
            except asyncio.TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _content_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int, headers: dict[str, str]) -> Any:
    message = f"The request body is larger than {limit // MiB} MB, the most this endpoint accepts."
    return api_error(413, "REQUEST_ENTITY_TOO_LARGE", message, headers)


_TIMEOUT_BODY = b'{"error_code": "REQUEST_TIMEOUT", "message": "The request headers came too slowly."}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_TIMEOUT_BODY), _TIMEOUT_BODY)
)


MAX_HEADER_BYTES = 64 * 1024  # request line and headers; httptools itself keeps all it is sent
_HEADERS_BODY = b'{"error_code": "REQUEST_HEADER_FIELDS_TOO_LARGE", "message": "The request headers are too large."}'
_HEADERS_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: %d\r\n\r\n%s" % (len(_HEADERS_BODY), _HEADERS_BODY)
)


def header_deadline_protocol(base: type, timeout: float, max_header_bytes: int = MAX_HEADER_BYTES) -> type:
    """A subclass of uvicorn's HTTP protocol ``base`` whose requests must finish their headers
    within ``timeout`` seconds of the connection (or of the previous response) opening, in at most
    ``max_header_bytes`` (431 past them: the headers are read before any auth check)."""

    class HeaderDeadline(base):
        _header_timer: asyncio.TimerHandle | None = None
        _waiting_cycle: Any = None
        _header_bytes = 0

        def data_received(self, data: bytes) -> None:
            waiting = self._header_timer is not None
            super().data_received(data)
            if waiting:
                self._header_bytes += len(data)
                # Still waiting after the parser read it all: these bytes were headers.
                if self._header_timer is not None and self._header_bytes > max_header_bytes:
                    self._disarm_header_timer()
                    if not self.transport.is_closing():
                        self.transport.write(_HEADERS_RESPONSE)
                        self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm_header_timer()
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            cycle = getattr(self, "cycle", None)
            idle = cycle is None or cycle.response_complete  # not when a pipelined request started
            if idle and not self.transport.is_closing():
                self._arm_header_timer()

        # httptools calls this when a request's headers are complete.
        def on_headers_complete(self) -> None:
            self._disarm_header_timer()
            super().on_headers_complete()

        # h11 has no such callback: a new request cycle means its headers are complete.
        def handle_events(self) -> None:
            super().handle_events()
            if self._header_timer is not None and self.cycle is not self._waiting_cycle:
                self._disarm_header_timer()

        def _arm_header_timer(self) -> None:
            self._disarm_header_timer()
            self._header_bytes = 0
            self._waiting_cycle = getattr(self, "cycle", None)
            self._header_timer = self.loop.call_later(timeout, self._headers_too_slow)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.write(_TIMEOUT_RESPONSE)
                self.transport.close()

    HeaderDeadline.__name__ = f"HeaderDeadline{base.__name__}"
    return HeaderDeadline


def http_protocol(implementation: str, timeout: float) -> type:
    """uvicorn's protocol class for ``"httptools"`` or ``"h11"``, with the header deadline."""
    if implementation == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return header_deadline_protocol(HttpToolsProtocol, timeout)
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return header_deadline_protocol(H11Protocol, timeout)
