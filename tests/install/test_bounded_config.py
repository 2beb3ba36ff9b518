"""Building the workspace config never waits longer than the connect timeout, whatever the sdk.

Real sockets on 127.0.0.1: a closed port (refused), a port whose accept queue is full (the kernel
drops the SYN: a blackhole), a listener that accepts and never answers, and an HTTP server that
answers 503 to everything (which databricks-sdk retries). Run in every venv leg, so both the lock's
databricks-sdk and the newest one are covered.
"""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from fixtures.loopback import LoopbackServer

import agent_magics.transport.workspace as ws_module
from agent_magics.core.errors import AgentError
from agent_magics.transport.workspace import forget_workspaces, get_workspace

TIMEOUT = 2.0
SLACK = 2.5  # process scheduling on a busy 2-core machine
SECRET = "dapi-do-not-print-me"
CLIENT_SECRET = "oauth-do-not-print-me"
pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connect() is refused
    return port


@pytest.fixture
def blackhole_port() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))  # fills the accept queue: further SYNs are dropped
    yield port
    filler.close()
    listener.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set() and len(held) < 64:  # bounded
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()


class _Unavailable(http.server.BaseHTTPRequestHandler):
    """503 to everything; with ``first_ok``, a 404 to the very first request (our own probe)."""

    first_ok = False
    seen = 0

    def do_GET(self) -> None:
        type(self).seen += 1
        status = 404 if self.first_ok and self.seen == 1 else 503
        body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "try later"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    with LoopbackServer(handler, poll_interval=0.1) as server:
        yield server.port


@pytest.fixture
def unavailable_port() -> Iterator[int]:
    yield from _serve(type("Always503", (_Unavailable,), {}))


@pytest.fixture
def flaky_port() -> Iterator[int]:
    yield from _serve(type("OkThen503", (_Unavailable,), {"first_ok": True}))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[pytest.MonkeyPatch]:
    for name in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.setattr(ws_module, "CONNECT_TIMEOUT", TIMEOUT)
    forget_workspaces()
    yield monkeypatch
    forget_workspaces()


def point_at(env: pytest.MonkeyPatch, host: str, auth: str) -> None:
    env.setenv("DATABRICKS_HOST", host)
    if auth == "pat":
        env.setenv("DATABRICKS_TOKEN", SECRET)
        env.setenv("DATABRICKS_AUTH_TYPE", "pat")
    else:
        env.setenv("DATABRICKS_CLIENT_ID", "some-service-principal")
        env.setenv("DATABRICKS_CLIENT_SECRET", CLIENT_SECRET)
        env.setenv("DATABRICKS_AUTH_TYPE", "oauth-m2m")


def failure_of() -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(AgentError) as raised:
        get_workspace()
    return str(raised.value), time.monotonic() - started


@pytest.mark.parametrize("auth", ["pat", "oauth"])
@pytest.mark.parametrize(
    ("kind", "reason"),
    [("refused", "Connection refused"), ("blackhole", "no connection within 2 s"), ("silent", "no answer within 2 s")],
)
def test_an_unreachable_host_fails_within_the_connect_timeout(env, request, auth, kind, reason):
    port = request.getfixturevalue(f"{kind}_port")
    host = f"http://127.0.0.1:{port}"
    point_at(env, host, auth)
    message, elapsed = failure_of()
    assert elapsed < TIMEOUT + SLACK, f"{kind}/{auth} took {elapsed:.1f} s"
    assert "\n" not in message
    assert message.startswith(f"cannot reach the Databricks workspace {host} (from DATABRICKS_HOST)"), message
    assert reason in message, message
    assert SECRET not in message and CLIENT_SECRET not in message


def test_an_unknown_host_name_fails_at_once(env):
    point_at(env, "https://no-such-host.invalid", "oauth")
    message, elapsed = failure_of()
    assert elapsed < TIMEOUT + SLACK
    assert "no-such-host.invalid" in message and "unknown host" in message and "\n" not in message


def test_a_host_from_a_profile_is_named_with_its_profile(env, tmp_path, refused_port):
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(f"[DEFAULT]\nhost = http://127.0.0.1:{refused_port}\ntoken = {SECRET}\n")
    env.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    message, _ = failure_of()
    assert f"127.0.0.1:{refused_port} (from profile DEFAULT)" in message and SECRET not in message


@pytest.mark.parametrize("auth", ["pat", "oauth"])
def test_a_host_that_answers_503_fails_at_once(env, unavailable_port, auth):
    """databricks-sdk retries 429/503 for its default 300 s while building its config (host metadata
    in newer releases, OIDC discovery for OAuth): our probe says so at once instead."""
    host = f"http://127.0.0.1:{unavailable_port}"
    point_at(env, host, auth)
    message, elapsed = failure_of()
    assert elapsed < TIMEOUT + SLACK
    assert message.startswith(f"the Databricks workspace {host} (from DATABRICKS_HOST) answered 503"), message
    assert "\n" not in message and SECRET not in message and CLIENT_SECRET not in message


def test_the_sdks_own_host_probe_is_bounded_too(env, flaky_port):
    """Our probe gets an answer, then the host fails: databricks-sdk's /.well-known/databricks-config
    probe (releases that have it) retries the 503s only within the connect timeout, then falls back;
    the bound is lifted again afterwards. (With an sdk that has no probe this passes trivially.)"""
    point_at(env, f"http://127.0.0.1:{flaky_port}", "pat")
    started = time.monotonic()
    workspace = get_workspace()
    elapsed = time.monotonic() - started
    assert elapsed < 2 * TIMEOUT + SLACK + 2, f"took {elapsed:.1f} s"  # one attempt + one retry sleep past the bound
    assert workspace.config.retry_timeout_seconds is None
    assert workspace.config.http_timeout_seconds is None


def test_oauth_discovery_that_answers_503_fails_at_once(env, flaky_port):
    """The host answers, then OIDC discovery answers 503: databricks-sdk retries that through a
    module-level client for its default 300 s, which no Config setting bounds. Our probe of the same
    path says so in one line instead."""
    host = f"http://127.0.0.1:{flaky_port}"
    point_at(env, host, "oauth")
    message, elapsed = failure_of()
    assert elapsed < TIMEOUT + SLACK, f"took {elapsed:.1f} s"
    assert message.startswith(f"the Databricks workspace {host} (from DATABRICKS_HOST) answered 503"), message
    assert "\n" not in message and CLIENT_SECRET not in message


def test_profile_timeouts_are_kept(env, tmp_path, local_workspace):
    cfg = tmp_path / "databrickscfg"
    cfg.write_text(
        f"[DEFAULT]\nhost = {local_workspace.host}\ntoken = {local_workspace.token}\n"
        "retry_timeout_seconds = 123\nhttp_timeout_seconds = 45\n"
    )
    env.setenv("DATABRICKS_CONFIG_FILE", str(cfg))
    workspace = get_workspace()
    assert int(workspace.config.retry_timeout_seconds) == 123
    assert float(workspace.config.http_timeout_seconds) == 45


@pytest.mark.parametrize("auth", ["pat", "oauth"])
def test_a_reachable_workspace_costs_one_quick_probe(env, local_workspace, auth):
    for name, value in local_workspace.env(auth=auth).items():
        env.setenv(name, value)
    started = time.monotonic()
    workspace = get_workspace()
    elapsed = time.monotonic() - started
    assert workspace.host == local_workspace.host and not workspace.is_local
    assert workspace.endpoint_interface("demo-agent") == "responses"
    assert workspace.config.retry_timeout_seconds is None
    assert elapsed < TIMEOUT, f"building the config took {elapsed:.2f} s"
