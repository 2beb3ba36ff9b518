"""A small Server-Sent Events parser: lines in, JSON payloads out.

Databricks Model Serving and MLflow's AgentServer send ``data: <json>`` events ending with
``data: [DONE]``; other OpenAI-compatible servers add ``event:`` lines and comments. All are
accepted; a payload that is not JSON is a :class:`MalformedStream` error, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from agent_magics.core.text import shorten

DONE = object()  # sentinel payload for ``data: [DONE]``
# One line, and one event's data, may hold a whole answer (a completion event repeats the output),
# so the limit is the whole-body one (transport.http.MAX_BODY); past it the stream fails, text kept.
MAX_EVENT = 64 * 1024 * 1024


class MalformedStream(ValueError):
    """The server sent something that is not a valid SSE JSON event."""


class EventTooLarge(MalformedStream):
    """A line or an event beyond :data:`MAX_EVENT` (a bomb, or a server that never ends a line)."""

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(
            f"the server sent {what} larger than {limit / 2**20:g} MB (once decoded); refused, nothing more was read"
        )


def iter_lines(chunks: Iterable[bytes], limit: int = MAX_EVENT) -> Iterator[str]:
    """Bytes in, SSE lines out (ends: CRLF, LF or CR), never holding more than ``limit`` bytes of one line.

    The pieces of an unfinished line are kept in a list and joined once it ends (no quadratic copying).
    """
    parts: list[bytes] = []
    size = 0
    after_cr = False  # the previous chunk ended in CR: a LF starting this one belongs to it
    for chunk in chunks:
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        after_cr = False
        if b"\r" not in chunk:  # the common case (LF only): one decode and one split per chunk
            end = chunk.rfind(b"\n")
            if end >= 0:
                head = chunk[:end]
                if parts:
                    parts.append(head)
                    head = b"".join(parts)
                    parts, size = [], 0
                lines = head.decode("utf-8", "replace").split("\n")
                if len(head) > limit and max(map(len, lines)) > limit:
                    raise EventTooLarge("a line", limit)
                yield from lines
                chunk = chunk[end + 1 :]
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise EventTooLarge("a line without a line break", limit)
                parts.append(chunk)
            continue
        for piece in chunk.splitlines(keepends=True):
            if piece[-1:] in (b"\n", b"\r"):
                after_cr = piece[-1:] == b"\r"
                line = piece.rstrip(b"\r\n")
                if parts:
                    parts.append(line)
                    line = b"".join(parts)
                    parts, size = [], 0
                if len(line) > limit:
                    raise EventTooLarge("a line", limit)
                yield line.decode("utf-8", "replace")
            else:  # the unfinished end of the chunk
                after_cr = False
                size += len(piece)
                if size > limit:
                    raise EventTooLarge("a line without a line break", limit)
                parts.append(piece)
    if parts:
        yield b"".join(parts).decode("utf-8", "replace")


def _decode(data: str) -> Any:
    if data.strip() == "[DONE]":
        return DONE
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise MalformedStream(f"the server sent an event that is not JSON: {shorten(data)!r}") from None


def iter_sse_payloads(lines: Iterable[str], limit: int = MAX_EVENT) -> Iterator[Any]:
    """Yield each event's decoded ``data`` (a dict, list, ... or :data:`DONE`); one event holds at most ``limit``."""
    buffer: list[str] = []
    size = 0
    first = True
    for raw in lines:
        line = raw.rstrip("\r\n")
        if first:  # the SSE spec: a byte order mark at the start of the stream is dropped
            line, first = line.removeprefix("\ufeff"), False
        if not line:
            if buffer:
                yield _decode("\n".join(buffer))
                buffer, size = [], 0
            continue
        if line.startswith(":"):
            continue  # comment / keep-alive
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            # Servers that put one JSON document per line without blank separators are common:
            # flush the previous line first when it is already a complete document.
            if buffer and _is_complete_json(buffer[-1]):
                yield _decode("\n".join(buffer))
                buffer, size = [], 0
            size += len(value) + 1
            if size > limit:
                raise EventTooLarge("an event", limit)
            buffer.append(value)
        elif field in ("event", "id", "retry") or (
            field.isascii() and field.replace("-", "").replace("_", "").isalnum()
        ):
            continue  # the SSE spec ignores a field it does not know (a "ping" line, "foo: bar")
        else:
            raise MalformedStream(f"unexpected line in the event stream: {line[:80]!r}")
    if buffer:
        yield _decode("\n".join(buffer))


def _is_complete_json(text: str) -> bool:
    stripped = text.strip()
    if stripped == "[DONE]":
        return True
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True
