"""``--engine auto`` outside Databricks picks the notebook's Spark session only when it holds every table."""

from __future__ import annotations

import pandas as pd

from agent_magics.sql.engine_choice import read_tables, spark_has_the_tables
from agent_magics.sql.execute import SqlOptions, choose_engine


class CatalogOnlySpark:
    """The two things the choice asks of a session: ``sql`` exists, ``catalog.tableExists``."""

    def __init__(self, tables):
        self.catalog = type("Catalog", (), {"tableExists": lambda _self, name: name in tables})()

    def sql(self, text):
        raise AssertionError("the choice must not run SQL")


def test_tables_read_are_qualified_without_ctes_or_range():
    sql = "WITH c AS (SELECT 1) SELECT * FROM main.demo.questions q JOIN c JOIN range(3) JOIN events"
    assert read_tables(sql) == ["events", "main.demo.questions"]


def test_spark_only_when_every_table_is_there_and_none_is_a_notebook_frame(monkeypatch):
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    spark = CatalogOnlySpark({"questions", "main.demo.events"})
    sql = "SELECT ai_query('demo-agent', q) FROM questions JOIN main.demo.events"
    assert spark_has_the_tables(sql, {"spark": spark})
    assert choose_engine(SqlOptions(), {"spark": spark}, sql) == "spark"
    assert not spark_has_the_tables(sql, {"spark": spark, "questions": pd.DataFrame({"q": ["x"]})})
    assert not spark_has_the_tables("SELECT * FROM questions JOIN missing", {"spark": spark})
    assert not spark_has_the_tables("SELECT ai_query('demo-agent', 'hi')", {"spark": spark})  # no table: local
    assert not spark_has_the_tables("SELECT * FROM questions", {})  # no session in the notebook
    assert choose_engine(SqlOptions(engine="local"), {"spark": spark}, sql) == "local"
