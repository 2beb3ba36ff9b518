"""ai_query on a real local[2] SparkSession: the registered pandas UDF, the spark engine, its errors.

Needs plain pyspark and Java: ``make test-pyspark`` runs these in ``.venv-pyspark``; elsewhere they are
skipped with the reason. The executors' Python workers ask the session's local workspace over HTTP.
"""

from __future__ import annotations

import pytest
from fixtures.uvicorn_thread import UvicornThread
from sparkenv import plain_pyspark_missing

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.local.fixed_latency import FixedLatencyEndpoint
from agent_magics.sql import register_ai_query, run_sql
from agent_magics.sql.spark_engine import run_spark

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(plain_pyspark_missing() is not None, reason=str(plain_pyspark_missing())),
]

PAGE = (
    """SELECT ai_query("demo-agent", question) """
    """FROM (VALUES ('what is MLflow?'), ('how does MLflow work?')) AS t(question)"""
)


def test_page_example_through_the_spark_engine_registers_ai_query(spark, local_workspace_env):
    frame = run_sql(PAGE, {"spark": spark}, engine="spark", progress="none")
    assert list(frame.columns) == ["ai_query(demo-agent, question)"]  # Spark names it as Databricks does
    assert len(frame) == 2 and all("MLflow" in answer for answer in frame.iloc[:, 0])


def test_named_arguments_give_databricks_types(spark, local_workspace_env):
    sql = (
        "SELECT q, ai_query('fault-500', q, failOnError => false) AS bad, "
        "ai_query('demo-agent', q, failOnError => false) AS good, "
        "ai_query('demo-agent', named_struct('input', array(named_struct('role', 'user', 'content', q)))) AS raw "
        "FROM VALUES ('what is MLflow?') AS t(q)"
    )
    row = run_sql(sql, {"spark": spark}, engine="spark", progress="none").iloc[0]
    assert row["bad"]["result"] is None and "HTTP 500" in row["bad"]["errorMessage"]
    assert "MLflow" in row["good"]["result"] and row["good"]["errorMessage"] is None
    assert row["good"]["response"] == row["good"]["result"]
    assert '"output"' in row["raw"]  # a STRUCT request without returnType: the endpoint's JSON answer


def test_fail_on_error_true_keeps_the_workers_cause(spark, local_workspace_env):
    with pytest.raises(AgentError) as caught:
        run_sql("SELECT ai_query('fault-500', 'x') AS a", {"spark": spark}, engine="spark", progress="none")
    message = str(caught.value)
    assert message.startswith("spark: ai_query / a Python UDF failed on an executor: ai_query('fault-500') failed")
    assert "HTTP 500" in message and "failOnError => false" in message and "\n" not in message


def test_model_parameters_for_a_responses_agent_is_refused_with_its_error_class(spark, local_workspace_env):
    sql = "SELECT ai_query('demo-agent', 'hi', modelParameters => named_struct('temperature', 0.2)) AS a"
    with pytest.raises(AgentError, match=r"AI_FUNCTION_INVALID_MODEL_PARAMETERS"):
        run_sql(sql, {"spark": spark}, engine="spark", progress="none")


def test_unresolved_ai_query_off_databricks_says_what_to_do(spark):
    fresh = spark.newSession()  # shares the SparkContext, not the temporary functions
    with pytest.raises(AgentError) as caught:
        run_spark("SELECT ai_query('demo-agent', 'hi')", fresh)
    assert "UNRESOLVED_ROUTINE" in str(caught.value) and "register_ai_query(spark)" in str(caught.value)
    with pytest.raises(AgentError, match=r"^spark: \[UNRESOLVED_ROUTINE\] Cannot resolve routine `nope`"):
        run_spark("SELECT nope(1)", fresh)


def test_bad_arguments_are_refused_before_spark_runs(spark, local_workspace_env):
    with pytest.raises(AgentUsageError, match="returnType 'NOT A TYPE' is not a type"):
        run_sql(
            "SELECT ai_query('demo-agent', 'hi', returnType => 'NOT A TYPE')",
            {"spark": spark},
            engine="spark",
            progress="none",
        )


def test_each_task_keeps_its_own_concurrency_bound(spark):
    counting = FixedLatencyEndpoint(delay=0.03)
    with UvicornThread(counting.app(), name="fixed-latency") as host:
        register_ai_query(spark, host=host, token="dapi-test", concurrency=4)
        frame = spark.sql(
            "SELECT id, ai_query('stub', CAST(id AS STRING)) AS a FROM range(0, 240, 1, 2) ORDER BY id"
        ).toPandas()
    assert frame["a"].tolist() == [f"A:{i}" for i in range(240)]  # every row, each its own answer
    assert 4 < counting.most <= 8  # two tasks at once, each at most 4 in flight


def test_auto_runs_on_spark_when_the_query_reads_its_tables(spark, local_workspace_env, capsys):
    import pandas as pd

    spark.createDataFrame(pd.DataFrame({"q": ["what is MLflow?"]})).createOrReplaceTempView("spark_questions")
    sql = "SELECT ai_query('demo-agent', q) AS a FROM spark_questions"
    frame = run_sql(sql, {"spark": spark})
    assert frame.attrs["agent_sql_engine"] == "spark" and "MLflow" in frame["a"][0]
    assert "running on the notebook's Spark session" in capsys.readouterr().err
    local = run_sql(sql, {"spark": spark, "spark_questions": pd.DataFrame({"q": ["what is MLflow?"]})}, progress="none")
    assert local.attrs["agent_sql_engine"] == "local"  # a notebook DataFrame of that name: the local engine


def test_a_timeout_cancels_only_the_statements_own_jobs(spark):
    """--timeout (and Ctrl-C) cancel the statement's jobs by their tag: another thread's job on the
    same session goes on (cancelling every job would stop other notebooks' work too)."""
    import threading
    import time

    spark.udf.register("agent_magics_test_slow", lambda x: time.sleep(0.25) or x, "bigint")
    slow = "SELECT sum(agent_magics_test_slow(id)) AS s FROM range(0, 60, 1, 2)"  # ~7.5 s on local[2]
    other: dict[str, object] = {}
    tracker = spark.sparkContext.statusTracker()
    before = next(i for i in range(100_000) if tracker.getJobInfo(i) is None) - 1  # earlier tests' jobs (ids count up)

    def neighbour() -> None:
        try:
            other["rows"] = spark.sql("SELECT sum(agent_magics_test_slow(id)) AS s FROM range(0, 16, 1, 1)").collect()
        except Exception as exc:
            other["error"] = exc

    thread = threading.Thread(target=neighbour, daemon=True)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    with pytest.raises(AgentError, match="no result within --timeout 1 s"):
        run_spark(slow, spark, timeout=1)
    assert time.monotonic() - started < 3
    thread.join(30)
    assert "error" not in other, other.get("error")  # the neighbour's job was not cancelled
    assert other["rows"][0]["s"] == sum(range(16))
    deadline = time.monotonic() + 30
    while tracker.getActiveJobsIds() and time.monotonic() < deadline:
        time.sleep(0.1)
    # The statement's job was cancelled, even one Spark started only after the timeout (still planning).
    new = range(before + 1, before + 50)
    statuses = {job: str(tracker.getJobInfo(job).status) for job in new if tracker.getJobInfo(job) is not None}
    assert list(statuses.values()).count("FAILED") == 1, statuses  # the neighbour's jobs SUCCEEDED
