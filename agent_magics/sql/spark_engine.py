"""The Spark engine: ``spark.sql(sql).toPandas()`` with the notebook's session (Databricks notebooks,
Databricks Connect, Spark Connect or a local pyspark session). On Databricks ai_query is its own and
the SQL runs as written; elsewhere ``run.py`` first registers ours (``spark_udf.register_ai_query``).

The statement runs on a worker thread so an interrupt can cancel the Spark jobs (``interruptAll`` on
Spark Connect, ``cancelAllJobs`` on classic Spark) instead of leaving them running on the cluster.
"""

from __future__ import annotations

import threading
import time
import uuid
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from agent_magics.core.environment import in_databricks_runtime
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
    if in_databricks_runtime():
        try:
            from databricks.sdk.runtime import spark as runtime_spark

            return runtime_spark
        except Exception:
            return None
    return None


def run_spark(
    sql: str,
    spark: Any,
    *,
    timeout: float | None = None,
    note: Callable[[str], None] | None = None,
    args: dict[str, Any] | None = None,
) -> Any:
    """Run ``sql`` with ``spark``; a pandas DataFrame. Errors become one line (the Spark error class)."""
    outcome: dict[str, Any] = {}
    finished = threading.Event()  # not Thread.join: a join interrupted by Ctrl-C misreports the thread

    # pyspark repeats a failed Arrow toPandas as a warning with the worker's whole traceback: the error
    # itself is reported below, in one line.
    warnings.filterwarnings("ignore", message="toPandas attempted Arrow optimization", category=UserWarning)

    mark, cancel = _statement_tag(spark)
    outcome["cancel"] = cancel

    def work() -> None:
        try:
            try:
                mark()  # only this statement's jobs are cancelled
            except Exception:  # nothing marks them here: a cancel cancels every job
                outcome["cancel"] = None
            # named parameters are bound by Spark as literals: a value never becomes SQL
            outcome["frame"] = (spark.sql(sql, args=args) if args else spark.sql(sql)).toPandas()
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
                _cancel_until(finished, spark, outcome.get("cancel"))
                raise AgentError(f"spark: no result within --timeout {timeout:g} s; Spark jobs cancelled.")
    except KeyboardInterrupt:
        _cancel_until(finished, spark, outcome.get("cancel"))
        raise AgentError("spark: interrupted; the statement's Spark jobs were cancelled.") from None
    if "error" in outcome:
        raise AgentError(describe_spark_error(outcome["error"])) from None
    return outcome["frame"]


_WORKER_FAILED = "An exception was thrown from the Python worker"
_OUR_ERRORS = ("AgentError", "AgentUsageError")


def describe_spark_error(exc: BaseException) -> str:
    """One line: the Spark error class and message; for a Python worker failure, the worker's own error."""
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    if _is_python_worker_error(exc) or (lines and lines[0].startswith(_WORKER_FAILED)):
        return f"spark: ai_query / a Python UDF failed on an executor: {_worker_cause(lines)}"
    condition = _condition(exc)
    if condition == "UNRESOLVED_ROUTINE" and "ai_query" in text.lower():
        return (
            "spark: [UNRESOLVED_ROUTINE] this Spark session has no ai_query (it is a Databricks built-in): "
            "run the SQL with %agent_sql --engine spark, which registers one, or call "
            "agent_magics.sql.register_ai_query(spark) first."
        )
    return f"spark: {lines[0] if lines else type(exc).__name__}"


def _is_python_worker_error(exc: BaseException) -> bool:
    try:
        from pyspark.errors import PythonException
    except ImportError:
        return False
    return isinstance(exc, PythonException)


def _worker_cause(lines: list[str]) -> str:
    """The last line of the worker's traceback ("ValueError: ..."); ours without the class name."""
    worker = lines[1:]
    for at, line in enumerate(worker):  # Spark Connect appends the JVM's stack trace
        if line.startswith("JVM stacktrace"):
            worker = worker[:at]
            break
    frames = [line for line in worker if not line.startswith((" ", "\t", "Traceback "))]
    if not frames:
        return lines[0] if lines else "no details"
    last = frames[-1]
    kind, _, message = last.partition(": ")
    return message if kind.rsplit(".", 1)[-1] in _OUR_ERRORS and message else last


def _condition(exc: BaseException) -> str | None:
    for name in ("getCondition", "getErrorClass"):
        method = getattr(exc, name, None)
        if callable(method):
            try:
                value = method()
            except Exception:
                continue
            if value:
                return str(value)
    return None


def _statement_tag(spark: Any) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(mark, cancel) for one statement: ``mark()`` in the thread that runs it makes its jobs a group
    of their own, ``cancel()`` cancels just them (so other notebooks' and threads' jobs go on). Classic
    Spark groups a thread's jobs (``setJobGroup``; its session's ``interruptTag`` does not reach the
    jobs ``toPandas`` starts); Spark Connect has no SparkContext and tags operations (``addTag``).
    Decided before the statement's thread starts, so a Ctrl-C at once still has its cancel."""
    tag = f"agent_magics_{uuid.uuid4().hex}"
    try:
        context = spark.sparkContext  # Spark Connect: raises (no SparkContext on the client)
    except Exception:
        return (lambda: spark.addTag(tag)), (lambda: spark.interruptTag(tag))
    return (
        (lambda: context.setJobGroup(tag, "agent_magics %agent_sql", interruptOnCancel=True)),
        (lambda: context.cancelJobGroup(tag)),
    )


CANCEL_EVERY = 0.5  # seconds between cancels while the statement's thread still runs
CANCEL_FOR = 120.0  # seconds the cancels go on at most


def _cancel_until(finished: threading.Event, spark: Any, cancel: Callable[[], Any] | None) -> None:
    """Cancel now, then again until the statement's thread ends: a job the statement had not started
    yet (Spark still planning it) starts after the first cancel, and is cancelled by the next."""
    _cancel(spark, cancel)
    if cancel is None:  # every job was cancelled: not again and again
        return

    def again() -> None:
        give_up = time.monotonic() + CANCEL_FOR
        while not finished.wait(CANCEL_EVERY) and time.monotonic() < give_up:
            _cancel(spark, cancel)

    threading.Thread(target=again, name="agent_sql_spark_cancel", daemon=True).start()


def _cancel(spark: Any, cancel: Callable[[], Any] | None) -> None:
    """Cancel the statement's jobs: by its tag or job group, else (nothing marked them) every job."""
    try:
        if cancel is not None:
            cancel()
        else:
            spark.sparkContext.cancelAllJobs()
    except Exception:  # best effort: the error says what happened, and the jobs end with the session
        pass
