"""The warehouse engine through the real databricks-sdk against the local Statement Execution routes."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from databricks.sdk.errors import DatabricksError, NotFound
from databricks.sdk.service.sql import (
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    StatementParameterListItem,
    StatementState,
)

from agent_magics.core.errors import AgentError
from agent_magics.sql.warehouse_engine import configured_warehouse, run_warehouse
from agent_magics.transport.embedded_config import LOCAL_WAREHOUSE_ID

WH = LOCAL_WAREHOUSE_ID


def test_multi_chunk_typed_columns_and_structs(warehouse_client):
    sql = (
        "SELECT id, CAST(id AS INT) AS small, id * 0.5 AS half, CAST(id AS DOUBLE) / 4 AS quarter, "
        "id % 2 = 0 AS even, DATE'2024-01-02' AS day, TIMESTAMP'2024-01-02 10:00:00' AS ts, "
        "CAST(id AS STRING) AS s, named_struct('x', id, 'tags', array('a', 'b')) AS st, array(id, id) AS arr, "
        "map('k', id) AS m, CASE WHEN id = 3 THEN NULL ELSE id END AS maybe "
        "FROM range(30) AS r(id)"
    )
    frame = run_warehouse(sql, warehouse_client, WH)
    assert len(frame) == 30 and frame["id"].tolist() == list(range(30))  # 5 chunks of 7 rows, all read
    assert str(frame["id"].dtype) == "int64" and str(frame["small"].dtype) == "int64"
    assert frame["half"][3] == Decimal("1.5") and frame["quarter"][2] == 0.5
    assert frame["even"].tolist()[:3] == [True, False, True]
    assert frame["day"][0] == dt.date(2024, 1, 2)
    assert frame["ts"][0].year == 2024 and str(frame["ts"].dtype).startswith("datetime64")
    assert frame["s"][5] == "5"
    assert frame["st"][4] == {"x": 4, "tags": ["a", "b"]}
    assert frame["arr"][2] == [2, 2] and frame["m"][1] == {"k": 1}
    assert str(frame["maybe"].dtype) == "Int64" and frame["maybe"].isna().tolist()[3]


def test_ai_query_runs_on_the_warehouse(warehouse_client):
    frame = run_warehouse(
        """SELECT ai_query("demo-agent", question) AS a, ai_query('fault-500', question, failOnError => false) AS r """
        """FROM (VALUES ('what is MLflow?'), ('how does MLflow work?')) AS t(question)""",
        warehouse_client,
        WH,
    )
    assert all("MLflow" in a for a in frame["a"])
    assert all(r["result"] is None and "HTTP 500" in r["errorMessage"] for r in frame["r"])


def test_raw_sdk_wire_shape(warehouse_client):
    api = warehouse_client.statement_execution
    response = api.execute_statement(
        statement="SELECT id, named_struct('a', id) AS s FROM range(10) AS r(id) WHERE id >= :low",
        warehouse_id=WH,
        wait_timeout="10s",
        disposition=Disposition.INLINE,
        parameters=[StatementParameterListItem(name="low", value="2", type="INT")],
    )
    assert response.status.state == StatementState.SUCCEEDED
    manifest = response.manifest
    assert [c.name for c in manifest.schema.columns] == ["id", "s"]
    assert [c.type_name.value for c in manifest.schema.columns] == ["LONG", "STRUCT"]
    assert manifest.schema.columns[1].type_text == "STRUCT<a: BIGINT>"
    assert manifest.total_row_count == 8 and manifest.total_chunk_count == 2
    assert response.result.data_array[0] == ["2", '{"a":2}'] and response.result.next_chunk_index == 1
    second = api.get_statement_result_chunk_n(response.statement_id, 1)
    assert second.row_offset == 7 and second.data_array == [["9", '{"a":9}']] and second.next_chunk_index is None


def test_unknown_warehouse_is_a_databricks_error(warehouse_client):
    with pytest.raises(NotFound, match="does not exist"):
        warehouse_client.statement_execution.execute_statement(statement="SELECT 1", warehouse_id="0000000000000000")
    with pytest.raises(AgentError, match="warehouse 0000000000000000: SQL warehouse 0000000000000000 does not exist"):
        run_warehouse("SELECT 1", warehouse_client, "0000000000000000")


def test_bad_requests_are_refused(warehouse_client):
    api = warehouse_client.statement_execution
    with pytest.raises(DatabricksError, match="wait_timeout"):
        api.execute_statement(statement="SELECT 1", warehouse_id=WH, wait_timeout="3s")
    with pytest.raises(DatabricksError, match="INLINE JSON_ARRAY"):
        api.execute_statement(statement="SELECT 1", warehouse_id=WH, disposition=Disposition.EXTERNAL_LINKS)


def test_failed_statement_says_why(warehouse_client):
    with pytest.raises(AgentError, match=r"statement failed .*SQL syntax error"):
        run_warehouse("SELEC 1", warehouse_client, WH)
    with pytest.raises(AgentError, match=r"REMOTE_FUNCTION_HTTP_RETRY_TIMEOUT.*code was 500"):
        run_warehouse("SELECT ai_query('fault-500', 'x')", warehouse_client, WH)


def slow_sql(delay: float, rows: int = 64) -> str:
    return (
        f"SELECT ai_query('bench-agent', named_struct('input', array(named_struct('role', 'user', 'content', "
        f"'x')), 'custom_inputs', named_struct('first_token_delay', {delay}, 'tokens', 3))) AS a "
        f"FROM range({rows}) AS r(id)"
    )


def test_long_statement_is_pending_then_polled(warehouse_client):
    api = warehouse_client.statement_execution
    response = api.execute_statement(statement=slow_sql(0.2, 40), warehouse_id=WH, wait_timeout="0s")
    assert response.status.state in (StatementState.PENDING, StatementState.RUNNING)
    assert response.result is None
    while response.status.state in (StatementState.PENDING, StatementState.RUNNING):
        time.sleep(0.05)
        response = api.get_statement(response.statement_id)
    assert response.status.state == StatementState.SUCCEEDED and response.manifest.total_row_count == 40


def test_row_limit_truncates(warehouse_client):
    response = warehouse_client.statement_execution.execute_statement(
        statement="SELECT id FROM range(20) AS r(id)", warehouse_id=WH, wait_timeout="10s", row_limit=3
    )
    assert response.manifest.total_row_count == 3 and response.manifest.truncated is True


def test_on_wait_timeout_cancel(warehouse_client):
    started = time.monotonic()
    response = warehouse_client.statement_execution.execute_statement(
        statement=slow_sql(1.0, 200),
        warehouse_id=WH,
        wait_timeout="5s",
        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CANCEL,
    )
    assert response.status.state == StatementState.CANCELED
    assert time.monotonic() - started < 9


def test_cancel_execution_stops_a_running_statement(warehouse_client):
    api = warehouse_client.statement_execution
    response = api.execute_statement(statement=slow_sql(0.5, 400), warehouse_id=WH, wait_timeout="0s")
    time.sleep(0.3)
    api.cancel_execution(response.statement_id)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = api.get_statement(response.statement_id)
        if response.status.state not in (StatementState.PENDING, StatementState.RUNNING):
            break
        time.sleep(0.05)
    assert response.status.state == StatementState.CANCELED


def test_engine_cancels_on_interrupt(warehouse_client, statement_server):
    _, service = statement_server
    polls = {"n": 0}

    def interrupting_sleep(seconds):
        polls["n"] += 1
        if polls["n"] == 3:
            raise KeyboardInterrupt
        time.sleep(seconds)

    with pytest.raises(AgentError, match=r"interrupted; statement .* cancelled"):
        run_warehouse(slow_sql(0.5, 400), warehouse_client, WH, sleep=interrupting_sleep)
    newest = max(service._statements.values(), key=lambda s: s.created)
    assert newest.done.wait(5) and newest.state == "CANCELED"


def test_warehouse_id_sources(monkeypatch):
    class Config:
        warehouse_id = "from-config"

    monkeypatch.delenv("DATABRICKS_WAREHOUSE_ID", raising=False)
    assert configured_warehouse("explicit", Config()) == "explicit"
    assert configured_warehouse(None, Config()) == "from-config"
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "from-env")
    assert configured_warehouse(None, Config()) == "from-env"
    monkeypatch.delenv("DATABRICKS_WAREHOUSE_ID")
    assert configured_warehouse(None, None) is None


def test_a_statement_whose_setup_fails_is_failed_not_running_forever(warehouse_client, monkeypatch):
    """Everything of a statement's run is inside its error handling: a failure while it sets up
    (a bug, an import) ends it FAILED, so a poller stops."""
    import agent_magics.local.statements as statements

    def broken(*args, **kwargs):
        raise RuntimeError("setup broke")

    monkeypatch.setattr(statements, "ServingFailures", broken)
    api = warehouse_client.statement_execution
    response = api.execute_statement(statement="SELECT 1 AS one", warehouse_id=WH, wait_timeout="5s")
    assert response.status.state == StatementState.FAILED
    assert "setup broke" in response.status.error.message


def test_ctrl_c_while_the_statement_is_sent_still_cancels_it(warehouse_client, statement_server, monkeypatch):
    import os
    import signal
    import threading

    _, service = statement_server
    api = warehouse_client.statement_execution
    send = api.execute_statement

    def slow_send(**kwargs):
        time.sleep(0.6)  # a slow network: the POST is still on its way when Ctrl-C comes
        return send(**kwargs)

    monkeypatch.setattr(api, "execute_statement", slow_send)
    before = set(service._statements)
    threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
    with pytest.raises(AgentError, match=r"interrupted; statement .* cancelled"):
        run_warehouse(slow_sql(0.5, 400), warehouse_client, WH)
    (new,) = [s for key, s in service._statements.items() if key not in before]
    assert new.done.wait(5) and new.state == "CANCELED"


def test_a_poll_that_fails_cancels_the_statement(warehouse_client, statement_server, monkeypatch):
    _, service = statement_server
    api = warehouse_client.statement_execution
    polls = {"n": 0}
    poll = api.get_statement

    def failing_poll(statement_id):
        polls["n"] += 1
        if polls["n"] == 2:
            raise ConnectionError("the network went away")
        return poll(statement_id)

    monkeypatch.setattr(api, "get_statement", failing_poll)
    before = set(service._statements)
    with pytest.raises(AgentError, match=r"ConnectionError: the network went away; statement .* cancelled"):
        run_warehouse(slow_sql(0.5, 400), warehouse_client, WH)
    (new,) = [s for key, s in service._statements.items() if key not in before]
    assert new.done.wait(5) and new.state == "CANCELED"
