"""The MLflow tracking server the local workspace runs: MLflow's own server (REST API and UI) on
loopback, started on first request, one per data directory, reached through MLflow's client, and
gone with the workspace, even when the workspace is killed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from agent_magics.local.mlflow_server import ROUTE, full_mlflow_installed, server_environment
from agent_magics.transport.embedded import LocalWorkspace

# The tracking server is full mlflow's ([evaluate]); a venv with mlflow-skinny only (make test-newest) skips.
pytestmark = pytest.mark.skipif(not full_mlflow_installed(), reason="needs the full mlflow package ([evaluate])")


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_started_on_demand_reached_by_mlflow_and_gone_with_the_workspace(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    workspace = LocalWorkspace(first_token_delay=0, tokens_per_second=0).start()
    try:
        route = workspace.host + ROUTE
        auth = {"Authorization": f"Bearer {workspace.token}"}
        assert httpx.post(route, json={"data_dir": str(tmp_path)}, timeout=10).status_code == 401
        assert httpx.post(route, json={}, headers=auth, timeout=10).status_code == 400
        started = httpx.post(route, json={"data_dir": str(tmp_path / "store")}, headers=auth, timeout=240)
        assert started.status_code == 200, started.text
        url = started.json()["url"]
        assert url.startswith("http://127.0.0.1:")
        again = httpx.post(route, json={"data_dir": str(tmp_path / "store")}, headers=auth, timeout=60)
        assert again.json()["url"] == url  # one server per data directory

        client = MlflowClient(tracking_uri=url)
        experiment_id = client.create_experiment("through-the-server")
        run = client.create_run(experiment_id)
        client.log_metric(run.info.run_id, "m", 1.0)
        assert client.get_run(run.info.run_id).data.metrics == {"m": 1.0}
        assert (tmp_path / "store" / "mlflow.db").exists()  # the SQLite backend in the data directory
        assert "text/html" in httpx.get(url, timeout=30).headers["content-type"]  # MLflow's UI

        os.kill(workspace.pid, signal.SIGKILL)  # no chance to clean up: the supervisor must see it
        deadline = time.monotonic() + 30
        while _answers(url) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert not _answers(url)
    finally:
        workspace.stop()

    # The data outlives the server: a new one on the same directory has the run.
    with LocalWorkspace(first_token_delay=0, tokens_per_second=0) as second:
        found = httpx.post(
            second.host + ROUTE,
            json={"data_dir": str(tmp_path / "store")},
            headers={"Authorization": f"Bearer {second.token}"},
            timeout=240,
        ).json()["url"]
        assert MlflowClient(tracking_uri=found).get_run(run.info.run_id).data.metrics == {"m": 1.0}


@pytest.mark.parametrize("name", ["MLFLOW_TRACKING_URI", "IS_IN_DB_MODEL_SERVING_ENV", "DATABRICKS_HOST"])
def test_the_server_does_not_inherit_the_workspace_settings(name: str) -> None:
    env = server_environment({name: "x", "PATH": "/bin"})
    assert name not in env and env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["PATH"] == "/bin"
