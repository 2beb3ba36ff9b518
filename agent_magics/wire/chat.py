"""Chat completions (ChatModel, FMAPI, chat/completions) and ChatAgent -> events.

Both become Responses-shaped items: assistant text -> ``message``, ``tool_calls`` ->
``function_call``, ``tool`` messages -> ``function_call_output``.
"""

from __future__ import annotations

import json
from typing import Any

from agent_magics.core.events import ANONYMOUS, Done, ErrorEvent, Event, ItemDone, RequestInfo, TextDelta
from agent_magics.wire.common import databricks_extras, error_text, message_item, text_of


def tool_call_item(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "type": "function_call",
        "id": call.get("id"),
        "call_id": call.get("id"),
        "name": function.get("name", ""),
        "arguments": arguments,
    }


def message_events(message: dict[str, Any], fallback_id: str) -> list[Event]:
    """A whole chat message (assistant / tool) as finished items."""
    events: list[Event] = []
    role = str(message.get("role") or "assistant").lower()  # a null role is the assistant's, as in OpenAI's SDK
    if role == "tool":
        events.append(
            ItemDone(
                {
                    "type": "function_call_output",
                    "call_id": message.get("tool_call_id"),
                    "output": text_of(message.get("content")),
                    **({"name": message["name"]} if message.get("name") else {}),
                }
            )
        )
        return events
    if role != "assistant":
        return events
    events.extend(ItemDone(tool_call_item(call)) for call in message.get("tool_calls") or [])
    text = text_of(message.get("content"))
    if text:
        events.append(ItemDone(message_item(str(message.get("id") or fallback_id), text)))
    return events


class ChatCompletionsStream:
    """Translate chat-completion chunks. Tool-call deltas are merged by index."""

    def __init__(self) -> None:
        self.message_id: str | None = None
        self.text: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.calls_before_text = 0  # tool calls that started before the first text: listed first
        self.chat_agent: ChatAgentStream | None = None  # some servers answer in ChatAgent chunks

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if self.chat_agent is not None or ("delta" in chunk and "choices" not in chunk):
            self.chat_agent = self.chat_agent or ChatAgentStream()
            return self.chat_agent.feed(chunk)
        if chunk.get("error"):
            return [ErrorEvent(error_text(chunk["error"]))]
        events: list[Event] = []
        if self.message_id is None:
            self.message_id = str(chunk.get("id") or ANONYMOUS)
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            content = text_of(delta.get("content"))
            if content:
                self.text.append(content)
                events.append(TextDelta(self.message_id, content))
            for call in delta.get("tool_calls") or []:
                index = int(call.get("index", len(self.tool_calls)))
                if index not in self.tool_calls and not self.text:
                    self.calls_before_text += 1
                slot = self.tool_calls.setdefault(index, {"function": {}})
                if call.get("id"):
                    slot["id"] = call["id"]
                function = call.get("function") or {}
                if function.get("name"):
                    slot["function"]["name"] = function["name"]
                piece = function.get("arguments") or ""
                if not isinstance(piece, str):  # some servers send the arguments as an object
                    piece = json.dumps(piece)
                slot["function"]["arguments"] = slot["function"].get("arguments", "") + piece
        if chunk.get("usage"):
            events.append(RequestInfo({"usage": chunk["usage"]}))  # FMAPI sends partial usage every chunk
        events.extend(databricks_extras(chunk))
        return events

    def close(self) -> list[Event]:
        if self.chat_agent is not None:
            return self.chat_agent.close()
        # Items in the order they started, as the text streamed: usually the text, then its calls.
        events: list[Event] = [ItemDone(tool_call_item(c)) for _, c in sorted(self.tool_calls.items())]
        if self.text:
            message = ItemDone(message_item(self.message_id or "message", "".join(self.text)))
            events.insert(min(self.calls_before_text, len(events)), message)
        self.tool_calls.clear()
        self.calls_before_text = 0
        self.text = []
        return events


def completion_body_events(body: dict[str, Any]) -> list[Event]:
    """A complete chat-completion body (or a ChatAgent body with ``messages``)."""
    if "messages" in body and "choices" not in body:
        return chat_agent_body_events(body)
    events: list[Event] = []
    for choice in body.get("choices") or []:
        events.extend(message_events(choice.get("message") or {}, str(body.get("id") or ANONYMOUS)))
    if body.get("usage"):
        events.append(RequestInfo({"usage": body["usage"]}))
    events.extend(databricks_extras(body))
    return _closed(events, body)


class ChatAgentStream:
    """Translate ChatAgent chunks: ``delta`` messages aggregated by ``delta.id``."""

    def __init__(self) -> None:
        self.current_id: str | None = None
        self.current: dict[str, Any] | None = None

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if chunk.get("error"):
            return [ErrorEvent(error_text(chunk["error"]))]
        events: list[Event] = []
        delta = chunk.get("delta")
        if isinstance(delta, dict):
            delta_id = str(delta.get("id") or self.current_id or ANONYMOUS)
            if delta_id != self.current_id:
                events.extend(self._flush())
                self.current_id = delta_id
                self.current = {
                    "role": str(delta.get("role") or "assistant").lower(),
                    "id": delta_id,
                    "content": "",
                    "tool_calls": [],
                    "name": delta.get("name"),
                    "tool_call_id": delta.get("tool_call_id"),
                }
            assert self.current is not None
            content = text_of(delta.get("content"))
            if content:
                self.current["content"] += content
                if self.current["role"] == "assistant":
                    events.append(TextDelta(delta_id, content))
            for call in delta.get("tool_calls") or []:
                _merge_tool_call(self.current["tool_calls"], call)
            for key in ("name", "tool_call_id"):
                self.current[key] = self.current.get(key) or delta.get(key)
        if chunk.get("usage"):
            events.append(RequestInfo({"usage": chunk["usage"]}))
        events.extend(databricks_extras(chunk))
        return events

    def _flush(self) -> list[Event]:
        if self.current is None:
            return []
        message, self.current = self.current, None
        return message_events(message, self.current_id or ANONYMOUS)

    def close(self) -> list[Event]:
        return self._flush()


def _merge_tool_call(calls: list[Any], call: Any) -> None:
    """A streamed piece of a tool call joins the call of the same id (its arguments appended, as
    MLflow's ChatAgent chunk reducer does); a piece with a new id (or none) is a call of its own."""
    if not isinstance(call, dict):
        calls.append(call)
        return
    known = next((c for c in calls if isinstance(c, dict) and call.get("id") and c.get("id") == call["id"]), None)
    if known is None:
        function = call.get("function")
        calls.append({**call, "function": dict(function)} if isinstance(function, dict) else dict(call))
        return
    piece, whole = call.get("function"), known.get("function")
    if isinstance(piece, dict) and isinstance(whole, dict):
        whole["arguments"] = str(whole.get("arguments") or "") + str(piece.get("arguments") or "")
        whole["name"] = whole.get("name") or piece.get("name")


def chat_agent_body_events(body: dict[str, Any]) -> list[Event]:
    events: list[Event] = []
    for index, message in enumerate(body.get("messages") or []):
        if isinstance(message, dict):
            events.extend(message_events(message, f"message-{index}"))
    if body.get("usage"):
        events.append(RequestInfo({"usage": body["usage"]}))
    events.extend(databricks_extras(body))
    return _closed(events, body)


def _closed(events: list[Event], body: dict[str, Any]) -> list[Event]:
    if body.get("error"):
        return [*events, ErrorEvent(error_text(body["error"])), Done("failed")]
    return [*events, Done("completed")]
