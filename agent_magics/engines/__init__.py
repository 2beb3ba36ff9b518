"""Engines: a resolved AgentRequest in, the project's events out. No IPython, no HTML here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx

from ..errors import AgentError
from ..events import Done, ErrorEvent, Event
from ..workspace import Workspace
from .client import make_openai_client, run_client, url_token
from .request import AgentRequest
from .rest import run_rest
from .retry import RetryPolicy

APPS_NEED_OAUTH = (
    "{target}: Databricks Apps accept OAuth tokens only, and these credentials are not OAuth "
    "(a personal access token?). Run `databricks auth login --host <workspace-url>` and use that profile "
    "(--profile), or set DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET."
)

_clients: dict[tuple[int, str, str], Any] = {}
_clients_lock = threading.Lock()
_url_http: httpx.Client | None = None


def _url_http_client() -> httpx.Client:
    """For URL targets: a client that never carries workspace credentials."""
    global _url_http
    with _clients_lock:
        if _url_http is None:
            _url_http = httpx.Client(timeout=httpx.Timeout(30.0), follow_redirects=False)
        return _url_http


def _cached(workspace: Workspace | None, kind: str, base: str, build: Any) -> Any:
    key = (id(workspace), kind, base)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = build()
        return _clients[key]


def base_url(request: AgentRequest, workspace: Workspace | None) -> str:
    if request.kind == "url":
        return request.name.rstrip("/")
    assert workspace is not None
    if request.kind == "app":
        return workspace.app_url(request.name)
    return workspace.host


def run(request: AgentRequest, workspace: Workspace | None, policy: RetryPolicy | None = None) -> Iterator[Event]:
    """All events of one call. Transport failures become ErrorEvent + Done("failed")."""
    policy = policy or RetryPolicy()
    try:
        # Checked here for every client library, so the message is the same whichever one runs
        if request.kind == "app" and workspace is not None and not workspace.uses_oauth():
            yield ErrorEvent(APPS_NEED_OAUTH.format(target=request.target))
            yield Done("failed")
            return
        base = base_url(request, workspace)
    except AgentError as exc:
        yield ErrorEvent(str(exc))
        yield Done("failed")
        return
    http = _url_http_client() if request.kind == "url" else workspace.http()  # type: ignore[union-attr]
    if request.via == "rest" or request.api == "invocations":
        yield from run_rest(request, http, base, policy)
        return
    if request.client_library == "databricks-openai" and request.kind != "url":
        from ..extras import missing_extra_message

        missing = missing_extra_message("databricks-openai", hint="or use client_library 'openai' (the default).")
        if missing:
            yield ErrorEvent(f"{request.target}: {missing}")
            yield Done("failed")
            return
        client = _cached(workspace, "databricks-openai", "", lambda: _databricks_openai(workspace))
        model = f"apps/{request.name}" if request.kind == "app" else request.name
        yield from run_client(request, client, model, policy)
        return
    # DatabricksOpenAI's base URL for serving is <host>/serving-endpoints; apps and URLs are used as they are
    openai_base = f"{base}/serving-endpoints" if request.kind == "endpoint" else base
    if request.kind == "url":
        client = make_openai_client(openai_base, http, api_key=url_token(request))
    else:
        client = _cached(workspace, "openai", openai_base, lambda: make_openai_client(openai_base, http))
    yield from run_client(request, client, request.name if request.kind != "url" else "agent", policy)


def _databricks_openai(workspace: Workspace | None) -> Any:
    from databricks_openai import DatabricksOpenAI

    assert workspace is not None
    return DatabricksOpenAI(workspace_client=workspace.workspace_client(), max_retries=0)
