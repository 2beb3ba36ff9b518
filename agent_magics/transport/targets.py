"""What a TARGET string means: a serving endpoint, an app (``apps/<name>``) or a URL."""

from __future__ import annotations

import re

from agent_magics.core.errors import AgentUsageError
from agent_magics.core.request import Api, Interface, Kind
from agent_magics.transport.workspace import Workspace

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def parse_target(text: str) -> tuple[Kind, str]:
    """``apps/<name>`` -> app; ``http(s)://...`` -> url; a name -> serving endpoint."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        return "url", text.rstrip("/")
    if text.startswith("apps/"):
        name = text[len("apps/") :]
        if not _NAME.match(name):
            raise AgentUsageError(f"{text!r} is not a valid app target: write apps/<app-name>.")
        return "app", name
    if not _NAME.match(text):
        raise AgentUsageError(
            f"{text!r} is not a valid target: use a serving endpoint name, apps/<app-name>, or an http(s):// URL."
        )
    return "endpoint", text


def choose_interface(
    kind: Kind, name: str, api: str | None, workspace: Workspace | None, via: str = "rest"
) -> tuple[Interface, Api]:
    """The agent's interface and the API used to call it (``--api auto`` reads the endpoint's task)."""
    api = api or "auto"
    if kind != "endpoint":
        return "responses", ("responses" if api == "auto" else api)  # type: ignore[return-value]
    assert workspace is not None
    interface: Interface = workspace.endpoint_interface(name)  # type: ignore[assignment]
    if api == "auto":
        # A ChatAgent's native /invocations returns every message (tool calls and their outputs);
        # its chat-completions shape keeps only the last assistant message. --api chat still asks that,
        # and so does the client path (an OpenAI client speaks chat completions, not /invocations).
        native = {"responses": "responses", "chat_agent": "invocations" if via == "rest" else "chat"}
        return interface, native.get(interface, "chat")  # type: ignore[return-value]
    if api == "responses" and interface != "responses":
        raise AgentUsageError(
            f"{name} is a {interface.replace('_', ' ')} endpoint (task {_task_hint(interface)}), which does not "
            "speak the Responses API: use --api chat or --api invocations (or --api auto)."
        )
    return interface, api  # type: ignore[return-value]


def _task_hint(interface: str) -> str:
    return {"chat_agent": "agent/v2/chat", "chat_model": "agent/v1/chat"}.get(interface, interface)
