"""Chat-completions views of the other interfaces, for ``POST /serving-endpoints/chat/completions``.

Databricks answers chat completions for ChatAgent endpoints (the legacy example of the docs uses
``chat.completions.create`` on them), so ChatAgent messages and ResponsesAgent output are presented
as ``chat.completion`` / ``chat.completion.chunk`` objects. Our choices: the answer text becomes the
message content; the agent's tool calls are shown as ``tool_calls`` (already executed, so
``finish_reason`` stays ``"stop"``); tool results have no place in that shape and are left out;
``custom_outputs`` rides on the completion and on the last chunk.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any


def _completion(completion_id: str, model: str, message: dict[str, Any], custom: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if custom is not None:
        out["custom_outputs"] = custom
    return out


def _chunk(completion_id: str, model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _tool_call(call_id: str, name: str, arguments: str, index: int | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
    return call if index is None else {"index": index, **call}


def _message(text: str, tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return message


def responses_to_completion(response: dict[str, Any], model: str, completion_id: str) -> dict[str, Any]:
    texts, calls = [], []
    for item in response.get("output", []):
        if item.get("type") == "message":
            texts += [p.get("text", "") for p in item.get("content", []) if p.get("type") == "output_text"]
        elif item.get("type") == "function_call":
            calls.append(_tool_call(item["call_id"], item["name"], item["arguments"]))
    return _completion(completion_id, model, _message("".join(texts), calls), response.get("custom_outputs"))


def responses_to_chunks(events: Iterable[dict[str, Any]], model: str, completion_id: str) -> Iterator[dict[str, Any]]:
    streamed: set[str] = set()
    calls = 0
    custom = None
    role_sent = False

    def delta(fields: dict[str, Any]) -> dict[str, Any]:
        nonlocal role_sent
        if not role_sent:
            role_sent = True
            return _chunk(completion_id, model, {"role": "assistant", **fields})
        return _chunk(completion_id, model, fields)

    for event in events:
        custom = event.get("custom_outputs") or custom
        kind = event.get("type")
        if kind == "response.output_text.delta":
            streamed.add(event.get("item_id", ""))
            yield delta({"content": event.get("delta", "")})
        elif kind == "response.output_item.done":
            item = event.get("item", {})
            if item.get("type") == "function_call":
                yield delta({"tool_calls": [_tool_call(item["call_id"], item["name"], item["arguments"], calls)]})
                calls += 1
            elif item.get("type") == "message" and item.get("id") not in streamed:
                text = "".join(p.get("text", "") for p in item.get("content", []))
                yield delta({"content": text})
        elif kind == "error":
            yield {"error": {"error_code": event.get("code") or "INTERNAL_ERROR", "message": event.get("message", "")}}
            return
    final = _chunk(completion_id, model, {}, finish="stop")
    if custom is not None:
        final["custom_outputs"] = custom
    yield final


def chat_agent_to_completion(response: dict[str, Any], model: str, completion_id: str) -> dict[str, Any]:
    texts, calls = [], []
    for message in response.get("messages", []):
        if message.get("role") != "assistant":
            continue
        if message.get("content"):
            texts.append(message["content"])
        calls += [
            _tool_call(c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in message.get("tool_calls") or []
        ]
    return _completion(completion_id, model, _message("\n\n".join(texts), calls), response.get("custom_outputs"))


def chat_agent_to_chunks(chunks: Iterable[dict[str, Any]], model: str, completion_id: str) -> Iterator[dict[str, Any]]:
    calls = 0
    custom = None
    role_sent = False
    for chunk in chunks:
        custom = chunk.get("custom_outputs") or custom
        message = chunk.get("delta", {})
        if message.get("role") != "assistant":
            continue  # tool results
        fields: dict[str, Any] = {}
        if message.get("content"):
            fields["content"] = message["content"]
        if message.get("tool_calls"):
            fields["tool_calls"] = []
            for call in message["tool_calls"]:
                fields["tool_calls"].append(
                    _tool_call(call["id"], call["function"]["name"], call["function"]["arguments"], calls)
                )
                calls += 1
        if not fields:
            continue
        if not role_sent:
            role_sent = True
            fields = {"role": "assistant", **fields}
        yield _chunk(completion_id, model, fields)
    final = _chunk(completion_id, model, {}, finish="stop")
    if custom is not None:
        final["custom_outputs"] = custom
    yield final
