"""The Spark ai_query UDF's body and the spark engine's SQL rewrite, without Spark (main venv).

``answer_batch`` is what each executor task runs on one Arrow batch: pandas in, pandas out, requests
through the batch engine to the local workspace. The end-to-end runs on Spark are in test_spark.py.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.sql.spark_sql import typed_sql
from agent_magics.sql.spark_udf import WorkerSettings, answer_batch, worker_asker


@pytest.fixture
def settings(local_workspace):
    return WorkerSettings(
        {"host": local_workspace.host, "token": local_workspace.token, "auth_type": "pat"}, concurrency=4
    )


def test_string_requests_keep_their_order_and_nulls(settings):
    questions = pd.Series(["what is MLflow?", None, "how does MLflow work?"])
    out = answer_batch(settings, pd.Series(["demo-agent"] * 3), questions)
    assert out[1] is None and all("MLflow" in out[i] for i in (0, 2))


def test_keyword_arguments_fail_on_error_false_is_a_json_struct(settings):
    out = answer_batch(
        settings, pd.Series(["fault-500", "fault-500"]), pd.Series(["a", "b"]), fail_on_error=pd.Series([False, False])
    )
    rows = [json.loads(v) for v in out]
    assert all(r["result"] is None and "HTTP 500" in r["errorMessage"] for r in rows)


def test_a_failing_row_under_fail_on_error_raises_naming_it(settings):
    with pytest.raises(AgentError, match=r"ai_query\('fault-500'\) failed on row 0 .*failOnError => false"):
        answer_batch(settings, pd.Series(["fault-500"]), pd.Series(["a"]))


def test_struct_requests_arrive_as_a_frame_and_go_as_json(settings):
    request = pd.DataFrame({"input": [[{"role": "user", "content": "what is MLflow?"}]]})
    out = answer_batch(settings, pd.Series(["demo-agent"]), request)
    assert "output" in json.loads(out[0])  # no returnType: the endpoint's whole JSON answer


def test_a_null_struct_request_is_null_and_sends_nothing(settings):
    """CASE WHEN q IS NULL THEN NULL ELSE named_struct(...) END: Arrow gives the NULL struct as a row of
    nulls; it is a NULL answer, as on the local engine, not {"input": null} sent to the endpoint."""
    request = pd.DataFrame({"input": [[{"role": "user", "content": "what is MLflow?"}], None]})
    out = answer_batch(settings, pd.Series(["demo-agent", "fault-500"]), request)  # fault-500 would fail the row
    assert "output" in json.loads(out[0]) and out[1] is None


def test_model_parameters_as_a_frame_with_decimals(settings):
    parameters = pd.DataFrame({"temperature": [Decimal("0.2")]})
    with pytest.raises(AgentUsageError, match="AI_FUNCTION_INVALID_MODEL_PARAMETERS"):
        answer_batch(settings, pd.Series(["demo-agent"]), pd.Series(["hi"]), model_parameters=parameters)
    out = answer_batch(settings, pd.Series(["demo-chat-agent"]), pd.Series(["hi"]), model_parameters=parameters)
    assert out[0]


def test_one_client_per_registration_per_worker_process(settings):
    assert worker_asker(settings) is worker_asker(settings)
    other = WorkerSettings(dict(settings.config), concurrency=4, retries=0)
    assert worker_asker(other) is not worker_asker(settings)
    assert settings.config["token"] not in repr(settings)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT ai_query('e', q) FROM t", "SELECT ai_query('e', q) FROM t"),  # as written: nothing to type
        (
            "SELECT ai_query('e', q, failOnError => false) FROM t",
            "SELECT FROM_JSON(AI_QUERY('e', q, failOnError => FALSE), 'STRUCT<result: STRING, errorMessage: STRING, "
            "response: STRING>') AS `ai_query(e, q)` FROM t",
        ),
        (
            "SELECT ai_query('e', q, returnType => 'a INT, b STRING') AS r FROM t",
            "SELECT FROM_JSON(AI_QUERY('e', q, returnType => 'a INT, b STRING'), 'STRUCT<a: INT, b: STRING>') "
            "AS r FROM t",
        ),
        ("SELECT upper(ai_query('e', q, 'INT')) FROM t", "SELECT UPPER(CAST(AI_QUERY('e', q, 'INT') AS INT)) FROM t"),
    ],
)
def test_spark_sql_gets_databricks_types(sql, expected):
    assert typed_sql(sql) == expected


def test_typed_values_as_spark_reads_them(settings):
    from agent_magics.sql.returntype import parse_return_type
    from agent_magics.sql.semantics import Answer
    from agent_magics.sql.spark_udf import spark_text
    from agent_magics.sql.transpile import AiCall

    mapped = AiCall(0, "e", "q", return_type=parse_return_type("STRUCT<m: MAP<STRING, INT>, d: DATE>"))
    value = parse_return_type("STRUCT<m: MAP<STRING, INT>, d: DATE>").coerce({"m": {"a": 1}, "d": "2024-01-02"})
    assert json.loads(spark_text(mapped, Answer(value=value))) == {"m": {"a": 1}, "d": "2024-01-02"}
    scalar = AiCall(0, "e", "q", return_type=parse_return_type("BOOLEAN"))
    assert spark_text(scalar, Answer(value=True)) == "true"
