"""A real MLflow tracking server beside the local workspace, for ``%%agent_eval`` and ``%%agent --log``.

MLflow's own server (``mlflow server``: its REST API and UI) on 127.0.0.1, with a SQLite backend and
its artifacts in a data directory the caller names, which outlives the kernel. Started on first
request (``POST /api/2.0/agent-magics/mlflow-server`` with ``{"data_dir": ...}``), since it takes
seconds to boot and most sessions never evaluate; one server per data directory, stopped with the
workspace.

It runs under a small supervisor process (``python -m agent_magics.local.mlflow_server``) that
holds a pipe from the workspace: when the workspace goes, even killed, the pipe closes and the
supervisor stops MLflow's server and its workers (its own process group), so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ROUTE = "/api/2.0/agent-magics/mlflow-server"
START_TIMEOUT = 180.0  # MLflow's server takes 10-35 s to boot on a busy two-core machine
# What the workspace process set for itself (serving-mode tracing) and must not hand to MLflow's server.
_FOREIGN_PREFIXES = ("DATABRICKS_", "MLFLOW_", "OTEL_")
_FOREIGN = ("IS_IN_DB_MODEL_SERVING_ENV", "ENABLE_MLFLOW_TRACING")


def server_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    source = dict(os.environ if environ is None else environ)
    env = {k: v for k, v in source.items() if not k.startswith(_FOREIGN_PREFIXES) and k not in _FOREIGN}
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        # No background job runner (huey): the judges run in the notebook, not in the server.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def server_command(data_dir: Path, port: int, python: str = sys.executable) -> list[str]:
    return [
        python,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{data_dir / 'mlflow.db'}",
        "--artifacts-destination",
        str(data_dir / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def full_mlflow_installed() -> bool:
    """Whether the ``mlflow`` distribution is installed: mlflow-skinny ships no tracking server."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        version("mlflow")
    except PackageNotFoundError:
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


class TrackingServerError(RuntimeError):
    pass


@dataclass
class TrackingServer:
    data_dir: Path
    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Close the supervisor's pipe (it stops MLflow's server), then SIGTERM / SIGKILL it by PID."""
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()
        for action in (None, self.process.terminate, self.process.kill):
            if self.process.poll() is not None:
                break
            if action is not None:
                with contextlib.suppress(OSError):
                    action()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=8)
        self.log.close()


class TrackingServers:
    """The MLflow servers of this workspace, one per data directory, started on demand."""

    def __init__(self) -> None:
        self._servers: dict[Path, TrackingServer] = {}
        self._lock = threading.Lock()  # held while one starts: a second caller waits for the same one

    def ensure(self, data_dir: str) -> str:
        """The URL of the server for ``data_dir``, starting it if need be (blocks until it answers)."""
        directory = Path(data_dir).expanduser().resolve()
        with self._lock:
            server = self._servers.get(directory)
            if server is not None and server.running and _healthy(server.url):
                return server.url
            if server is not None:
                server.stop()
            server = self._start(directory)
            self._servers[directory] = server
            return server.url

    def _start(self, directory: Path) -> TrackingServer:
        if not full_mlflow_installed():
            raise TrackingServerError(
                "MLflow's tracking server needs the full mlflow package (this Python has mlflow-skinny only): "
                "pip install 'agent_magics[evaluate]'"
            )
        directory.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        log = open(directory / "mlflow-server.log", "wb")  # noqa: SIM115 - kept open for the server's life
        process = subprocess.Popen(
            [sys.executable, "-m", "agent_magics.local.mlflow_server", *server_command(directory, port)[4:]],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            cwd=directory,
            env=server_environment(),
            start_new_session=True,  # its own process group, which the supervisor stops as one
        )
        server = TrackingServer(directory, f"http://127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not server.running:
                break
            if _healthy(server.url):
                return server
            time.sleep(0.25)
        server.stop()
        tail = (directory / "mlflow-server.log").read_text(errors="replace").splitlines()[-15:]
        raise TrackingServerError("MLflow's tracking server did not start:\n" + "\n".join(tail))

    def stop_all(self) -> None:
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()


def routes(servers: TrackingServers) -> list[Any]:
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from agent_magics.local.api_errors import api_error

    async def start(request: Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            body = None
        data_dir = body.get("data_dir") if isinstance(body, dict) else None
        if not isinstance(data_dir, str) or not data_dir.strip():
            return api_error(400, "INVALID_PARAMETER_VALUE", "Give data_dir: the directory of the tracking store.")
        try:
            url = await run_in_threadpool(servers.ensure, data_dir)
        except (TrackingServerError, OSError) as exc:
            return api_error(503, "TEMPORARILY_UNAVAILABLE", str(exc))
        return JSONResponse({"url": url, "data_dir": str(Path(data_dir).expanduser().resolve())})

    return [Route(ROUTE, start, methods=["POST"])]


# -- the supervisor process -------------------------------------------------------------------------


def supervise(arguments: list[str]) -> int:
    """Run ``mlflow server ARGUMENTS`` until our stdin closes (the workspace is gone) or it exits."""
    child = subprocess.Popen([sys.executable, "-m", "mlflow", "server", *arguments])
    done = threading.Event()

    def watch_stdin() -> None:
        with contextlib.suppress(Exception):
            while sys.stdin.buffer.read(4096):
                pass
        done.set()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    while not done.wait(0.5):
        if child.poll() is not None:
            return child.returncode or 1
    # MLflow's CLI runs uvicorn as a child of its own: stop the whole group (all started by us).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=5)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)  # ends this process too
    return 0


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1:]))
