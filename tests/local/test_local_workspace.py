"""The LocalWorkspace handle, shared_workspace, the server process's lifecycle and the CLI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent_magics.transport.embedded import LocalWorkspace, LocalWorkspaceError, _server_environment

ROOT = Path(__file__).resolve().parents[2]


def test_handle_exposes_what_clients_need(local_workspace: LocalWorkspace) -> None:
    ws = local_workspace
    assert ws.host.startswith("http://127.0.0.1:") and ws.running
    assert all(url.startswith("http://127.0.0.1:") for url in ws.app_urls.values())
    assert set(ws.app_urls) == {"demo-app", "fault-login", "durable-app"}
    assert ws.token.startswith("dapi") and ws.client_id and ws.client_secret
    assert ws.env("pat") == {"DATABRICKS_HOST": ws.host, "DATABRICKS_TOKEN": ws.token, "DATABRICKS_AUTH_TYPE": "pat"}
    assert ws.env() == {
        "DATABRICKS_HOST": ws.host,
        "DATABRICKS_CLIENT_ID": ws.client_id,
        "DATABRICKS_CLIENT_SECRET": ws.client_secret,
        "DATABRICKS_AUTH_TYPE": "oauth-m2m",
    }
    with pytest.raises(ValueError):
        ws.env("basic")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        ws.app_url("no-such-app")
    for secret in (ws.token, ws.client_secret):
        assert secret not in repr(ws)


def test_env_configures_databricks_sdk(local_workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from databricks.sdk import WorkspaceClient

    for auth in ("pat", "oauth"):
        for key, value in local_workspace.env(auth).items():  # type: ignore[arg-type]
            monkeypatch.setenv(key, value)
        client = WorkspaceClient()
        assert client.serving_endpoints.get("demo-agent").task == "agent/v1/responses"
        for key in local_workspace.env(auth):  # type: ignore[arg-type]
            monkeypatch.delenv(key)


def test_server_log_has_no_secrets(local_workspace: LocalWorkspace, oauth_token: str, http: httpx.Client) -> None:
    http.post("/serving-endpoints/demo-agent/invocations", json={"input": "hi"})
    log = Path(local_workspace.log_path or "").read_text()
    assert "POST /serving-endpoints/demo-agent/invocations" in log
    for secret in (local_workspace.token, local_workspace.client_secret, oauth_token):
        assert secret not in log


def test_server_environment_drops_foreign_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABRICKS_HOST", "https://example.cloud.databricks.com")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks")
    env = _server_environment()
    assert "DATABRICKS_HOST" not in env and "MLFLOW_TRACKING_URI" not in env
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_startup_failure_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(LocalWorkspaceError, match=r"exited with code 1 before it was ready") as error:
            LocalWorkspace(port=port).start()
    message = str(error.value)
    assert "\n" not in message and "address already in use" in message.lower(), message
    assert "Server log" in error.value.log and "Traceback" in error.value.log
    assert time.monotonic() - started < 15


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_shared_workspace_outlives_no_parent() -> None:
    """shared_workspace() starts once per process; its server exits when that process dies."""
    script = (
        "import os, httpx\n"
        "from agent_magics.transport.embedded import shared_workspace\n"
        "ws = shared_workspace()\n"
        "assert shared_workspace() is ws and ws.running\n"
        "assert httpx.get(ws.host + '/oidc/.well-known/oauth-authorization-server').status_code == 200\n"
        "print(ws.log_path, ws.pid, flush=True)\n"
        "os._exit(0)  # no stop(), no atexit: the parent just vanishes\n"
    )
    parent = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT, check=True
    )
    log_path, pid = parent.stdout.split()[-2:]
    server_pid = int(pid)
    deadline = time.monotonic() + 10
    while _pid_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = _pid_alive(server_pid)
    if alive:  # clean up before failing
        os.kill(server_pid, signal.SIGKILL)
    shutil.rmtree(Path(log_path).parent, ignore_errors=True)  # nobody was left to remove it
    assert not alive


def _read_banner(process: subprocess.Popen[str]) -> str:
    lines = []
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            break
    return "".join(lines)


def test_cli_serves_in_the_foreground_and_stops_on_ctrl_c() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_magics.cli", "workspace", "--first-token-delay", "0", "--tokens-per-second", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        banner = _read_banner(process)
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in banner.splitlines() if line.startswith("export ")
        )
        assert exports["DATABRICKS_AUTH_TYPE"] == "oauth-m2m"
        host = exports["DATABRICKS_HOST"]
        assert host.startswith("http://127.0.0.1:")
        assert "DATABRICKS_TOKEN=dapi" in banner and "curl -s" in banner
        token = banner.split("DATABRICKS_TOKEN=", 1)[1].split()[0]
        answer = httpx.post(
            f"{host}/serving-endpoints/demo-agent/invocations",
            json={"input": "What does Databricks do?"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "stopped" in out
    log_path = banner.split("(logs: ", 1)[1].split(")", 1)[0]
    assert Path(log_path).is_file()  # kept for the user after the CLI stops
    shutil.rmtree(Path(log_path).parent, ignore_errors=True)
    assert "Traceback" not in err


def test_cli_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agent_magics.cli", "workspace", "--help"],
        capture_output=True, text=True, timeout=30, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "--app-port" in result.stdout
