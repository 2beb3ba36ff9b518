"""A small Server-Sent Events parser: lines in, JSON payloads out.

Databricks Model Serving and MLflow's AgentServer send ``data: <json>`` events ending with
``data: [DONE]``; other OpenAI-compatible servers add ``event:`` lines and comments. All are
accepted; a payload that is not JSON is a :class:`MalformedStream` error, never a crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

DONE = object()  # sentinel payload for ``data: [DONE]``


class MalformedStream(ValueError):
    """The server sent something that is not a valid SSE JSON event."""


def _decode(data: str) -> Any:
    if data.strip() == "[DONE]":
        return DONE
    try:
        return json.loads(data)
    except ValueError:
        preview = data if len(data) <= 80 else data[:77] + "..."
        raise MalformedStream(f"the server sent an event that is not JSON: {preview!r}") from None


def iter_sse_payloads(lines: Iterable[str]) -> Iterator[Any]:
    """Yield each event's decoded ``data`` (a dict, list, ... or :data:`DONE`)."""
    buffer: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if buffer:
                yield _decode("\n".join(buffer))
                buffer = []
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
                buffer = []
            buffer.append(value)
        elif field in ("event", "id", "retry"):
            continue
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
