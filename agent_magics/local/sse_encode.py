"""Server-sent events as Model Serving and MLflow's AgentServer write them.

Every event is one ``data: <json>`` line and a blank line; the stream ends with ``data: [DONE]``.
No ``event:`` lines (mlflow's deployment client rejects any other line prefix).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import StreamingResponse

DONE = b"data: [DONE]\n\n"


def encode(payload: Any) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def raw_line(text: str) -> bytes:
    """A ``data:`` line sent verbatim (used to send broken JSON on purpose)."""
    return f"data: {text}\n\n".encode()


def event_stream(body: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **(headers or {})},
    )
