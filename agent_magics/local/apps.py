"""Databricks Apps: the Apps API on the workspace host, and the apps themselves on their own ports.

``demo-app`` is MLflow's real ``AgentServer("ResponsesAgent")`` (``/responses``, ``/invocations``,
``/agent/info``, ``/health``, ``x-mlflow-return-trace-id``) behind an OAuth-only gate, like an app's
front door. ``fault-login`` answers everything with an HTML login page and status 200, which is
what the front door does with a bad or expired browser session.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from agent_magics.local import usage
from agent_magics.local.agents import DemoAgent
from agent_magics.local.api_errors import api_error, not_found
from agent_magics.local.auth import AppAuth, ASGIApp, Scope
from agent_magics.local.catalog import app_json
from agent_magics.local.pacing import Pace
from agent_magics.local.state import WorkspaceState
from agent_magics.local.threads import call_in_thread, iterate_in_thread
from agent_magics.local.tracing import ServedTraces, capture
from agent_magics.transport.embedded_config import DEMO_APP, LOGIN_FAULT_APP, NOT_RESPONSES_APP

logger = logging.getLogger(__name__)


def api_routes(state: WorkspaceState) -> list[Route]:
    async def list_apps(request: Request) -> JSONResponse:
        return JSONResponse({"apps": [app_json(name, url) for name, url in state.app_urls.items()]})

    async def get_app(request: Request) -> JSONResponse:
        name = request.path_params["name"]
        if name not in state.app_urls:
            return not_found(f"App '{name}'")
        return JSONResponse(app_json(name, state.app_urls[name]))

    return [
        Route("/api/2.0/apps", list_apps, methods=["GET"]),
        Route("/api/2.0/apps/{name}", get_app, methods=["GET"]),
    ]


class TraceEachRequest:
    """Gives each app request a request id for MLflow's trace capture and keeps its trace."""

    def __init__(self, app: ASGIApp, traces: ServedTraces) -> None:
        self.app = app
        self.traces = traces

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        self.traces.begin()
        try:
            with capture(request_id):
                await self.app(scope, receive, send)
        finally:
            self.traces.collect(request_id)
            self.traces.end()


def _register_agent(agent: DemoAgent) -> None:
    """Register the app's handlers with AgentServer's module-level ``@invoke`` / ``@stream`` registry.

    That registry holds one function each per process, which is why this process hosts one
    AgentServer app. The handlers are async so AgentServer awaits them instead of running blocking
    agent code on the event loop; the agent itself runs in a worker thread.
    """
    from mlflow.genai.agent_server import get_invoke_function, get_stream_function, invoke, stream
    from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

    # The agent's answer with what an OpenAI Response also carries (id, model, status, usage), and
    # its stream ended by response.completed, as on the serving endpoint (usage.py).
    def prompt(request: ResponsesAgentRequest) -> int:
        return usage.prompt_tokens(request.model_dump(exclude_none=True))

    async def demo_app_invoke(request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        answer = (await call_in_thread(agent.predict, request)).model_dump(exclude_none=True)
        fields = usage.response_fields(DEMO_APP, answer["output"], prompt(request))
        return ResponsesAgentResponse(**{**fields, **answer})

    async def demo_app_stream(request: ResponsesAgentRequest) -> AsyncIterator[ResponsesAgentStreamEvent]:
        items, custom = [], None
        async for event in iterate_in_thread(lambda: agent.predict_stream(request)):
            if event.type == "response.output_item.done":
                items.append(event.item)
                custom = event.custom_outputs or custom
            yield event
        response = {**usage.response_fields(DEMO_APP, items, prompt(request)), "output": items}
        if custom is not None:
            response["custom_outputs"] = custom
        yield ResponsesAgentStreamEvent(type="response.completed", response=response)

    if get_invoke_function() is None:
        invoke()(demo_app_invoke)
    if get_stream_function() is None:
        stream()(demo_app_stream)


class BuiltOnFirstRequest:
    """An ASGI app that is built when its first request arrives, in a worker thread, once.

    MLflow's AgentServer takes ~0.15 s to import and build, all of it before the workspace could
    say it is ready; a first cell that asks a serving endpoint should not wait for an app it does
    not use. Every request waits on the one build (a request that is cancelled meanwhile does not
    start another); a build that fails is logged once, and each request is answered 500 with why.
    """

    def __init__(self, name: str, build: Callable[[], ASGIApp]) -> None:
        self._name = name
        self._build = build
        self._built: asyncio.Future[ASGIApp] | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if self._built is None:
            # An empty context: the app must not keep anything of the request that happened first.
            self._built = asyncio.get_running_loop().run_in_executor(None, contextvars.Context().run, self._build)
            self._built.add_done_callback(self._log_failure)
        try:
            app = await asyncio.shield(self._built)
        except Exception as exc:
            message = f"The app '{self._name}' failed to start ({type(exc).__name__}); see the local workspace's log."
            # 500, not 503: clients retry a 503, and this build is not tried again.
            await api_error(500, "INTERNAL_ERROR", message)(scope, receive, send)
            return
        await app(scope, receive, send)

    def _log_failure(self, built: asyncio.Future[ASGIApp]) -> None:
        if not built.cancelled() and built.exception() is not None:
            logger.error("app %s failed to start", self._name, exc_info=built.exception())


def build_demo_app(state: WorkspaceState, pace: Pace) -> ASGIApp:
    def build() -> ASGIApp:
        from mlflow.genai.agent_server import AgentServer

        _register_agent(DemoAgent(pace))
        return AgentServer("ResponsesAgent").app

    traced = TraceEachRequest(BuiltOnFirstRequest(DEMO_APP, build), state.traces)
    return AppAuth(traced, state.tokens, DEMO_APP, state.host)


LOGIN_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Databricks - Sign in</title></head>
<body>
  <main>
    <h1>Sign in to Databricks</h1>
    <p>Your session has expired. Sign in to continue to this app.</p>
    <form method="post" action="/oidc/login">
      <label>Email <input type="email" name="email"></label>
      <label>Password <input type="password" name="password"></label>
      <button type="submit">Continue</button>
    </form>
  </main>
</body>
</html>
"""


async def login_page_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await HTMLResponse(LOGIN_PAGE, status_code=200)(scope, receive, send)


def build_not_responses_app(state: WorkspaceState) -> ASGIApp:
    """Like an app on DatabricksAgentKit's DurableAgentServer: its own protocol, no ``/responses``."""

    async def invocations(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"id": body.get("id"), "status": "completed", "output": "durable answer"})

    app = Starlette(routes=[Route("/api/invocations", invocations, methods=["POST"])])
    return AppAuth(app, state.tokens, NOT_RESPONSES_APP, state.host)


def build_apps(state: WorkspaceState, pace: Pace) -> dict[str, ASGIApp]:
    return {
        DEMO_APP: build_demo_app(state, pace),
        LOGIN_FAULT_APP: login_page_app,
        NOT_RESPONSES_APP: build_not_responses_app(state),
    }
