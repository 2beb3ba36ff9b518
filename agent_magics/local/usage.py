"""Token usage of the demo models, and the usage / id fields a served answer carries on the wire.

A demo "token" is what the stand-in language model streams: a word with its leading whitespace
(``knowledge.word_deltas``), so an answer's completion tokens equal its text deltas. The prompt is
counted the same way over every text the request carries (message contents, tool-call arguments,
tool outputs). Output tokens count what a model generates: answer text, and tool calls' names and
arguments; tool *outputs* come from tools, not from the model.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from agent_magics.core.text import content_text

_TOKEN = re.compile(r"\s*\S+")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def new_id(prefix: str) -> str:
    """``prefix`` + 32 hex digits, fresh for every answer (as Model Serving's ids are)."""
    return f"{prefix}{uuid.uuid4().hex}"


def prompt_tokens(body: dict[str, Any]) -> int:
    """Tokens of a request body: chat ``messages``, Responses ``input`` (text or items), ``instructions``."""
    texts: list[str] = []
    given = body.get("input", body.get("messages"))
    if isinstance(given, str):
        texts.append(given)
    for item in given if isinstance(given, list) else []:
        if not isinstance(item, dict):
            continue
        texts.append(content_text(item.get("content"), sep=" "))
        for key in ("arguments", "output"):
            if isinstance(item.get(key), str):
                texts.append(item[key])
        for call in item.get("tool_calls") or []:
            function = (call.get("function") or {}) if isinstance(call, dict) else {}
            texts += [str(function.get("name", "")), str(function.get("arguments", ""))]
    if isinstance(body.get("instructions"), str):
        texts.append(body["instructions"])
    return sum(count_tokens(t) for t in texts)


def chat_usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def responses_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _calls_tokens(calls: Iterable[Any] | None) -> int:
    total = 0
    for call in calls or []:
        function = (call.get("function") or {}) if isinstance(call, dict) else {}
        total += count_tokens(str(function.get("name") or "")) + count_tokens(str(function.get("arguments") or ""))
    return total


def completion_tokens(completion: dict[str, Any]) -> int:
    """Generated tokens of a ``chat.completion``."""
    total = 0
    for choice in completion.get("choices") or []:
        message = choice.get("message") or {}
        total += count_tokens(content_text(message.get("content"), sep=" ")) + _calls_tokens(message.get("tool_calls"))
    return total


def output_tokens(items: Iterable[dict[str, Any]]) -> int:
    """Generated tokens of Responses output items."""
    total = 0
    for item in items:
        if item.get("type") == "message":
            total += sum(count_tokens(str(p.get("text", ""))) for p in item.get("content") or [] if isinstance(p, dict))
        elif item.get("type") == "function_call":
            total += count_tokens(str(item.get("name", ""))) + count_tokens(str(item.get("arguments", "")))
    return total


def chunk_tokens(chunk: dict[str, Any]) -> int:
    total = 0
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        total += count_tokens(content_text(delta.get("content"), sep=" ")) + _calls_tokens(delta.get("tool_calls"))
    return total


def with_chat_usage(
    chunks: Iterable[dict[str, Any]], prompt: int, *, on_last_chunk: bool, usage_chunk: bool
) -> Iterator[dict[str, Any]]:
    """Chat chunks with usage: on the chunk that has the ``finish_reason`` (``on_last_chunk``, what a
    foundation-model endpoint does), and/or as OpenAI's extra last chunk with empty ``choices``
    (``usage_chunk``, for ``stream_options.include_usage``). The other chunks get ``usage: null``
    when the extra chunk is asked for, as OpenAI sends them."""
    completion = 0
    last: dict[str, Any] | None = None
    for chunk in chunks:
        if "choices" not in chunk:  # an error event: passed on, no usage after it
            yield chunk
            return
        completion += chunk_tokens(chunk)
        finished = any(c.get("finish_reason") for c in chunk.get("choices") or [])
        if finished and on_last_chunk:
            chunk["usage"] = chat_usage(prompt, completion)
        elif usage_chunk:
            chunk["usage"] = None
        last = chunk
        yield chunk
    if usage_chunk and last is not None:
        yield {
            "id": last.get("id"),
            "object": "chat.completion.chunk",
            "created": last.get("created", int(time.time())),
            "model": last.get("model"),
            "choices": [],
            "usage": chat_usage(prompt, completion),
        }


def response_fields(model: str, output: list[dict[str, Any]], prompt: int, status: str = "completed") -> dict[str, Any]:
    """The fields of an OpenAI ``Response`` object that MLflow's agents leave out."""
    return {
        "id": new_id("resp_"),
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": status,
        "usage": responses_usage(prompt, output_tokens(output)),
    }
