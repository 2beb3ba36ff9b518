"""How Model Serving calls a model of each agent interface: body in, dicts out.

One adapter per interface (ResponsesAgent, ChatAgent, ChatModel), doing what MLflow's pyfunc
wrappers do for a served model: validate the request body into the interface's types, call
``predict`` / ``predict_stream``, and dump results to JSON-ready dicts. Each adapter can also read a
chat-completions body, for ``POST /serving-endpoints/chat/completions``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any, ClassVar

import pydantic
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import ChatAgent, ChatModel, ResponsesAgent
from mlflow.types.agent import ChatAgentMessage, ChatAgentRequest
from mlflow.types.llm import ChatMessage, ChatParams
from mlflow.types.responses import ResponsesAgentRequest

from agent_magics.local.agents import text_of

_FIELD = re.compile(r"[a-z_][a-z0-9_]*")


class InvalidRequest(ValueError):
    """The body does not fit the endpoint's interface (HTTP 400)."""


def _dump(value: Any) -> dict[str, Any]:
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(exclude_none=True)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return dict(value)


def describe_invalid(exc: Exception) -> str:
    """A validation failure as one short line: where and what, without pydantic's input dumps and links."""
    if isinstance(exc, pydantic.ValidationError):
        problems: list[str] = []
        for error in exc.errors():
            # Field names and list indexes only: pydantic also puts validator and union-member
            # names (``function-after[check_role(), Message]``) in the location.
            parts = [str(p) for p in error.get("loc", ()) if isinstance(p, int) or _FIELD.fullmatch(str(p))]
            problem = f"{'.'.join(parts) or 'body'}: {error.get('msg', 'invalid')}"
            if problem not in problems:
                problems.append(problem)
        shown = problems[:3]
        more = len(problems) - len(shown)
        return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "") + "."
    if isinstance(exc, MlflowException):
        return exc.message.strip().splitlines()[0]
    if isinstance(exc, TypeError):  # unexpected keyword arguments of a request type
        return "the body has fields this endpoint does not accept."
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _validated(build: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return build(*args, **kwargs)
    except (pydantic.ValidationError, MlflowException, TypeError, ValueError) as exc:
        raise InvalidRequest(describe_invalid(exc)) from exc


def chat_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``messages`` of a chat body, checked for the shape the adapters read (a 400, not a 500)."""
    messages = body.get("messages") or []
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InvalidRequest('\'messages\' must be a list of message objects like {"role": "user", "content": ...}.')
    for message in messages:
        calls = message.get("tool_calls") or []
        if not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("function", {}), dict) for c in calls
        ):
            raise InvalidRequest('\'tool_calls\' must be a list of objects like {"id": ..., "function": {...}}.')
    return messages


class ResponsesAdapter:
    interface: ClassVar[str] = "responses"

    def __init__(self, agent: ResponsesAgent) -> None:
        self.agent = agent

    def parse(self, body: dict[str, Any]) -> ResponsesAgentRequest:
        if isinstance(body.get("input"), str):
            # The OpenAI client sends ``input="text"`` as a bare string; it means one user message.
            body = {**body, "input": [{"role": "user", "content": body["input"]}]}
        return _validated(ResponsesAgentRequest, **body)

    def parse_chat(self, body: dict[str, Any]) -> ResponsesAgentRequest:
        items: list[dict[str, Any]] = []
        for message in chat_messages(body):
            role = message.get("role")
            if role == "tool":
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": message.get("tool_call_id", ""),
                        "output": text_of(message.get("content")),
                    }
                )
                continue
            if message.get("content"):
                items.append({"role": role, "content": text_of(message.get("content"))})
            for call in message.get("tool_calls") or []:
                function = call.get("function", {})
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id", ""),
                        "name": function.get("name", ""),
                        "arguments": function.get("arguments", "{}"),
                    }
                )
        rest = {k: body[k] for k in ("custom_inputs", "context") if body.get(k) is not None}
        return _validated(ResponsesAgentRequest, input=items, **rest)

    def predict(self, request: ResponsesAgentRequest) -> dict[str, Any]:
        return _dump(self.agent.predict(request))

    def stream(self, request: ResponsesAgentRequest) -> Iterator[dict[str, Any]]:
        for event in self.agent.predict_stream(request):
            yield _dump(event)


class ChatAgentAdapter:
    interface: ClassVar[str] = "chat_agent"

    def __init__(self, agent: ChatAgent) -> None:
        self.agent = agent

    def parse(self, body: dict[str, Any]) -> ChatAgentRequest:
        return _validated(ChatAgentRequest, **body)

    def parse_chat(self, body: dict[str, Any]) -> ChatAgentRequest:
        messages = []
        for message in chat_messages(body):
            fields = {k: message[k] for k in ("role", "name", "tool_calls", "tool_call_id") if message.get(k)}
            fields["content"] = text_of(message.get("content")) if message.get("content") is not None else None
            messages.append(_validated(ChatAgentMessage, **fields))
        rest = {k: body[k] for k in ("custom_inputs", "context") if body.get(k) is not None}
        return _validated(ChatAgentRequest, messages=messages, **rest)

    def predict(self, request: ChatAgentRequest) -> dict[str, Any]:
        return _dump(self.agent.predict(request.messages, request.context, request.custom_inputs))

    def stream(self, request: ChatAgentRequest) -> Iterator[dict[str, Any]]:
        for chunk in self.agent.predict_stream(request.messages, request.context, request.custom_inputs):
            yield _dump(chunk)


_CHAT_PARAMS = {f.name for f in dataclasses.fields(ChatParams)} - {"stream"}


class ChatModelAdapter:
    interface: ClassVar[str] = "chat_model"

    def __init__(self, model: ChatModel) -> None:
        self.model = model

    def parse(self, body: dict[str, Any]) -> tuple[list[ChatMessage], ChatParams]:
        messages = [_validated(ChatMessage.from_dict, dict(m)) for m in chat_messages(body)]
        if not messages:
            raise InvalidRequest("'messages' must be a non-empty list of chat messages.")
        params = {k: v for k, v in body.items() if k in _CHAT_PARAMS and v is not None}
        return messages, _validated(ChatParams.from_dict, params)

    parse_chat = parse

    def predict(self, request: tuple[list[ChatMessage], ChatParams]) -> dict[str, Any]:
        messages, params = request
        return _dump(self.model.predict(None, messages, params))

    def stream(self, request: tuple[list[ChatMessage], ChatParams]) -> Iterator[dict[str, Any]]:
        messages, params = request
        for chunk in self.model.predict_stream(None, messages, params):
            yield _dump(chunk)


Adapter = ResponsesAdapter | ChatAgentAdapter | ChatModelAdapter
