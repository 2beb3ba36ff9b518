"""Which transport carries a request: the one place that decides between plain REST and a client library.

Every transport has the same shape (``Transport``): ``events(request, policy)`` yields the project's
events and never raises for transport trouble. Clients are cached on their workspace (closed with it);
URL targets get a client of their own that never carries workspace credentials.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol

import httpx

from agent_magics.core.errors import AgentError
from agent_magics.core.events import Event
from agent_magics.core.extras import missing_extra_message
from agent_magics.core.request import URL_MODEL, AgentRequest, Via
from agent_magics.transport.client import ClientTransport, make_openai_client, url_token
from agent_magics.transport.http import BoundedClient
from agent_magics.transport.rest import RestTransport
from agent_magics.transport.retry import RetryPolicy
from agent_magics.transport.workspace import Workspace

APPS_NEED_OAUTH = (
    "{target}: Databricks Apps accept OAuth tokens only, and these credentials are not OAuth "
    "(a personal access token?). Run `databricks auth login --host <workspace-url>` and use that profile "
    "(--profile), or set DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET."
)


class Transport(Protocol):
    via: Via

    def events(self, request: AgentRequest, policy: RetryPolicy) -> Iterator[Event]: ...


_url_http: BoundedClient | None = None
_url_http_lock = threading.Lock()


def _url_http_client() -> BoundedClient:
    """For URL targets: a client that never carries workspace credentials (bodies bounded, as all ours)."""
    global _url_http
    with _url_http_lock:
        if _url_http is None:
            _url_http = BoundedClient(timeout=httpx.Timeout(30.0), follow_redirects=False)
        return _url_http


def base_url(request: AgentRequest, workspace: Workspace | None) -> str:
    if request.kind == "url":
        return request.name.rstrip("/")
    assert workspace is not None
    if request.kind == "app":
        return workspace.app_url(request.name)
    return workspace.host


def select_transport(request: AgentRequest, workspace: Workspace | None) -> Transport:
    """The transport for ``request``; raises ``AgentError`` (already phrased) when it cannot be reached."""
    # Checked here for every client library, so the message is the same whichever one runs
    if request.kind == "app" and workspace is not None and not workspace.uses_oauth():
        raise AgentError(APPS_NEED_OAUTH.format(target=request.target))
    base = base_url(request, workspace)
    if request.kind == "url":
        if request.via == "rest" or request.api == "invocations":
            return RestTransport(_url_http_client(), base)
        # The client appends its own /responses or /chat/completions: a URL that names one is its base
        client_base = base.removesuffix("/chat/completions").removesuffix("/responses")
        client = make_openai_client(client_base, _url_http_client(), api_key=url_token(request))
        return ClientTransport(client, URL_MODEL)
    assert workspace is not None
    if request.via == "rest" or request.api == "invocations":
        return RestTransport(workspace.http(), base)
    model = f"apps/{request.name}" if request.kind == "app" else request.name
    if request.client_library == "databricks-openai":
        missing = missing_extra_message("databricks-openai", hint="or use client_library 'openai' (the default).")
        if missing:
            raise AgentError(f"{request.target}: {missing}")
        return ClientTransport(workspace.cached("databricks-openai", "", lambda: _databricks_openai(workspace)), model)
    # DatabricksOpenAI's base URL for serving is <host>/serving-endpoints; apps are used as they are
    openai_base = f"{base}/serving-endpoints" if request.kind == "endpoint" else base
    client = workspace.cached("openai", openai_base, lambda: make_openai_client(openai_base, workspace.http()))
    return ClientTransport(client, request.name)


def _databricks_openai(workspace: Workspace) -> Any:
    from databricks_openai import DatabricksOpenAI

    client = DatabricksOpenAI(workspace_client=workspace.workspace_client(), max_retries=0)
    _bound_http(client)
    _bound_app_clients(client.responses)
    return client


def _bound_http(client: Any) -> None:
    """The library's own httpx client reads whole bodies unbounded: swap in ours, with the same auth,
    redirects and timeout."""
    inner = getattr(client, "_client", None)
    if isinstance(inner, httpx.Client) and not isinstance(inner, BoundedClient):
        client._client = BoundedClient(auth=inner.auth, follow_redirects=inner.follow_redirects, timeout=inner.timeout)
        inner.close()


def _bound_app_clients(responses: Any) -> None:
    """``apps/<name>`` goes through a second OpenAI client per app that DatabricksOpenAI builds itself,
    with the openai default of 2 hidden retries and an unbounded httpx client: each one it builds
    gets our bounded client and no retries of its own (ours happen before the first byte only)."""
    build, cache = getattr(responses, "_get_app_client", None), getattr(responses, "_app_clients_cache", None)
    if build is None or not isinstance(cache, dict):  # another release of the library: left as it is
        return

    building = threading.Lock()  # MLflow's predict threads share this client: one build per app

    def bounded_app_client(app_name: str) -> Any:
        with building:
            return _bounded_app_client(app_name)

    def _bounded_app_client(app_name: str) -> Any:
        app_client = build(app_name)
        if app_client.max_retries == 0 and isinstance(getattr(app_client, "_client", None), BoundedClient):
            return app_client
        inner = app_client._client
        bounded = app_client.with_options(
            max_retries=0,
            http_client=BoundedClient(auth=inner.auth, follow_redirects=inner.follow_redirects, timeout=inner.timeout),
        )
        app_client.close()
        cache[app_name] = bounded
        return bounded

    responses._get_app_client = bounded_app_client
