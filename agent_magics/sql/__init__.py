"""``%agent_sql``: Databricks ``ai_query(...)`` SQL, run locally (DuckDB), on a SQL warehouse or on Spark.

Public API (plain Python, no IPython needed)::

    from agent_magics.sql import run_sql, SqlOptions
    df = run_sql("SELECT ai_query('demo-agent', q) AS a FROM questions", {"questions": questions_df})

Nothing heavy is imported here: DuckDB, sqlglot, pandas and the SDK load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .run import SqlOptions

__all__ = ["SqlOptions", "run_sql"]


def run_sql(sql: str, namespace: dict[str, Any] | None = None, options: SqlOptions | None = None,
            **kwargs: Any) -> Any:
    """Run ``sql`` (Databricks dialect) and return a pandas DataFrame. See ``run.run_sql``."""
    from .run import run_sql as _run

    return _run(sql, namespace, options, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "SqlOptions":
        from .run import SqlOptions

        return SqlOptions
    raise AttributeError(name)
