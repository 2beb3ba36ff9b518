"""``LocalWorkspace``: start, reach and stop a local workspace server in its own process.

Light on purpose (standard library only): importing it costs nothing; the server process pays for
MLflow and uvicorn, and serving never competes with a notebook kernel for the GIL.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from agent_magics.core.errors import AgentError
from agent_magics.core.text import one_line
from agent_magics.transport.embedded_config import READY_MARKER, ServerConfig

AuthKind = Literal["oauth", "pat"]
# Environment prefixes a workspace server must not inherit (they would point it elsewhere).
_FOREIGN_PREFIXES = ("DATABRICKS_", "MLFLOW_", "OTEL_")


class LocalWorkspaceError(AgentError):
    """The local workspace server could not start: one line saying why; ``log`` holds the server log's tail."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


def _cause(log: str) -> str:
    """The line of a server log that says why it stopped (the exception, or the error it logged)."""
    noise = ("Fatal Python error", "Python runtime state", "Current thread", "Traceback", "File ", "Server log")
    lines = [line.strip() for line in log.splitlines() if line.strip() and not line.strip().startswith(noise)]
    for line in reversed(lines):
        if "Error" in line or "error" in line or "Exception" in line:
            return one_line(line, 300)
    return one_line(lines[-1], 300) if lines else "it printed nothing"


def _server_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN_PREFIXES)}
    # The server must import this very package, installed or not.
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.update(PYTHONUNBUFFERED="1", MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    return env


def _require_local_extra() -> None:
    """Without the [local] extra the server would die on its first import: say so before starting it."""
    from agent_magics.core.extras import require_extra  # imported here: this module stays standard-library only

    require_extra(
        "local",
        hint="or point at a Databricks workspace (DATABRICKS_HOST and DATABRICKS_TOKEN, "
        "or a ~/.databrickscfg profile).",
    )


class LocalWorkspace:
    """A Databricks-compatible workspace on 127.0.0.1, served by a child process.

    >>> with LocalWorkspace(first_token_delay=0, tokens_per_second=0) as ws:  # doctest: +SKIP
    ...     WorkspaceClient(host=ws.host, token=ws.token).serving_endpoints.get("demo-agent")

    ``port`` / ``app_port`` 0 pick free ports. ``first_token_delay`` / ``tokens_per_second`` set the
    demo agents' streaming pace (0 and 0: as fast as possible). ``header_timeout``,
    ``body_timeout`` and ``max_body_bytes`` bound what one client may make the server hold (a 408
    or 413 past them). ``python`` runs the server on another interpreter (one whose environment has
    the server's packages). The PAT and the OAuth client secret are random per instance.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        app_port: int = 0,
        first_token_delay: float = 0.05,
        tokens_per_second: float = 80.0,
        hang_seconds: float = 60.0,
        startup_timeout: float = 60.0,
        header_timeout: float = 10.0,
        body_timeout: float = 30.0,
        max_body_bytes: int = 16 * 1024 * 1024,
        python: str | None = None,
    ) -> None:
        self._config = ServerConfig(
            port=port,
            app_port=app_port,
            first_token_delay=first_token_delay,
            tokens_per_second=tokens_per_second,
            hang_seconds=hang_seconds,
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            max_body_bytes=max_body_bytes,
        )
        self.startup_timeout = startup_timeout
        # The interpreter that runs the server: this one by default; another environment's when the
        # caller's has client libraries but not the server's packages (tests of third-party clients).
        self.python = python or sys.executable
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._dir: str | None = None
        self._host: str | None = None
        self._apps: dict[str, str] = {}
        self._lock = threading.RLock()
        self.launched_at: float | None = None  # time.monotonic() when the process was started

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalWorkspace:
        """Start the server (or finish a ``launch()``) and wait until every port accepts connections."""
        with self._lock:
            if self.running and self._host is not None:
                return self
            self.launch()
            try:
                ready = self._wait_ready()
            except BaseException:
                self.stop()
                raise
            self._host, self._apps = ready["host"], dict(ready["apps"])
            return self

    def launch(self) -> LocalWorkspace:
        """Start the server process and return at once (``start()`` then waits for it to be ready).

        A cold first cell launches it before importing its own heavy modules, so the server's start-up
        (MLflow, uvicorn: ~2 s) and the kernel's imports run at the same time.
        """
        with self._lock:
            if self._process is not None:
                return self
            if self.python == sys.executable:  # another interpreter answers for its own packages
                _require_local_extra()
            self.launched_at = time.monotonic()
            self._dir = tempfile.mkdtemp(prefix="agent-magics-workspace-")
            self._log = open(os.path.join(self._dir, "server.log"), "wb")  # noqa: SIM115 - kept open
            self._process = subprocess.Popen(
                [self.python, "-m", "agent_magics.local.server", "--config-stdin"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                cwd=self._dir,
                env=_server_environment(),
                start_new_session=True,  # a Ctrl-C in the terminal is for the kernel, not the server
            )
            assert self._process.stdin is not None
            # Secrets go over the pipe, never on the command line. The pipe stays open: the server
            # exits when it closes, so it cannot outlive this process.
            self._process.stdin.write(self._config.to_json().encode() + b"\n")
            self._process.stdin.flush()
            atexit.register(self.stop)
            return self

    def _wait_ready(self) -> dict[str, Any]:
        process = self._process
        assert process is not None and process.stdout is not None
        lines: queue.Queue[bytes] = queue.Queue()

        def read() -> None:
            for line in iter(process.stdout.readline, b""):  # type: ignore[union-attr]
                lines.put(line)
                if line.startswith(READY_MARKER.encode()):
                    break
            lines.put(b"")

        threading.Thread(target=read, name="workspace-ready", daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                tail = self._log_tail()
                raise LocalWorkspaceError(
                    f"the local demo workspace did not start within {self.startup_timeout:.0f} s ({_cause(tail)}); "
                    "set DATABRICKS_HOST and a token to use a real workspace",
                    tail,
                )
            try:
                line = lines.get(timeout=min(remaining, 0.25))
            except queue.Empty:
                continue
            if line.startswith(READY_MARKER.encode()):
                process.stdout.close()  # the server sends nothing more on stdout
                return json.loads(line[len(READY_MARKER) :])
            if not line:
                process.wait(timeout=5)
                tail = self._log_tail()
                raise LocalWorkspaceError(
                    f"the local demo workspace could not start: its server exited with code {process.returncode} "
                    f"before it was ready ({_cause(tail)}); set DATABRICKS_HOST and a token to use a real workspace",
                    tail,
                )

    def _log_tail(self, lines: int = 40) -> str:
        if not self._dir:
            return ""
        with contextlib.suppress(OSError):
            text = Path(self._dir, "server.log").read_text(errors="replace")
            return "Server log (last lines):\n" + "\n".join(text.splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """Stop the server (idempotent): close its stdin, then SIGTERM, then SIGKILL, by PID."""
        with self._lock:
            process, self._process = self._process, None
            if process is not None:
                with contextlib.suppress(OSError):
                    if process.stdin:
                        process.stdin.close()
                for action, wait in ((None, 5.0), (process.terminate, 3.0), (process.kill, 3.0)):
                    if process.poll() is not None:
                        break
                    if action is not None:
                        with contextlib.suppress(OSError):
                            action()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=wait)
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
            self._host, self._apps = None, {}
            self.launched_at = None
            atexit.unregister(self.stop)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> LocalWorkspace:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- how to reach it ---------------------------------------------------------------------

    def _require_started(self) -> str:
        if self._host is None:
            raise LocalWorkspaceError("The local workspace is not running; call start() or use `with`.")
        return self._host

    @property
    def host(self) -> str:
        """``http://127.0.0.1:<port>``: the workspace URL (DATABRICKS_HOST)."""
        return self._require_started()

    @property
    def token(self) -> str:
        """A personal access token (``dapi...``) accepted by the workspace; apps refuse it."""
        return self._config.token

    @property
    def client_id(self) -> str:
        """OAuth M2M client id (a service principal of this workspace)."""
        return self._config.client_id

    @property
    def client_secret(self) -> str:
        return self._config.client_secret

    @property
    def app_urls(self) -> dict[str, str]:
        self._require_started()
        return dict(self._apps)

    def app_url(self, name: str) -> str:
        """The URL of app ``name`` (``demo-app``, ``fault-login``), as ``GET /api/2.0/apps/{name}`` says."""
        urls = self.app_urls
        if name not in urls:
            raise KeyError(f"no app {name!r} (apps: {', '.join(urls)})")
        return urls[name]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> str | None:
        """The server's log file (removed by ``stop``). It never contains tokens."""
        return os.path.join(self._dir, "server.log") if self._dir else None

    def env(self, auth: AuthKind = "oauth") -> dict[str, str]:
        """Environment variables that point databricks-sdk at this workspace.

        ``"oauth"``: DATABRICKS_HOST, DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET (works for
        serving endpoints and apps). ``"pat"``: DATABRICKS_HOST, DATABRICKS_TOKEN (serving only).
        Both set DATABRICKS_AUTH_TYPE. Remove other DATABRICKS_* variables before applying them:
        databricks-sdk refuses a token and client credentials together.
        """
        if auth == "oauth":
            return {
                "DATABRICKS_HOST": self.host,
                "DATABRICKS_CLIENT_ID": self.client_id,
                "DATABRICKS_CLIENT_SECRET": self.client_secret,
                "DATABRICKS_AUTH_TYPE": "oauth-m2m",
            }
        if auth == "pat":
            return {"DATABRICKS_HOST": self.host, "DATABRICKS_TOKEN": self.token, "DATABRICKS_AUTH_TYPE": "pat"}
        raise ValueError(f"auth must be 'oauth' or 'pat', not {auth!r}")

    def __repr__(self) -> str:  # no secrets
        state = f"host={self._host!r}" if self._host else "stopped"
        return f"LocalWorkspace({state}, pid={self.pid})"


_shared: LocalWorkspace | None = None
_shared_lock = threading.Lock()


def shared_workspace() -> LocalWorkspace:
    """The process-wide local workspace (the magics' no-config default), started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.running:
            _shared = LocalWorkspace()
        workspace = _shared
    return workspace.start()  # waits for a launch_shared_workspace() already under way


def launch_shared_workspace() -> bool:
    """Start the process-wide workspace's process without waiting; True if this call started it.

    ``shared_workspace()`` later waits for it. Nothing happens when it is running or launched.
    """
    global _shared
    with _shared_lock:
        if _shared is not None and _shared.running:
            return False
        _shared = LocalWorkspace()
        _shared.launch()
        return True


def shared_workspace_ready() -> bool:
    """Is the process-wide workspace up (started and answering)?"""
    with _shared_lock:
        return _shared is not None and _shared.running and _shared._host is not None
