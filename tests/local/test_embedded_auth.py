"""The embedded workspace's OAuth M2M without databricks-sdk: tokens minted by the real local
workspace over HTTP, cached and renewed; a real SDK ``Config`` on demand; token answers that are
not tokens fail in one line, secrets unshown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from agent_magics.core.errors import AgentError
from agent_magics.transport.embedded import LocalWorkspace
from agent_magics.transport.embedded_auth import EmbeddedCredentials


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _endpoints_status(host: str, headers: dict[str, str]) -> int:
    return httpx.get(f"{host}/api/2.0/serving-endpoints", headers=headers, timeout=10).status_code


def test_tokens_are_minted_by_the_workspace_cached_and_renewed(local_workspace: LocalWorkspace) -> None:
    clock = Clock()
    credentials = EmbeddedCredentials(
        local_workspace.host, local_workspace.client_id, local_workspace.client_secret, clock=clock
    )
    first = credentials.authenticate()
    assert first["Authorization"].startswith("Bearer ") and credentials.authenticate() == first
    assert _endpoints_status(local_workspace.host, first) == 200
    clock.now += 3600  # the local workspace's tokens live an hour: past it (less the margin), a new one
    renewed = credentials.authenticate()
    assert renewed != first and _endpoints_status(local_workspace.host, renewed) == 200
    assert _endpoints_status(local_workspace.host, {"Authorization": "Bearer not-a-token"}) == 401


def test_a_wrong_secret_is_one_line_without_the_secret(local_workspace: LocalWorkspace) -> None:
    wrong = "wrong-secret-" + "x" * 24
    credentials = EmbeddedCredentials(local_workspace.host, local_workspace.client_id, wrong)
    with pytest.raises(AgentError) as caught:
        credentials.authenticate()
    message = str(caught.value)
    assert "refused its own credentials" in message and "\n" not in message and wrong not in message


def test_the_sdk_config_on_demand_reaches_the_same_workspace(local_workspace: LocalWorkspace) -> None:
    from databricks.sdk import WorkspaceClient

    credentials = EmbeddedCredentials(local_workspace.host, local_workspace.client_id, local_workspace.client_secret)
    config = credentials.sdk_config()
    assert config is credentials.sdk_config() and config.auth_type == "oauth-m2m"
    assert WorkspaceClient(config=config).serving_endpoints.get("demo-agent").name == "demo-agent"


ANSWERS: dict[str, tuple[int, bytes]] = {
    "huge": (200, b'{"access_token": "' + b"a" * (1 << 20) + b'"}'),
    "not-json": (200, b"<html>login</html>"),
    "a-list": (200, b'["access_token"]'),
    "no-token": (200, b'{"token_type": "Bearer", "expires_in": 3600}'),
    "empty-token": (200, b'{"access_token": ""}'),
    "server-error": (500, b'{"error": "server_error", "error_description": "try later"}'),
}


@pytest.fixture
def token_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server whose token endpoint answers what the path's first segment names."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append(self.headers.get("Authorization", ""))
            status, body = ANSWERS[self.path.split("/")[1]]
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_token_answers_that_are_not_tokens(token_server: tuple[str, list[str]], answer: str) -> None:
    base, seen = token_server
    secret = "hostile-secret-" + "s" * 24
    credentials = EmbeddedCredentials(f"{base}/{answer}", "client", secret)
    with pytest.raises(AgentError) as caught:
        credentials.authenticate()
    message = str(caught.value)
    assert "\n" not in message and secret not in message and len(message) < 300, message
    assert seen and seen[0].startswith("Basic ")  # the client credentials went in a Basic header


def test_a_stopped_workspace_is_one_line() -> None:
    with LocalWorkspace() as workspace:
        host, client_id, secret = workspace.host, workspace.client_id, workspace.client_secret
    with pytest.raises(AgentError, match=r"could not get a token .* is it still running"):
        EmbeddedCredentials(host, client_id, secret).authenticate()


def test_a_no_config_process_answers_without_importing_the_sdk(tmp_path: Path) -> None:
    """The no-configuration default: the question answered, databricks-sdk never imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MLFLOW_"))}
    env.update(HOME=str(tmp_path), DATABRICKS_CONFIG_FILE=str(tmp_path / "none"), MLFLOW_DISABLE_TELEMETRY="true")
    script = (
        "import json, sys\n"
        "from agent_magics import ask\n"
        "r = ask('demo-agent', 'What is MLflow?')\n"
        "print(json.dumps([r.ok, r.text[:6], 'databricks.sdk' in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, "MLflow", False]


@pytest.mark.parametrize(
    ("expires_in", "renew_after"),
    [
        (3600, 3570.0),  # a long life: renewed the margin (30 s) before it ends
        (10, 5.0),  # a short one: halfway, not at every request
        (0, 0.0),  # already expired: renewed at the next request
        (-5, 0.0),
        (float("inf"), 3570.0),  # not a finite number of seconds: as if the server had not said
        (float("nan"), 3570.0),
        ("3600", 3570.0),
        (True, 3570.0),
        (None, 3570.0),
    ],
)
def test_when_a_token_is_renewed(expires_in: object, renew_after: float) -> None:
    from agent_magics.transport.embedded_auth import renew_at

    assert renew_at(100.0, expires_in) == 100.0 + renew_after


def test_the_sdk_clients_token_is_redacted_too(local_workspace: LocalWorkspace) -> None:
    """DatabricksOpenAI and the warehouse engine send the SDK Config's own token: it is a secret too."""
    from agent_magics.core import secrets
    from agent_magics.transport.workspace import Workspace

    credentials = EmbeddedCredentials(local_workspace.host, local_workspace.client_id, local_workspace.client_secret)
    workspace = Workspace(host=credentials.host, config=credentials, label="test", is_local=True)
    workspace.workspace_client()
    sdk_token = credentials.sdk_config().oauth_token().access_token
    assert sdk_token != credentials.oauth_token().access_token  # two tokens, each minted on its own
    assert sdk_token not in secrets.redact(f"echoed: {sdk_token}")
