"""AgentRequest: a resolved query, and the request bodies each wire format wants."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from agent_magics.core import defaults
from agent_magics.core.errors import AgentUsageError
from agent_magics.core.text import content_text

Kind = Literal["endpoint", "app", "url"]
Interface = Literal["responses", "chat_agent", "chat_model"]
Api = Literal["responses", "chat", "invocations"]
Via = Literal["client", "rest"]

MAX_ITEM_ID = 64  # Databricks rejects longer item ids when they are replayed as input
URL_MODEL = "agent"  # the model name a URL target is asked with (it names no model of its own)


def is_time_limit(seconds: float) -> bool:
    """A usable number of seconds: positive and finite (nan and inf compare false here)."""
    return 0 < seconds < 10**9


@dataclass(frozen=True)
class Timeouts:
    connect: float = defaults.CONNECT_TIMEOUT
    read: float = defaults.READ_TIMEOUT
    total: float | None = None  # whole answer; None = no limit

    def __post_init__(self) -> None:
        for name in ("connect", "read", "total"):
            value = getattr(self, name)
            if value is None or (name == "total" and value == 0):  # no limit (ask(timeout=0) always meant that)
                continue
            if not is_time_limit(value):  # nan, inf and negatives are no limit either: refused, not ignored
                raise AgentUsageError(f"the {name} timeout must be a positive number of seconds, not {value!r}.")


@dataclass
class AgentRequest:
    target: str  # as the user wrote it (for messages)
    kind: Kind
    name: str  # endpoint name, app name, or base URL
    interface: Interface
    api: Api
    via: Via
    input: list[dict[str, Any]]  # Responses-style input items (messages + replayed output items)
    stream: bool = True
    custom_inputs: dict[str, Any] | None = None
    databricks_options: dict[str, Any] = field(default_factory=dict)
    return_trace: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)
    token_env: str | None = None  # URL targets: env var with the bearer token
    client_library: str = "openai"  # openai | databricks-openai (client path only)

    def extra_body(self) -> dict[str, Any]:
        """``custom_inputs`` and ``databricks_options``, as top-level JSON keys beside the payload."""
        extra: dict[str, Any] = {}
        if self.custom_inputs is not None:
            extra["custom_inputs"] = self.custom_inputs
        options = dict(self.databricks_options)
        if self.return_trace:
            options["return_trace"] = True
        if options and self.kind == "endpoint":  # apps and plain URLs do not take databricks_options
            extra["databricks_options"] = options
        return extra

    def extra_headers(self) -> dict[str, str]:
        # Apps (MLflow AgentServer) return only a trace id, and only when asked by header.
        if self.return_trace and self.kind in ("app", "url"):
            return {"x-mlflow-return-trace-id": "true"}
        return {}

    def responses_input(self) -> list[dict[str, Any]]:
        return [_truncate_id(item) for item in self.input]

    def chat_messages(self) -> list[dict[str, Any]]:
        return items_to_messages(self.input)

    def body(self) -> dict[str, Any]:
        """The JSON body for the REST path of this request's API."""
        if self.api == "responses":
            payload: dict[str, Any] = {"input": self.responses_input()}
            if self.kind == "endpoint":
                payload["model"] = self.name
        elif self.api == "chat":
            payload = {"messages": self.chat_messages()}
            if self.kind == "endpoint":
                payload["model"] = self.name
            elif self.kind == "url":  # the URL is not a model name: the one the client path sends too
                payload["model"] = URL_MODEL
        else:  # invocations: the endpoint's native shape
            payload = (
                {"input": self.responses_input()}
                if self.interface == "responses"
                else {"messages": self.chat_messages()}
            )
        payload.update(self.extra_body())
        if self.stream:
            payload["stream"] = True
        return payload


def _truncate_id(item: dict[str, Any]) -> dict[str, Any]:
    item_id = item.get("id")
    if isinstance(item_id, str) and len(item_id) > MAX_ITEM_ID:
        return {**item, "id": item_id[:MAX_ITEM_ID]}
    return item


def items_to_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses input/output items -> chat messages (for chat completions and ChatAgent)."""
    messages: list[dict[str, Any]] = []
    tool_names: dict[str, str] = {}
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item.get("role", "user"), "content": content_text(item.get("content"))})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")},
            }
            tool_names[str(item.get("call_id"))] = item.get("name", "")
            last = messages[-1] if messages else None
            if last and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id"),
                    "name": tool_names.get(str(item.get("call_id")), item.get("name", "tool")),
                    # a structured output goes as the JSON it was, not as Python's repr of it
                    "content": output if isinstance(output, str) else json.dumps(output, default=str),
                }
            )
        # reasoning and other items have no chat equivalent: skipped
    return messages
