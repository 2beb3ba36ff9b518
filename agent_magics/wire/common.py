"""Pieces shared by the wire-format translators."""

from __future__ import annotations

from typing import Any

from agent_magics.core.events import CustomOutputs, Event, RequestInfo, TraceReceived, scrub_text
from agent_magics.core.text import content_text

NO_OP_TRACE_ID = "MLFLOW_NO_OP_SPAN_TRACE_ID"  # AgentServer's id when tracing is not configured


def databricks_extras(payload: dict[str, Any]) -> list[Event]:
    """``custom_outputs`` and ``databricks_output`` (trace, request id) found on any payload."""
    events: list[Event] = []
    custom = payload.get("custom_outputs")
    if isinstance(custom, dict) and custom:
        events.append(CustomOutputs(custom))
    output = payload.get("databricks_output")
    if isinstance(output, dict):
        info = {k: v for k, v in output.items() if k != "trace" and v is not None}
        if info:
            events.append(RequestInfo(info))
        trace = output.get("trace")
        if isinstance(trace, dict) and trace:
            events.append(TraceReceived(trace=trace))
    trace_id = payload.get("trace_id")
    if isinstance(trace_id, str) and trace_id and trace_id != NO_OP_TRACE_ID:
        events.append(TraceReceived(trace_id=trace_id))
    return events


def error_text(value: Any) -> str:
    """The message of an ``error`` field, whatever its shape (string, dict, list)."""
    if isinstance(value, dict):
        message = value.get("message") or value.get("detail") or value.get("error")
        if message:
            return str(message)
    return str(value)


def text_of(content: Any) -> str:
    """Text of a chat message ``content``: a string or a list of ``{type: text, text}`` parts."""
    if content is None:
        return ""
    if isinstance(content, (str, list)):
        return scrub_text(content_text(content))
    # Unlike a Responses item, a chat delta has nothing else to show a bare scalar in: keep it as text.
    return scrub_text(str(content))


def message_item(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
