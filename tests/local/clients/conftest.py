"""The third-party clients leg (``make test-clients``): LiteLLM and databricks-langchain, installed in
``.venv-clients`` from ``requirements/clients.txt``, against a local workspace over HTTP.

The clients run here; the workspace server runs on the interpreter named by
``AGENT_MAGICS_SERVER_PYTHON`` (the main venv's, with its locked MLflow and uvicorn), so each
process has one consistent environment. In the main suite, where these clients are not installed,
the leg's tests are not collected.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest

CLIENTS = ("litellm", "databricks_langchain")
if not all(importlib.util.find_spec(name) for name in CLIENTS):
    collect_ignore_glob = ["test_*.py"]

# LiteLLM otherwise downloads its model price list at import; MLflow and LiteLLM send no telemetry.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

TIMEOUT = 30.0


@pytest.fixture(scope="session")
def workspace() -> Iterator[Any]:
    from agent_magics.transport.embedded import LocalWorkspace

    with pytest.MonkeyPatch.context() as env:
        for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
            env.delenv(key)
        python = os.environ.get("AGENT_MAGICS_SERVER_PYTHON")
        with LocalWorkspace(first_token_delay=0, tokens_per_second=0, hang_seconds=3, python=python) as ws:
            yield ws


@pytest.fixture(scope="session")
def workspace_client(workspace: Any) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    return WorkspaceClient(
        config=Config(
            host=workspace.host,
            token=workspace.token,
            auth_type="pat",
            retry_timeout_seconds=15,
            http_timeout_seconds=int(TIMEOUT),
        )
    )
