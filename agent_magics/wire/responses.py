"""OpenAI Responses API (ResponsesAgent, apps, /serving-endpoints/responses) -> events."""

from __future__ import annotations

from typing import Any

from agent_magics.core.events import (
    ANONYMOUS,
    Done,
    ErrorEvent,
    Event,
    ItemDone,
    RequestInfo,
    TextDelta,
    TraceReceived,
    scrub_text,
)
from agent_magics.wire.common import NO_OP_TRACE_ID, databricks_extras, error_text


class ResponsesStream:
    """Translate one Responses event stream; feed every decoded SSE payload in order."""

    def __init__(self) -> None:
        self.items_seen = 0

    def feed(self, payload: dict[str, Any]) -> list[Event]:
        kind = payload.get("type")
        if kind == "response.output_text.delta":  # the hot path: one per token
            delta = str(payload.get("delta") or "")
            return [
                TextDelta(str(payload.get("item_id") or ANONYMOUS), delta if delta.isascii() else scrub_text(delta))
            ]
        events: list[Event] = []
        if kind == "response.output_item.done" and isinstance(payload.get("item"), dict):
            item = payload["item"]
            events.append(ItemDone(_strip_extras(item)))
            events.extend(databricks_extras(item))
            self.items_seen += 1
        elif kind in ("response.completed", "responses.completed", "response.incomplete", "response.failed"):
            response = payload.get("response") or {}
            if self.items_seen == 0:  # servers that only send the final response
                events.extend(ItemDone(_strip_extras(i)) for i in response.get("output") or [] if isinstance(i, dict))
            events.extend(databricks_extras(response))
            if isinstance(response.get("usage"), dict):  # token counts, for result.usage
                events.append(RequestInfo({"usage": response["usage"]}))
            if response.get("error"):
                events.append(ErrorEvent(error_text(response["error"])))
            elif kind == "response.failed" or response.get("status") == "failed":  # failed, saying nothing more
                events.append(ErrorEvent("the agent's response failed (the server gave no error message)"))
            if kind == "response.incomplete":
                details = response.get("incomplete_details") or {}
                events.append(ErrorEvent(f"the agent stopped early ({details.get('reason', 'incomplete')})"))
        elif kind in ("error", "response.error"):
            events.append(ErrorEvent(error_text(payload.get("message") or payload.get("error") or payload)))
        elif kind is None and "error" in payload and payload["error"]:
            events.append(ErrorEvent(error_text(payload["error"])))
        events.extend(databricks_extras(payload))
        return events


def _strip_extras(item: dict[str, Any]) -> dict[str, Any]:
    """An output item without transport extras (the trace is reported separately)."""
    if "databricks_output" in item:
        return {k: v for k, v in item.items() if k != "databricks_output"}
    return item


def body_events(body: dict[str, Any]) -> list[Event]:
    """A complete (non-streaming) Responses body."""
    events: list[Event] = [ItemDone(_strip_extras(i)) for i in body.get("output") or [] if isinstance(i, dict)]
    events.extend(databricks_extras(body))
    if isinstance(body.get("usage"), dict):
        events.append(RequestInfo({"usage": body["usage"]}))
    metadata = body.get("metadata") or {}
    trace_id = metadata.get("trace_id") if isinstance(metadata, dict) else None
    if trace_id and trace_id != NO_OP_TRACE_ID:
        events.append(TraceReceived(trace_id=trace_id))
    if body.get("error"):
        events.append(ErrorEvent(error_text(body["error"])))
        events.append(Done("failed"))
    else:
        events.append(Done("completed"))
    return events
