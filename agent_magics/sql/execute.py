"""Pick the engine for a statement, check the options it can honour, run it: a pandas DataFrame.

``auto``: the notebook's Spark session inside a Databricks runtime, else a configured SQL warehouse
(``--warehouse``, ``$DATABRICKS_WAREHOUSE_ID`` or the profile's ``warehouse_id``), else the local engine.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from agent_magics.core.defaults import ESTIMATE_SAMPLE
from agent_magics.core.environment import in_databricks_runtime
from agent_magics.core.errors import AgentError, AgentUsageError

ENGINES = ("auto", "local", "warehouse", "spark")
DEFAULT_CONCURRENCY = 8
MAX_CONCURRENCY = 256


class BatchInterrupted(AgentError):
    """The statement was stopped (interrupt or --timeout); ``partial`` has the finished requests.

    Defined here, not in the local engine: the magic catches it without importing the engine.
    """

    def __init__(self, message: str, partial: Any) -> None:
        super().__init__(message)
        self.partial = partial


class BatchFailed(BatchInterrupted):
    """A row's ai_query failed under ``failOnError => true`` (Databricks fails the statement then).

    ``partial`` is the statement's result with the rows answered before the failure; the others'
    ai_query values are NULL. The magic reports it as ``%%agent`` reports a failed answer: one line,
    what finished kept, no exception.
    """


@dataclass
class SqlOptions:
    engine: str = "auto"
    warehouse: str | None = None
    concurrency: int | None = None  # None: DEFAULT_CONCURRENCY on the local engine
    custom_inputs: dict[str, Any] | None = None
    return_trace: bool = False
    stream: bool = False
    profile: str | None = None
    timeout: float | None = None
    retries: int = 3
    progress: str = "auto"  # auto | widget | display | text | none
    # Named parameters (``:name`` in the SQL): how ``{name}`` values reach every engine, as values
    parameters: dict[str, Any] | None = None
    # --into / --estimate / --retry-failed: sql/into.py, sql/estimate.py, sql/retry_failed.py
    into: str | None = None  # a table name: CREATE TABLE ... AS on the warehouse or Spark
    estimate: bool = False
    sample: int = ESTIMATE_SAMPLE  # requests --estimate sends
    price_per_1k_tokens: float | None = None
    retry_failed: Any = None  # a retry_failed.Memo: send only the requests that failed before


def choose_engine(options: SqlOptions, namespace: Mapping[str, Any], sql: str | None = None) -> str:
    if options.engine != "auto":
        return options.engine
    if options.estimate or options.retry_failed is not None:  # they need the local engine's own requests
        return "local"
    if in_databricks_runtime():
        from agent_magics.sql.spark_engine import find_spark

        if find_spark(namespace) is not None:
            return "spark"
    elif sql is not None:
        from agent_magics.sql.engine_choice import spark_has_the_tables

        if spark_has_the_tables(sql, namespace):
            return "spark"
    if options.warehouse or os.environ.get("DATABRICKS_WAREHOUSE_ID"):
        return "warehouse"
    from agent_magics.transport.workspace import workspace_configured

    if (options.profile or workspace_configured()) and _profile_warehouse(options.profile):
        return "warehouse"
    return "local"


def _profile_warehouse(profile: str | None) -> str | None:
    from agent_magics.transport.workspace import get_workspace

    try:
        return getattr(get_workspace(profile).config, "warehouse_id", None)
    except Exception:  # no usable profile: the local engine will say what is wrong, if anything
        return None


def run_sql(
    sql: str, namespace: Mapping[str, Any] | None = None, options: SqlOptions | None = None, **kwargs: Any
) -> Any:
    """Run ``sql`` (Databricks SQL with ai_query) on the chosen engine; a pandas DataFrame."""
    options = replace(options or SqlOptions(), **kwargs)
    namespace = namespace if namespace is not None else {}
    if options.engine not in ENGINES:
        raise AgentUsageError(f"--engine must be one of {', '.join(ENGINES)}, not {options.engine!r}.")
    engine = choose_engine(options, namespace, sql)
    if options.engine == "auto" and engine == "spark" and not in_databricks_runtime() and options.progress != "none":
        print(
            "agent_sql: --engine auto: running on the notebook's Spark session (the query reads only its tables).",
            file=sys.stderr,
        )
    from agent_magics.sql.batch_options import check_batch_options

    check_batch_options(engine, options)  # --into / --estimate / --retry-failed (batch_options.py)
    try:
        if engine == "local":
            frame = _run_local(sql, namespace, options)
        elif options.into is not None:
            _refuse_local_only(engine, options)
            frame = _run_into(engine, sql, namespace, options)
        else:
            _refuse_local_only(engine, options)
            if engine == "warehouse":
                _note_ignored(engine, options)
                frame = _run_warehouse(sql, options)
            else:
                frame = _run_spark(sql, namespace, options)
    except BatchInterrupted as stopped:
        stopped.partial = _readable(redact_frame(stopped.partial))
        raise
    frame = _readable(redact_frame(frame))  # answers and row errors of an agent that echoes its request headers
    if hasattr(frame, "attrs"):
        frame.attrs["agent_sql_engine"] = engine  # which engine ran, for code that asks
    return frame


def _readable(frame: Any) -> Any:
    """The frame, its failOnError => false structs shown as their answer or error (the data unchanged)."""
    if type(frame).__module__.split(".")[0] != "pandas":
        return frame
    from agent_magics.sql.frame import readable_frame

    return readable_frame(frame)


def redact_frame(frame: Any) -> Any:
    """``frame`` with the process's secrets redacted from its text cells (a no-op when none are known)."""
    from agent_magics.core import secrets

    if not secrets.known() or not hasattr(frame, "columns"):
        return frame
    known = secrets.known()
    for position in range(len(frame.columns)):
        column = frame.iloc[:, position]
        if str(column.dtype) in ("str", "string"):  # text: a vectorised look first (most frames hold none)
            if any(column.str.contains(secret, regex=False).any() for secret in known):
                frame.iloc[:, position] = column.map(secrets.redact_value)
        elif column.dtype.kind in "OSUT":  # objects: structs, arrays, mixed
            frame.iloc[:, position] = column.map(secrets.redact_value)
    return frame


def _run_into(engine: str, sql: str, namespace: Mapping[str, Any], options: SqlOptions) -> Any:
    """--into: the CTAS with the user's options, then the two small read-backs quietly."""
    from agent_magics.sql.into import write_into

    quiet = replace(options, progress="none", stream=False, concurrency=None, parameters=None)

    def run(statement: str, main: bool) -> Any:
        chosen = options if main else quiet
        if engine == "warehouse":
            if main:
                _note_ignored(engine, chosen)
            return _run_warehouse(statement, chosen)
        return _run_spark(statement, namespace, chosen)

    return write_into(options.into or "", sql, engine, run)


def _refuse_local_only(engine: str, options: SqlOptions) -> None:
    """Options another engine cannot honour and that would change results: an error."""
    if options.return_trace:
        raise AgentUsageError(
            f"--return-trace: the {engine} engine cannot return traces (its ai_query returns "
            "the answer only); use --engine local."
        )
    if options.custom_inputs is not None:
        raise AgentUsageError(
            f"--custom-inputs: the {engine} engine's ai_query cannot send custom_inputs; put them "
            "in a named_struct request, or use --engine local."
        )


def _note_ignored(engine: str, options: SqlOptions, native_ai_query: bool = True) -> None:
    """Options another engine cannot honour but that change no result: a note."""
    if options.concurrency is not None and (engine == "warehouse" or native_ai_query):
        print(
            f"agent_sql: --concurrency does not apply here: Databricks' {engine} schedules its ai_query itself.",
            file=sys.stderr,
        )
    if options.stream:
        print(
            f"agent_sql: --stream: the {engine} returns rows only when the statement ends; showing its "
            "progress instead.",
            file=sys.stderr,
        )


def _progress(options: SqlOptions, label: str) -> Any:
    from agent_magics.view.progress import Progress

    if options.progress == "none":
        return None
    return Progress(options.progress, stream=options.stream, label=label)


def _run_local(sql: str, namespace: Mapping[str, Any], options: SqlOptions) -> Any:
    from agent_magics.core.extras import require_extra

    require_extra("sql", hint="or run the SQL on a warehouse (--engine warehouse) or Spark (--engine spark).")
    from agent_magics.core.request import Timeouts
    from agent_magics.sql.batch_options import after_local, answer_wrapper
    from agent_magics.sql.batch_progress import batch_reading
    from agent_magics.sql.invocations import WorkspaceInvoker
    from agent_magics.sql.local_engine import LocalOptions, run_local
    from agent_magics.transport.workspace import get_workspace
    from agent_magics.view.progress import status_line

    concurrency = options.concurrency or DEFAULT_CONCURRENCY
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise AgentUsageError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}.")
    invoker = _LazyInvoker(
        lambda: WorkspaceInvoker(get_workspace(options.profile), retries=options.retries, timeouts=Timeouts())
    )
    progress = _progress(options, "ai_query --estimate" if options.estimate else "ai_query")
    wrap, wrapper = answer_wrapper(options)
    local = LocalOptions(
        concurrency=concurrency,
        custom_inputs=options.custom_inputs,
        return_trace=options.return_trace,
        timeout=options.timeout,
        parameters=options.parameters,
        wrap=wrap,
    )
    last: list[Any] = []
    reading: list[Any] = []

    def tick(batch: Any) -> None:
        if not last:
            last.append(batch)
            reading.append(batch_reading(batch, stream=options.stream))
        if progress is not None and batch.submitted:  # plain SQL (no ai_query rows) shows no progress
            progress.tick(reading[0])

    def close(outcome: str) -> None:
        if progress is not None and last:
            progress.tick(reading[0], force=True)
            progress.close(status_line(last[0].snapshot()) + f" · {outcome}")

    try:
        frame = run_local(sql, namespace, invoker, local, tick=tick)
    except BatchInterrupted as stopped:
        close("stopped")
        if last and not options.estimate:  # --retry-failed sends only what was not answered
            from agent_magics.sql.retry_failed import remember

            remember(stopped.partial, sql, options.parameters, list(last[0].records), stopped=True)
        raise
    except BaseException:
        close("failed")
        raise
    if last and last[0].submitted:
        close("done")
    return after_local(frame, sql, options, wrapper, last[0] if last else None, concurrency)


class _LazyInvoker:
    """Resolve the workspace only if the SQL calls ai_query (plain SQL over DataFrames needs none)."""

    def __init__(self, build: Any) -> None:
        self._build = build
        self._invoker: Any = None

    def _get(self) -> Any:
        if self._invoker is None:
            self._invoker = self._build()
        return self._invoker

    def interface(self, endpoint: str) -> str:
        return str(self._get().interface(endpoint))

    def post(self, endpoint: str, body: dict[str, Any]) -> Any:
        return self._get().post(endpoint, body)


def _run_warehouse(sql: str, options: SqlOptions) -> Any:
    from agent_magics.core.extras import require_extra

    require_extra("sql", part="the warehouse engine's DataFrame", modules=("pandas",))
    from agent_magics.sql.warehouse_engine import configured_warehouse, run_warehouse, statement_parameters
    from agent_magics.transport.workspace import get_workspace

    workspace = get_workspace(options.profile)
    warehouse_id = configured_warehouse(options.warehouse, workspace.config)
    if warehouse_id is None and workspace.is_local:
        from agent_magics.transport.embedded_config import LOCAL_WAREHOUSE_ID

        warehouse_id = LOCAL_WAREHOUSE_ID
    if warehouse_id is None:
        raise AgentUsageError(
            "--engine warehouse needs a SQL warehouse id: pass --warehouse ID, set "
            "DATABRICKS_WAREHOUSE_ID, or add warehouse_id to your profile "
            "(`databricks warehouses list` shows the ids)."
        )
    progress = _progress(options, "warehouse")
    outcome = "failed"
    try:
        frame = run_warehouse(
            sql,
            workspace.workspace_client(),
            warehouse_id,
            timeout=options.timeout,
            note=progress.note if progress is not None else None,
            parameters=statement_parameters(options.parameters),
        )
        outcome = f"{len(frame):,} rows"
    finally:
        if progress is not None:
            progress.close(f"warehouse {warehouse_id}: {outcome}")
    return frame


def _run_spark(sql: str, namespace: Mapping[str, Any], options: SqlOptions) -> Any:
    from agent_magics.sql.spark_engine import find_spark, run_spark

    spark = find_spark(namespace)
    if spark is None:
        raise AgentUsageError(
            "--engine spark: no Spark session found; define `spark` (in Databricks it is there, "
            "elsewhere DatabricksSession.builder.getOrCreate()), or use --engine local."
        )
    from agent_magics.core.extras import require_extra

    require_extra("sql", part="the Spark engine's DataFrame (toPandas)", modules=("pandas",))
    native = True
    if "ai_query" in sql.lower():
        from agent_magics.sql.spark_sql import has_native_ai_query, typed_sql

        native = has_native_ai_query(spark)
        if not native:  # open-source Spark: ours, run by the executors through the batch engine
            from agent_magics.sql.spark_udf import register_ai_query

            typed = typed_sql(sql, options.parameters)  # argument mistakes are reported before anything is registered
            register_ai_query(
                spark,
                profile=options.profile,
                concurrency=options.concurrency or DEFAULT_CONCURRENCY,
                retries=options.retries,
            )
            sql = typed
    _note_ignored("spark", options, native)
    progress = _progress(options, "spark")
    outcome = "failed"
    try:
        frame = run_spark(
            sql,
            spark,
            timeout=options.timeout,
            note=progress.note if progress is not None else None,
            args=options.parameters,
        )
        outcome = f"{len(frame):,} rows"
    finally:
        if progress is not None:
            progress.close(f"spark: {outcome}")
    return frame
