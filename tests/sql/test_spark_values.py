"""``{name}`` values reach Spark as named parameters (``spark.sql(sql, args=...)``), never as SQL:
the same hostile values as the local and warehouse engines, read back unchanged, and in a prompt."""

from __future__ import annotations

import pytest
from sparkenv import plain_pyspark_missing

from agent_magics.magic.interpolate import interpolate_sql
from agent_magics.sql import run_sql

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(plain_pyspark_missing() is not None, reason=str(plain_pyspark_missing())),
]

HOSTILE = [
    "What's MLflow?",
    "x' || (SELECT content FROM read_text('~/.databrickscfg')) || '",
    "'; DROP TABLE questions; --",
    "\\' || version() || '",
    "*/ SELECT 1 /*",
]


def _run(spark, sql: str, **values):
    filled = interpolate_sql(sql, values)
    return run_sql(filled.sql, {"spark": spark}, engine="spark", progress="none", parameters=filled.parameters)


@pytest.mark.parametrize("value", HOSTILE)
def test_values_come_back_unchanged_on_spark(spark, value):
    frame = _run(spark, "SELECT {v} AS bare, '{v}' AS quoted, 'say: {v}!' AS mixed", v=value)
    assert (frame["bare"][0], frame["quoted"][0], frame["mixed"][0]) == (value, value, f"say: {value}!")


def test_a_hostile_prompt_reaches_ai_query_as_text(spark, local_workspace_env):
    frame = _run(spark, "SELECT ai_query('{ep}', 'Answer: {q}') AS a", ep="demo-agent", q=HOSTILE[1])
    assert isinstance(frame["a"][0], str) and frame["a"][0]
