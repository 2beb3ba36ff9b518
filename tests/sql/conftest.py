"""Fixtures of the %agent_sql tests: a Workspace on the session's local workspace, an ai_query invoker,
and a small starlette app serving the Statement Execution routes (its ai_query goes to the local
workspace), run by uvicorn on a thread (fixtures.uvicorn_thread)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def sql_workspace(local_workspace: Any) -> Iterator[Any]:
    from databricks.sdk.config import Config

    from agent_magics.transport.workspace import Workspace

    config = Config(host=local_workspace.host, token=local_workspace.token, auth_type="pat", retry_timeout_seconds=15)
    workspace = Workspace(host=local_workspace.host, config=config, label="sql tests", is_local=True)
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def invoker(sql_workspace: Any) -> Any:
    from agent_magics.sql.invocations import WorkspaceInvoker

    return WorkspaceInvoker(sql_workspace, retries=3, backoff=0.05)


@pytest.fixture(scope="session")
def statement_server(local_workspace: Any) -> Iterator[Any]:
    """``(url, service)`` of a server with only the statement routes, 7 rows per chunk."""
    from fixtures.uvicorn_thread import UvicornThread
    from starlette.applications import Starlette

    from agent_magics.local.statements import StatementService, statement_routes

    service = StatementService(chunk_rows=7, concurrency=16, serving=(local_workspace.host, local_workspace.token))
    with UvicornThread(Starlette(routes=statement_routes(service)), name="statement-server") as url:
        yield url, service


@pytest.fixture
def warehouse_client(statement_server: Any) -> Any:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    url, _ = statement_server
    return WorkspaceClient(config=Config(host=url, token="dapi-test", auth_type="pat", retry_timeout_seconds=15))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local[2] SparkSession whose Python workers are this interpreter (so they import agent_magics)."""
    import sys

    from sparkenv import plain_pyspark_missing

    reason = plain_pyspark_missing()
    if reason:
        pytest.skip(reason)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("agent_magics tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
