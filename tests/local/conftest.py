"""Clients of the local workspace, built the way users build them, with bounded retries and timeouts
so a broken server fails a test quickly instead of hanging it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agent_magics.transport.embedded import LocalWorkspace

TIMEOUT = 30.0


def workspace_client(ws: LocalWorkspace, auth: str) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    bounded = {"host": ws.host, "retry_timeout_seconds": 15, "http_timeout_seconds": int(TIMEOUT)}
    if auth == "pat":
        return WorkspaceClient(config=Config(token=ws.token, auth_type="pat", **bounded))
    return WorkspaceClient(
        config=Config(client_id=ws.client_id, client_secret=ws.client_secret, auth_type="oauth-m2m", **bounded)
    )


@pytest.fixture(scope="session")
def pat_client(local_workspace: LocalWorkspace) -> Any:
    return workspace_client(local_workspace, "pat")


@pytest.fixture(scope="session")
def oauth_client(local_workspace: LocalWorkspace) -> Any:
    return workspace_client(local_workspace, "oauth")


@pytest.fixture(scope="session")
def openai_pat(pat_client: Any) -> Any:
    from databricks_openai import DatabricksOpenAI

    return DatabricksOpenAI(workspace_client=pat_client, timeout=TIMEOUT, max_retries=0)


@pytest.fixture(scope="session")
def openai_oauth(oauth_client: Any) -> Any:
    from databricks_openai import DatabricksOpenAI

    return DatabricksOpenAI(workspace_client=oauth_client, timeout=TIMEOUT, max_retries=0)


@pytest.fixture(scope="session")
def oauth_token(oauth_client: Any) -> str:
    return oauth_client.config.oauth_token().access_token


@pytest.fixture
def http(local_workspace: LocalWorkspace) -> Iterator[httpx.Client]:
    """Raw HTTP to the workspace host with the PAT."""
    headers = {"Authorization": f"Bearer {local_workspace.token}"}
    with httpx.Client(base_url=local_workspace.host, headers=headers, timeout=TIMEOUT) as client:
        yield client


def _sse_payloads(text: str) -> list[Any]:
    """The ``data:`` payloads of an SSE body up to ``[DONE]`` (JSON decoded when possible)."""
    payloads: list[Any] = []
    for line in text.splitlines():
        if not line:
            continue
        assert line.startswith("data: "), f"unexpected SSE line {line!r}"
        data = line[len("data: ") :]
        if data == "[DONE]":
            break
        try:
            payloads.append(json.loads(data))
        except ValueError:
            payloads.append(data)
    return payloads


@pytest.fixture(scope="session")
def sse() -> Any:
    """Parser of an SSE body: ``sse(text)`` -> the ``data:`` payloads before ``[DONE]``."""
    return _sse_payloads
