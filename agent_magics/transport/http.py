"""The one HTTP client class of the project: bounded bodies, and a pool that outlives its workspace's cache.

Bounded: ``Content-Encoding`` (gzip, deflate) is decoded here, 64 KB at a time (``max_length``), so a
400 KB "bomb" that inflates to 400 MB never exists in memory; a decoded body past its limit raises
:class:`BodyTooLarge` while it is read, for every caller (REST, the openai client, workspace APIs).
Encodings we did not ask for (``br``, ``zstd``: their libraries cannot bound one call's output) are
refused. Streams (``text/event-stream``) have a total limit of their own (``MAX_STREAM``), past
which the answer fails with its text so far kept; the SSE parser bounds each line and event.

Retirement: a forgotten workspace's client may still carry a stream on another thread. ``retire()``
closes the pool's connections as soon as no request is in flight (at once when idle), and the client
stays usable: a late request on it opens a connection of its own, closed again when it ends. It never
raises "the client has been closed" under a running stream.
"""

from __future__ import annotations

import functools
import ssl
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import httpx

MB = 1024 * 1024
MAX_BODY = 64 * MB  # decoded bytes of a whole (non-streamed) answer or API body
MAX_ERROR_BODY = 1 * MB  # decoded bytes of an error (or redirect) body: a message, not a document
# Decoded bytes of one event stream. Each event is bounded by the SSE parser (64 MB); this bounds a
# server that never stops sending them. 5,000 tokens with their envelopes are ~1 MB, and a 50,000-span
# trace ~36 MB: 256 MB is far past any answer, and what its text can cost in memory.
MAX_STREAM = 256 * MB
PIECE = 64 * 1024  # the most one decompression step produces
ACCEPTED_ENCODINGS = "gzip, deflate"


class BodyTooLarge(ValueError):
    """A body decoded beyond its limit (a compressed "bomb", or a server that never stops)."""

    def __init__(self, limit: int, status: int = 200, encoding: str | None = None, content_type: str = "") -> None:
        how = f" ({encoding} on the wire)" if encoding else ""
        self.size_text = f"larger than {limit / MB:g} MB once decoded{how}"
        self.status = status
        self.content_type = content_type
        if is_event_stream(content_type) and status < 300:
            message = f"the answer's stream grew {self.size_text}; nothing more was read. Partial answer kept."
        else:
            what = "the answer" if status < 300 else "the error body"
            message = f"{what} is {self.size_text}; refused (nothing more was read)."
        super().__init__(f"{message} Ask the agent's owner to check its output.")


def is_event_stream(content_type: str) -> bool:
    return "text/event-stream" in content_type.lower()


def body_limit(response: httpx.Response) -> int:
    """The decoded size allowed for ``response``'s body."""
    if response.status_code >= 300:
        return MAX_ERROR_BODY
    if is_event_stream(response.headers.get("content-type", "")):
        return MAX_STREAM
    return MAX_BODY


class _Inflate:
    """One zlib stage (gzip or deflate) that never returns more than ``PIECE`` bytes a call."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.raw_deflate = False
        self._new()
        self.started = False

    def _new(self) -> None:
        if self.encoding == "deflate":
            # "deflate" is meant to be zlib-wrapped, but raw deflate is common: try zlib first, as httpx does
            self._z = zlib.decompressobj(-zlib.MAX_WBITS if self.raw_deflate else zlib.MAX_WBITS)
        else:
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def pieces(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self._z.decompress(data, PIECE)
            except zlib.error as exc:
                if self.encoding == "deflate" and not self.started and not self.raw_deflate:
                    self.raw_deflate = True
                    self._new()
                    continue
                raise httpx.DecodingError(f"{self.encoding} body could not be decoded: {exc}") from None
            self.started = True
            if out:
                yield out
            data = self._z.unconsumed_tail
            # a full piece may leave output inside zlib even when all input was consumed
            if not data and len(out) < PIECE:
                return

    def flush(self) -> Iterator[bytes]:
        try:
            tail = self._z.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(f"{self.encoding} body could not be decoded: {exc}") from None
        for start in range(0, len(tail), PIECE):
            yield tail[start : start + PIECE]


class BoundedBody(httpx.SyncByteStream):
    """``response``'s body, decoded here piece by piece and counted against ``limit``."""

    def __init__(self, response: httpx.Response, on_close: Any) -> None:
        assert isinstance(response.stream, httpx.SyncByteStream)  # a sync client's response
        self._raw: httpx.SyncByteStream = response.stream
        self._status = response.status_code
        self._content_type = response.headers.get("content-type", "")
        self._limit = body_limit(response)
        self._on_close = on_close
        self._closed = False
        encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "").split(",") if e.strip()]
        encodings = [e for e in encodings if e != "identity"]
        self.encoding = ", ".join(encodings) or None
        unknown = [e for e in encodings if e not in ("gzip", "x-gzip", "deflate")]
        self._refused = unknown[0] if unknown else None
        self._stages = [_Inflate("deflate" if e == "deflate" else "gzip") for e in reversed(encodings)]
        if "content-encoding" in response.headers:
            del response.headers["content-encoding"]  # decoded here: httpx must not decode again

    def __iter__(self) -> Iterator[bytes]:
        if self._refused is not None:
            raise httpx.DecodingError(
                f"the server sent Content-Encoding: {self._refused}, which was not asked for "
                f"(Accept-Encoding: {ACCEPTED_ENCODINGS}); refused"
            )
        size = 0
        for piece in self._decoded():
            size += len(piece)
            if size > self._limit:
                raise BodyTooLarge(self._limit, self._status, self.encoding, self._content_type)
            yield piece

    def _decoded(self) -> Iterator[bytes]:
        pieces: Any = iter(self._raw)
        for stage in self._stages:
            pieces = _through(stage, pieces)
        yield from pieces

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._raw.close()
        finally:
            self._on_close()


def _through(stage: _Inflate, pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield from stage.pieces(piece)
    yield from stage.flush()


@functools.lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once: building it (reading the CA bundle) costs ~0.1 s,
    which every new client would otherwise pay, the first one on a cold cell's path to its answer."""
    return httpx.create_ssl_context()


def warm_up() -> None:
    """Load what the first client pays for (the TLS context; httpcore and anyio, which httpx
    imports when it builds its first transport), so that a client built later is cheap."""
    httpx.HTTPTransport(verify=ssl_context()).close()


class BoundedClient(httpx.Client):
    """An ``httpx.Client`` whose bodies are bounded and whose pool can be retired under a running stream."""

    def __init__(self, **kwargs: Any) -> None:
        self._pool = httpx.HTTPTransport(verify=ssl_context())
        headers = {"Accept-Encoding": ACCEPTED_ENCODINGS, **kwargs.pop("headers", {})}
        super().__init__(transport=self._pool, headers=headers, **kwargs)
        self._guard = threading.Lock()
        self._in_flight = 0
        self._retired = False

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet finished (their body read or closed)."""
        return self._in_flight

    def send(self, request: httpx.Request, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        with self._guard:
            self._in_flight += 1
        try:
            response = super().send(request, stream=True, **kwargs)
        except BaseException:
            self._finished()
            raise
        response.stream = BoundedBody(response, self._finished)
        if not stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        return response

    def retire(self) -> None:
        """Close the pool's connections once no request is in flight (now, if none is)."""
        with self._guard:  # held while closing: a request starting now waits, then gets a new connection
            self._retired = True
            if self._in_flight == 0:
                self._pool.close()

    def _finished(self) -> None:
        with self._guard:
            self._in_flight -= 1
            if self._retired and self._in_flight == 0:
                self._pool.close()  # httpcore's pool opens new connections if a late request comes
