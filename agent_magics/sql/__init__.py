"""``%agent_sql``: Databricks ``ai_query(...)`` SQL, run locally (DuckDB), on a SQL warehouse or on Spark.

Public API (plain Python, no IPython needed)::

    from agent_magics.sql import run_sql, SqlOptions
    df = run_sql("SELECT ai_query('demo-agent', q) AS a FROM questions", {"questions": questions_df})

Nothing heavy is imported here: DuckDB, sqlglot, pandas and the SDK load on first use.

Engines: ``local`` (DuckDB in-process, the notebook's DataFrames by variable name, ai_query sent by
this package with bounded concurrency), ``warehouse`` (Statement Execution API), ``spark`` (the
notebook's session). Warehouse and Spark on Databricks run the SQL as written, with Databricks' own
ai_query; on open-source Spark (local, Spark Connect) ``register_ai_query`` provides one.

What the local engine does differently from Databricks' ai_query:

* ``failOnError => false`` gives ``STRUCT<result, errorMessage, response>``: ``result`` is the name
  Databricks' working code reads, ``response`` the one some of its docs use; both hold the value.
* Without ``returnType`` a STRUCT request returns the endpoint's whole JSON answer as a STRING
  (Databricks infers a STRUCT from the model signature); a STRING request returns the answer text.
* A non-STRING ``returnType`` is applied to the endpoint's JSON answer (fields by name, missing fields
  NULL, extra fields ignored); when the answer has none of the fields, the answer text is parsed as JSON.
  A value of the wrong kind is a row error (Databricks' ``from_json`` would give NULL).
* ``modelParameters`` are merged into chat endpoints' requests (Databricks allows them only for
  foundation/external models) and refused for ResponsesAgent endpoints with Databricks' error class.
* A NULL request gives NULL without a request. ``files =>`` is not supported.
* ``--custom-inputs`` and ``--return-trace`` (a ``trace`` column of trace dicts) exist only here.
* Requests go to ``/serving-endpoints/{name}/invocations`` with the engine's retries (429/503/connection
  errors, Retry-After honoured); concurrency is ``--concurrency`` (default 8), not autoscaled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_magics.sql.execute import SqlOptions

__all__ = ["SqlOptions", "register_ai_query", "run_sql"]


def run_sql(sql: str, namespace: dict[str, Any] | None = None, options: SqlOptions | None = None, **kwargs: Any) -> Any:
    """Run ``sql`` (Databricks dialect) and return a pandas DataFrame. See ``run.run_sql``."""
    from agent_magics.sql.execute import run_sql as _run

    return _run(sql, namespace, options, **kwargs)


def register_ai_query(spark: Any, **kwargs: Any) -> Any:
    """Register ``ai_query`` on any Spark session (a pandas UDF). See ``spark_udf.register_ai_query``."""
    from agent_magics.sql.spark_udf import register_ai_query as _register

    return _register(spark, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "SqlOptions":
        from agent_magics.sql.execute import SqlOptions

        return SqlOptions
    raise AttributeError(name)
