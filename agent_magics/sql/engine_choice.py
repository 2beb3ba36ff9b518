"""``--engine auto`` outside Databricks: is there a Spark session that holds every table the query reads?

Only a session already in the notebook counts (its ``spark`` variable, or an active one when pyspark is
already imported: importing pyspark just to look would cost every local query a second). A query
that reads no table, or any notebook DataFrame, stays on the local engine.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any


def spark_has_the_tables(sql: str, namespace: Mapping[str, Any]) -> bool:
    spark = _notebook_spark(namespace)
    if spark is None:
        return False
    tables = read_tables(sql)
    if not tables:
        return False
    lowered = {name.lower() for name in namespace}
    if any("." not in table and table.lower() in lowered for table in tables):
        return False  # a DataFrame of the notebook: the local engine reads it
    try:
        return all(spark.catalog.tableExists(table) for table in tables)
    except Exception:  # a session that cannot be asked is not chosen
        return False


def read_tables(sql: str) -> list[str]:
    """Qualified names of the tables ``sql`` reads (CTEs and table functions such as range(...) left out)."""
    from sqlglot import exp

    from agent_magics.core.errors import AgentUsageError
    from agent_magics.sql.transpile import parse

    try:
        tree = parse(sql)
    except AgentUsageError:
        return []  # the chosen engine reports the syntax error
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = []
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.args.get("db") and table.name.lower() in ctes):
            continue
        names.append(".".join(part for part in (table.catalog, table.db, table.name) if part))
    return sorted(set(names))


def _notebook_spark(namespace: Mapping[str, Any]) -> Any | None:
    spark = namespace.get("spark")
    if spark is not None and callable(getattr(spark, "sql", None)):
        return spark
    if "pyspark" not in sys.modules:
        return None
    from agent_magics.sql.spark_engine import find_spark

    return find_spark(namespace)
