"""--into TABLE on a real local[2] SparkSession: CREATE TABLE ... AS with the registered ai_query, the
answers written by the executors (never collected), a summary back; the table lives under tmp_path.

Needs plain pyspark and Java: ``make test-pyspark`` runs these in ``.venv-pyspark``.
"""

from __future__ import annotations

import uuid

import pytest
from sparkenv import plain_pyspark_missing

from agent_magics.core.errors import AgentUsageError
from agent_magics.sql import run_sql

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(plain_pyspark_missing() is not None, reason=str(plain_pyspark_missing())),
]


@pytest.fixture
def schema(spark, tmp_path):
    name = f"agent_into_{uuid.uuid4().hex[:8]}"
    spark.sql(f"CREATE DATABASE {name} LOCATION '{tmp_path / name}'")  # its tables are written there
    yield name
    spark.sql(f"DROP DATABASE {name} CASCADE")


def test_spark_writes_the_table_and_returns_a_summary(spark, schema, local_workspace_env):
    table = f"{schema}.answers"
    sql = (
        "SELECT id, ai_query('demo-agent', concat('what is MLflow? #', id)) AS a, "
        "ai_query(IF(id % 3 = 0, 'fault-500', 'demo-agent'), 'x', failOnError => false) AS r "
        "FROM range(6)"
    )
    with pytest.raises(AgentUsageError, match="must be a string literal"):  # refused before Spark runs anything
        run_sql(sql, {"spark": spark}, engine="spark", into=table, progress="none")
    assert not spark.catalog.tableExists(table)
    sql = (
        "SELECT id, ai_query('demo-agent', concat('what is MLflow? #', id)) AS a, "
        "ai_query('fault-500', 'x', failOnError => false) AS r FROM range(6) WHERE id < 4 "
        "UNION ALL SELECT id, ai_query('demo-agent', 'hi') AS a, ai_query('demo-agent', 'y', failOnError => false) "
        "AS r FROM range(2)"
    )
    summary = run_sql(sql, {"spark": spark}, engine="spark", into=table, progress="none")
    assert summary.to_dict("records") == [{"table": table, "engine": "spark", "rows_written": 6, "failed_rows": 4}]
    written = spark.table(table)
    assert dict(written.dtypes)["r"].startswith("struct<") and written.count() == 6
    rows = {row["id"]: row for row in written.where("r.errorMessage IS NULL").collect()}
    assert len(rows) == 2 and all(row["r"]["result"] for row in rows.values())
