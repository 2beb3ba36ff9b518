"""What a TARGET string means: a serving endpoint, an app (``apps/<name>``) or a URL."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.core.request import Api, Interface, Kind
from agent_magics.transport.workspace import Workspace

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")


def is_endpoint_name(name: str) -> bool:
    """Could ``name`` be a serving endpoint's name? (It goes into URL paths: nothing else may.)"""
    return _NAME.match(name) is not None


def parse_target(text: str) -> tuple[Kind, str]:
    """``apps/<name>`` -> app; ``http(s)://...`` -> url; a name -> serving endpoint."""
    text = text.strip()
    if text.startswith(("http://", "https://")):
        try:
            netloc = urlsplit(text).netloc
        except ValueError:  # e.g. "https://[::1" (an unclosed IPv6 address)
            raise AgentUsageError(f"{text[:80]!r} is not a valid URL target.") from None
        if "@" in netloc:  # the URL is shown in headers, errors and MLflow run names
            raise AgentUsageError(
                "a URL target must not carry credentials (user:password@host): "
                "put the token in an environment variable and pass --token-env NAME."
            )
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
        if kind == "app" and workspace is not None and workspace.uses_oauth():
            _known(workspace, kind, name, workspace.app_url)  # a misspelt app fails here, as an endpoint does
        return "responses", ("responses" if api == "auto" else api)  # type: ignore[return-value]
    assert workspace is not None
    interface: Interface = _known(workspace, kind, name, workspace.endpoint_interface)  # type: ignore[assignment]
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


_LISTS = {"endpoint": ("/api/2.0/serving-endpoints", "endpoints", ""), "app": ("/api/2.0/apps", "apps", "apps/")}


def _known(workspace: Workspace, kind: Kind, name: str, look_up: Callable[[str], str]) -> str:
    """``look_up(name)``; when it fails and the workspace lists no such name, say so, with the close ones."""
    try:
        return look_up(name)
    except AgentError as exc:
        names = _names(workspace, kind) if getattr(exc, "status", None) == 404 else None
        if names is None or name in names:
            raise  # the name exists (or cannot be checked): the original failure says what went wrong
    raise UnknownTarget(unknown_target_message(kind, name, names))


class UnknownTarget(AgentUsageError, AgentError):
    """No endpoint or app of that name: a user mistake (the magics' usage error), and for the Python
    API still the ``AgentError`` a failed lookup always was."""


def _names(workspace: Workspace, kind: Kind) -> list[str] | None:
    path, key, _ = _LISTS[kind]
    try:
        listed = workspace.api("GET", path).get(key) or []
    except AgentError:
        return None
    return [str(entry["name"]) for entry in listed if isinstance(entry, dict) and entry.get("name")]


def unknown_target_message(kind: Kind, name: str, names: list[str]) -> str:
    """The same line for an unknown endpoint and an unknown app: what is missing, the close names, --list."""
    prefix = _LISTS[kind][2]
    what = "serving endpoint" if kind == "endpoint" else "app"
    close = [prefix + n for n in difflib.get_close_matches(name, names, n=3, cutoff=0.6)]
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return f"{prefix}{name}: no {what} of that name in this workspace (HTTP 404).{hint} `%agent --list` shows them all."
