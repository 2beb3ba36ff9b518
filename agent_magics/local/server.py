"""The local workspace server process: the workspace host and one port per app, in one event loop.

Run by ``LocalWorkspace`` as ``python -m agent_magics.local.server --config-stdin``: it reads its
``ServerConfig`` as one JSON line on stdin, prints one ready line on stdout once every port accepts
connections, logs to stderr, and exits when stdin closes (its parent is gone) or on SIGTERM/SIGINT.
The CLI (``agent-magics workspace``) calls ``serve`` in the foreground instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from agent_magics.transport.embedded_config import APP_NAMES, READY_MARKER, ServerConfig

if TYPE_CHECKING:  # the server's modules import MLflow: keep this module cheap to import
    from starlette.requests import Request
    from starlette.responses import Response

    from agent_magics.local.auth import ASGIApp
    from agent_magics.local.state import WorkspaceState

logger = logging.getLogger("agent_magics.local")

# Serving-mode tracing: MLflow keeps each finished trace in memory for the request that made it
# (see tracing.py). Telemetry off, so nothing leaves the machine.
SERVER_ENVIRONMENT = {
    "IS_IN_DB_MODEL_SERVING_ENV": "true",
    "ENABLE_MLFLOW_TRACING": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DATABRICKS_APP_NAME": "demo-app",  # AgentServer reports it in /agent/info
    # Attachments (base64 images in span data) would be split out of the trace into a store this
    # workspace does not have; kept inline, the trace returned is the whole trace.
    "MLFLOW_TRACE_EXTRACT_ATTACHMENTS": "false",
    # Installs MLflow's sampler that honours a per-request override: requests whose trace cannot be
    # seen are not traced (tracing.capture); all others are (ratio 1).
    "MLFLOW_TRACE_SAMPLING_RATIO": "1.0",
}
# Settings that would send traces elsewhere or point MLflow/databricks-sdk at a real workspace.
_FOREIGN_PREFIXES = ("DATABRICKS_", "MLFLOW_", "OTEL_")


def prepare_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Make this process trace like Model Serving and reach nothing outside (before MLflow loads)."""
    for key in [k for k in environ if k.startswith(_FOREIGN_PREFIXES)]:
        del environ[key]
    environ.update(SERVER_ENVIRONMENT)
    # Traces go to MLflow's in-memory serving buffer and no tracking store is ever opened, but with
    # no URI set MLflow looks for ``./mlruns`` on the disk at every span (~10% of a request's CPU).
    # A path in the temp dir, so that nothing could ever land in the user's folder.
    environ["MLFLOW_TRACKING_URI"] = "sqlite:///" + os.path.join(tempfile.gettempdir(), "agent-magics-unused-mlflow.db")


def _http_implementation() -> str:
    """httptools (C) parses requests several times faster than h11, which stays the fallback."""
    import importlib.util

    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` on uvloop where it is installed: every request crosses the loop twice."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


@dataclass(frozen=True)
class Ready:
    host: str
    apps: dict[str, str]

    def to_json(self) -> str:
        return json.dumps({"host": self.host, "apps": self.apps, "pid": os.getpid()})


def _bind(port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio turns Nagle off (TCP_NODELAY) only for sockets that say so;
    # without it every keep-alive response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))  # loopback only, always
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


def build_workspace_app(state: WorkspaceState) -> ASGIApp:
    from starlette.applications import Starlette

    from agent_magics.local import apps, identity, mlflow_server, oidc, serving, tracing
    from agent_magics.local.api_errors import api_error
    from agent_magics.local.auth import WorkspaceAuth
    from agent_magics.local.faults import KeepRawSend
    from agent_magics.local.limits import RequestLimits
    from agent_magics.local.statements import statement_routes

    async def not_found(request: Request, exc: Exception) -> Response:
        return api_error(404, "ENDPOINT_NOT_FOUND", f"No API found for '{request.method} {request.url.path}'.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return api_error(405, "BAD_REQUEST", f"Method {request.method} is not allowed for {request.url.path}.")

    routes = [
        *oidc.routes(state.tokens),
        *identity.routes(state.tokens, state.config.client_id),
        *serving.routes(state),
        *apps.api_routes(state),
        *tracing.routes(state.traces),
        *mlflow_server.routes(state.tracking),  # a real MLflow tracking server, on first request
        *statement_routes(),  # SQL warehouse: ai_query SQL on DuckDB, routed to these endpoints
    ]

    async def internal_error(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error in %s %s", request.method, request.url.path)
        return api_error(500, "INTERNAL_ERROR", "The request failed inside the local workspace; see its log.")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed, Exception: internal_error})
    # Bodies are bounded after the auth gate: an unauthenticated request is refused unread.
    return KeepRawSend(WorkspaceAuth(RequestLimits(app, limits_of(state.config)), state.tokens))


def _limited(app: Any, limits: Any) -> Any:
    """An app host with its body bounded after its auth gate, as the workspace's: an unauthenticated
    request is refused unread."""
    from agent_magics.local.auth import AppAuth
    from agent_magics.local.limits import RequestLimits

    if isinstance(app, AppAuth):
        app.app = RequestLimits(app.app, limits)
        return app
    return RequestLimits(app, limits)


def limits_of(config: ServerConfig) -> Any:
    from agent_magics.local.limits import Limits

    return Limits(config.max_body_bytes, config.max_json_depth, config.header_timeout, config.body_timeout)


async def serve(config: ServerConfig, on_ready: Callable[[Ready], None], stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM)."""
    # Bind first: a taken port fails in milliseconds, before the heavy imports below.
    workspace_sock = _bind(config.port)
    app_socks = {name: _bind(config.app_port + i if config.app_port else 0) for i, name in enumerate(APP_NAMES)}

    import uvicorn

    from agent_magics.local.apps import build_apps
    from agent_magics.local.auth import TokenRegistry
    from agent_magics.local.catalog import build_endpoints
    from agent_magics.local.limits import http_protocol
    from agent_magics.local.pacing import Pace
    from agent_magics.local.state import WorkspaceState

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # several servers share one loop: we own signals
            yield

    stop = stop or asyncio.Event()
    pace = Pace(config.first_token_delay, config.tokens_per_second)
    state = WorkspaceState(
        config=config,
        host=_url(workspace_sock),
        app_urls={name: _url(sock) for name, sock in app_socks.items()},
        tokens=TokenRegistry(config.token, config.client_id, config.client_secret, config.oauth_token_ttl),
        endpoints=build_endpoints(pace),
    )
    limits = limits_of(config)
    apps = {name: _limited(app, limits) for name, app in build_apps(state, pace).items()}
    asgi_apps = {"workspace": build_workspace_app(state), **apps}
    sockets = {"workspace": workspace_sock, **app_socks}
    http = http_protocol(_http_implementation(), config.header_timeout)
    servers = {
        name: Server(
            uvicorn.Config(app, http=http, lifespan="off", log_config=None, timeout_graceful_shutdown=2, ws="none")
        )
        for name, app in asgi_apps.items()
    }
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows / not main thread
            loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.create_task(server.serve(sockets=[sockets[name]])) for name, server in servers.items()]
    try:
        while not all(s.started for s in servers.values()):
            if any(t.done() for t in tasks):
                raise RuntimeError("a server failed to start; see the log above")
            await asyncio.sleep(0.01)
        logger.info("local workspace ready on %s, apps %s", state.host, state.app_urls)
        on_ready(Ready(state.host, dict(state.app_urls)))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    finally:
        for server in servers.values():
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for sock in sockets.values():
            sock.close()
        state.tracking.stop_all()


def _exit_when_stdin_closes(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """The parent keeps our stdin open for its whole life; EOF means it is gone, so stop too."""

    def watch() -> None:
        with contextlib.suppress(Exception):
            while sys.stdin.buffer.read(4096):
                pass
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def configure_logging(stream: Any) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> NoReturn:
    parser = argparse.ArgumentParser(description="agent_magics local workspace server (internal).")
    parser.add_argument("--config-stdin", action="store_true", help="read the ServerConfig JSON line on stdin")
    args = parser.parse_args(argv)
    if not args.config_stdin:
        parser.error("use `agent-magics workspace` to run a workspace in the foreground")
    # Start-up (MLflow's import) makes ~330,000 objects and almost no garbage, and the collector
    # running through it costs ~0.25 s of a start-up that a first cell waits for. It comes back once
    # the server is up, with those objects frozen out of its way: collecting them first would cost
    # 0.2 s more, and freezing keeps only the ~1,600 objects of garbage that start-up leaves.
    gc.disable()
    prepare_environment()
    config = ServerConfig.from_json(sys.stdin.readline())
    configure_logging(sys.stderr)

    def announce(ready: Ready) -> None:
        gc.freeze()
        gc.enable()
        sys.stdout.write(READY_MARKER + ready.to_json() + "\n")
        sys.stdout.flush()
        # Nobody reads stdout after this line: send any later output to the log, not a full pipe.
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    async def run() -> None:
        stop = asyncio.Event()
        _exit_when_stdin_closes(asyncio.get_running_loop(), stop)
        await serve(config, announce, stop)

    try:
        run_event_loop(run())
    except Exception:  # e.g. a dependency that fails to import: log it, then leave
        # A plain exit would wait on the stdin watcher at interpreter shutdown and abort (code -6).
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        logging.shutdown()
        os._exit(1)
    # Nothing is left to flush (traces live in memory only), and tearing down MLflow's module graph
    # at interpreter exit costs a second or more: leave right away so stop() is quick.
    logging.shutdown()
    os._exit(0)


if __name__ == "__main__":
    main()
