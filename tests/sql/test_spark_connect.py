"""ai_query over Spark Connect: the connect server shipped in the pyspark package, on loopback.

The server runs in the foreground (``start-connect-server.sh --wait``) as a child of this test, in its
own process group, and is ended by that group's id. Its Python workers are this interpreter, so they
import agent_magics; the UDF is pickled by the Connect client and registered over gRPC.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sparkenv import plain_pyspark_missing

from agent_magics.core.errors import AgentError
from agent_magics.sql import run_sql

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(plain_pyspark_missing() is not None, reason=str(plain_pyspark_missing())),
]

PAGE = (
    """SELECT ai_query("demo-agent", question) """
    """FROM (VALUES ('what is MLflow?'), ('how does MLflow work?')) AS t(question)"""
)
START_LIMIT = 150  # seconds: about 20 s alone, more on a loaded 2-core machine


@pytest.fixture(scope="module")
def connect_spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import pyspark
    from pyspark.sql.connect.utils import check_dependencies

    check_dependencies()  # the client's gRPC parts (requirements/pyspark.txt): a failure, not a skip

    home = Path(pyspark.__file__).parent
    work = tmp_path_factory.mktemp("spark-connect")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "PYSPARK_PYTHON": sys.executable,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "SPARK_LOG_DIR": str(work),
        "SPARK_PID_DIR": str(work),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [
        "bash", str(home / "sbin" / "start-connect-server.sh"), "--wait",
        "--master", "local[2]",
        "--conf", "spark.ui.enabled=false",
        "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.driver.host=127.0.0.1",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
    ]  # fmt: skip
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_LIMIT
        while True:
            if server.poll() is not None:
                pytest.fail(f"the Spark Connect server exited ({server.returncode}): {_tail(work)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the Spark Connect server did not listen within {START_LIMIT} s: {_tail(work)}")
                time.sleep(0.5)
        # The Connect client's own builder: pyspark.sql's refuses a remote session in a process that also
        # has a classic one (test_spark.py's local[2], when both modules run in one pytest).
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        session = ConnectSession.builder.remote(f"sc://127.0.0.1:{port}").create()
        yield session
        session.stop()
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the group this test started: the script and its JVM
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        log.close()


def _tail(work: Path) -> str:
    return (work / "server.log").read_text(errors="replace")[-2000:]


def test_page_example_over_spark_connect(connect_spark, local_workspace_env):
    assert type(connect_spark).__module__.startswith("pyspark.sql.connect")
    frame = run_sql(PAGE, {"spark": connect_spark}, engine="spark", progress="none")
    assert list(frame.columns) == ["ai_query(demo-agent, question)"]
    assert len(frame) == 2 and all("MLflow" in answer for answer in frame.iloc[:, 0])


def test_failures_over_spark_connect_keep_their_cause(connect_spark, local_workspace_env):
    sql = "SELECT ai_query('fault-500', q, failOnError => false) AS r FROM VALUES ('a'), ('b') AS t(q)"
    rows = run_sql(sql, {"spark": connect_spark}, engine="spark", progress="none")["r"].tolist()
    assert all(r["result"] is None and "HTTP 500" in r["errorMessage"] for r in rows)
    with pytest.raises(AgentError) as caught:
        run_sql("SELECT ai_query('fault-500', 'x') AS a", {"spark": connect_spark}, engine="spark", progress="none")
    message = str(caught.value)
    assert "ai_query('fault-500') failed on row 0" in message and "HTTP 500" in message and "\n" not in message


def test_into_over_spark_connect_writes_the_table(connect_spark, local_workspace_env, tmp_path):
    schema = f"agent_into_{uuid.uuid4().hex[:8]}"
    connect_spark.sql(f"CREATE DATABASE {schema} LOCATION '{tmp_path / schema}'")  # written under tmp_path
    try:
        sql = (
            "SELECT q, ai_query('demo-agent', q) AS a, ai_query('fault-500', q, failOnError => false) AS r "
            "FROM VALUES ('what is MLflow?'), ('what is a trace?'), ('hi') AS t(q)"
        )
        summary = run_sql(sql, {"spark": connect_spark}, engine="spark", into=f"{schema}.answers", progress="none")
        assert summary[["rows_written", "failed_rows"]].iloc[0].tolist() == [3, 3]
        assert connect_spark.table(f"{schema}.answers").where("a IS NOT NULL").count() == 3
    finally:
        connect_spark.sql(f"DROP DATABASE {schema} CASCADE")
