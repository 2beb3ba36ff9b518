"""The Spark engine: ``spark.sql(sql).toPandas()`` with the notebook's session (Databricks notebooks and
Databricks Connect). ai_query is Databricks' own there: the SQL runs as written.

The statement runs on a worker thread so an interrupt can cancel the Spark jobs (``interruptAll`` on
Spark Connect, ``cancelAllJobs`` on classic Spark) instead of leaving them running on the cluster.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from agent_magics.core.errors import AgentError


def find_spark(namespace: Mapping[str, Any]) -> Any | None:
    """The notebook's ``spark``, the active session, or ``databricks.sdk.runtime.spark`` in Databricks."""
    spark = namespace.get("spark")
    if spark is not None and callable(getattr(spark, "sql", None)):
        return spark
    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            return active
    except Exception:  # no pyspark, or Databricks Connect refusing a local lookup
        pass
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        try:
            from databricks.sdk.runtime import spark as runtime_spark

            return runtime_spark
        except Exception:
            return None
    return None


def run_spark(sql: str, spark: Any, *, timeout: float | None = None,
              note: Callable[[str], None] | None = None) -> Any:
    """Run ``sql`` with ``spark``; a pandas DataFrame. Errors become one line (the Spark error class)."""
    outcome: dict[str, Any] = {}
    finished = threading.Event()  # not Thread.join: a join interrupted by Ctrl-C misreports the thread

    def work() -> None:
        try:
            outcome["frame"] = spark.sql(sql).toPandas()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=work, name="agent_sql_spark", daemon=True)
    started = time.monotonic()
    worker.start()
    try:
        while not finished.wait(0.2):
            elapsed = time.monotonic() - started
            if note is not None:
                note(f"spark: running · {elapsed:.1f} s")
            if timeout is not None and elapsed > timeout:
                _cancel(spark)
                raise AgentError(f"spark: no result within --timeout {timeout:g} s; Spark jobs cancelled.")
    except KeyboardInterrupt:
        _cancel(spark)
        raise AgentError("spark: interrupted; the statement's Spark jobs were cancelled.") from None
    if "error" in outcome:
        exc = outcome["error"]
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise AgentError(f"spark: {first}") from None
    return outcome["frame"]


def _cancel(spark: Any) -> None:
    try:
        if callable(getattr(spark, "interruptAll", None)):
            spark.interruptAll()
        else:
            spark.sparkContext.cancelAllJobs()
    except Exception:  # best effort
        pass
