"""``demo-llm``: a foundation-model style chat endpoint that honours what clients send a model.

Not an agent: it takes a chat-completions body and answers like a model does. The text comes from
the bundled knowledge base, as the demo agents' does; what makes it model-like:

* ``max_tokens``: the answer stops after that many tokens with ``finish_reason: "length"``;
* ``tools``: when tools are offered (and ``tool_choice`` is not ``"none"``) and the question asks for
  one, the answer is ``tool_calls`` with ``finish_reason: "tool_calls"``; after a ``tool`` message,
  the answer reports the tool's result. A question asks for a tool when it names it, or when it
  holds every significant word of the tool's name (``get_weather`` for "the weather in Paris");
  ``tool_choice: "required"`` or a named function forces a call. Arguments are filled from the
  tool's JSON schema: the first string parameter gets the question's subject (the words after
  "in", "for", "about" or "of"), other parameters an example value of their type;
* ``response_format``: ``json_object`` answers ``{"answer": ...}``; ``json_schema`` answers a JSON
  instance of the schema whose string fields carry the answer text.

Deterministic: the same body gives the same text (ids are new for every answer).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import mlflow
from mlflow.entities import SpanType

from agent_magics.local import knowledge
from agent_magics.local.agents import search_docs, text_of
from agent_magics.local.pacing import Pace

_GENERIC = frozenset(
    [
        "get",
        "set",
        "fetch",
        "find",
        "lookup",
        "look",
        "up",
        "search",
        "run",
        "call",
        "do",
        "make",
        "tool",
        "function",
        "the",
        "a",
        "an",
        "of",
        "to",
        "for",
    ]
)
_SUBJECT = re.compile(r"\b(?:in|for|about|of)\s+([^?.!,;]+)", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
_ANSWER_FIELDS = ("answer", "text", "response", "content", "summary", "explanation", "description", "result")


class LLMRequestError(ValueError):
    """The body is not a chat-completions request this model can take."""


@dataclass
class LLMRequest:
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    response_format: dict[str, Any] | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> LLMRequest:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise LLMRequestError("'messages' must be a non-empty list of chat messages.")
        for index, message in enumerate(messages):
            if message.get("role") not in ("system", "user", "assistant", "tool", "developer"):
                raise LLMRequestError(f"messages.{index}.role must be system, user, assistant or tool.")
        max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
        ):
            raise LLMRequestError("'max_tokens' must be a positive integer.")
        tools = body.get("tools") or []
        if not isinstance(tools, list) or not all(
            isinstance(t, dict) and isinstance((t.get("function") or {}).get("name"), str) for t in tools
        ):
            raise LLMRequestError('\'tools\' must be a list of {"type": "function", "function": {"name": ...}}.')
        response_format = body.get("response_format")
        if response_format is not None and (
            not isinstance(response_format, dict)
            or response_format.get("type") not in ("text", "json_object", "json_schema")
        ):
            raise LLMRequestError("'response_format.type' must be text, json_object or json_schema.")
        return cls(messages, max_tokens, tools, body.get("tool_choice") or "auto", response_format)


@dataclass(frozen=True)
class Answer:
    text: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    deltas: list[str]


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _asked_tool(request: LLMRequest, question: str) -> dict[str, Any] | None:
    if not request.tools or request.tool_choice == "none":
        return None
    functions = [t["function"] for t in request.tools]
    choice = request.tool_choice
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        return next((f for f in functions if f["name"] == wanted), None)
    asked = _words(question)
    lowered = question.lower()
    for function in functions:
        name_words = set(_WORD.findall(function["name"].lower().replace("_", " ").replace("-", " ")))
        significant = name_words - _GENERIC
        if function["name"].lower() in lowered or (significant and significant <= asked):
            return function
    return functions[0] if choice == "required" else None


def _example(schema: Any, root: dict[str, Any], name: str, answer: str, subject: str, depth: int = 0) -> Any:
    """A JSON value that fits ``schema`` (refs, anyOf, objects, arrays and scalars)."""
    if not isinstance(schema, dict) or depth > 20:
        return answer
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return _example(target, root, name, answer, subject, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key) or [] if isinstance(o, dict) and o.get("type") != "null"]
        if options:
            return _example(options[0], root, name, answer, subject, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: _example(value, root, key, answer, subject, depth + 1) for key, value in properties.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [_example(schema.get("items", {}), root, name, answer, subject, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        value = schema.get("minimum", 1)
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if any(word in name.lower() for word in _ANSWER_FIELDS):
        return answer
    return subject


def _subject(question: str) -> str:
    match = _SUBJECT.search(question)
    return (match.group(1) if match else question).strip()


def _tool_arguments(function: dict[str, Any], question: str) -> dict[str, Any]:
    schema = function.get("parameters") or {}
    properties = schema.get("properties") or {}
    arguments: dict[str, Any] = {}
    subject_given = False
    for key, value in properties.items():
        if isinstance(value, dict) and value.get("type", "string") == "string" and not value.get("enum"):
            arguments[key] = _subject(question) if not subject_given else question
            subject_given = True
        else:
            arguments[key] = _example(value, schema, key, question, _subject(question))
    return arguments


def _formatted(text: str, request: LLMRequest, question: str) -> str:
    fmt = request.response_format or {}
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": text})
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return json.dumps(_example(schema, schema, "answer", text, _subject(question)))
    return text


class DemoLLM:
    """The model: messages in, an ``Answer`` out, word by word at the workspace's pace."""

    def __init__(self, pace: Pace, name: str = "demo-llm") -> None:
        self.pace = pace
        self.name = name

    def answer(self, request: LLMRequest) -> Answer:
        messages = request.messages
        question = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        last = messages[-1]
        if last.get("role") == "tool":
            called = {
                c.get("id"): (c.get("function") or {}).get("name")
                for m in messages
                for c in m.get("tool_calls") or []
                if isinstance(c, dict)
            }
            tool = called.get(last.get("tool_call_id")) or "tool"
            text = f"The {tool} tool returned: {text_of(last.get('content'))}"
        else:
            function = _asked_tool(request, question)
            if function is not None:
                call = {
                    "id": f"call_{uuid.uuid4().hex}",
                    "type": "function",
                    "function": {
                        "name": function["name"],
                        "arguments": json.dumps(_tool_arguments(function, question)),
                    },
                }
                return Answer(None, [call], "tool_calls", [])
            turns = [(str(m.get("role")), text_of(m.get("content"))) for m in messages]
            asked = knowledge.question_from_turns(turns)
            passages = search_docs(asked.text, asked.context)
            text = knowledge.compose_answer(asked, [knowledge.Passage(**p) for p in passages])
        deltas = knowledge.word_deltas(_formatted(text, request, question))
        finish = "stop"
        if request.max_tokens is not None and len(deltas) > request.max_tokens:
            deltas, finish = deltas[: request.max_tokens], "length"
        return Answer("".join(deltas), [], finish, deltas)


class LLMAdapter:
    """Serves ``DemoLLM`` on the chat-completions wire (``/chat/completions`` and ``/invocations``)."""

    interface: ClassVar[str] = "chat_model"

    def __init__(self, model: DemoLLM) -> None:
        self.model = model

    def parse(self, body: dict[str, Any]) -> LLMRequest:
        from agent_magics.local.interfaces import InvalidRequest

        try:
            return LLMRequest.from_body(body)
        except LLMRequestError as exc:
            raise InvalidRequest(str(exc)) from None

    parse_chat = parse

    def _traced(self, request: LLMRequest) -> Answer:
        with mlflow.start_span(name=self.model.name, span_type=SpanType.CHAT_MODEL) as span:
            span.set_inputs({"messages": request.messages, "max_tokens": request.max_tokens})
            answer = self.model.answer(request)
            span.set_outputs(
                {"content": answer.text, "tool_calls": answer.tool_calls, "finish_reason": answer.finish_reason}
            )
        return answer

    def predict(self, request: LLMRequest) -> dict[str, Any]:
        answer = self._traced(request)
        message: dict[str, Any] = {"role": "assistant", "content": answer.text}
        if answer.tool_calls:
            message["tool_calls"] = answer.tool_calls
        return {
            "id": f"chatcmpl_{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model.name,
            "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason}],
        }

    def stream(self, request: LLMRequest) -> Iterator[dict[str, Any]]:
        answer = self._traced(request)
        completion_id, created = f"chatcmpl_{uuid.uuid4().hex}", int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model.name,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        if answer.tool_calls:
            yield chunk({"role": "assistant", "content": None, "tool_calls": [{"index": 0, **answer.tool_calls[0]}]})
        else:
            for index, delta in enumerate(self.model.pace.paced(answer.deltas)):
                yield chunk({"role": "assistant", "content": delta} if index == 0 else {"content": delta})
        yield chunk({}, answer.finish_reason)
