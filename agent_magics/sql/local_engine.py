"""The local engine: Databricks SQL on in-process DuckDB over the notebook's DataFrames.

The statement runs on a worker thread so the calling thread stays free to draw progress and to take
Ctrl-C / Kernel > Interrupt: an interrupt cancels the queued requests, interrupts DuckDB and raises
:class:`BatchInterrupted`, which carries a DataFrame of the requests that did finish.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent_magics.core.errors import AgentError
from agent_magics.sql.batch import AnswerFn, Batch, BatchCancelled
from agent_magics.sql.execute import BatchFailed, BatchInterrupted
from agent_magics.sql.invocations import Invoker
from agent_magics.sql.rows import RowAsker
from agent_magics.sql.semantics import Answer
from agent_magics.sql.transpile import AiCall, Transpiled, transpile
from agent_magics.sql.udf import TraceStore, register

Tick = Callable[[Batch], None]


@dataclass
class LocalOptions:
    concurrency: int = 8
    custom_inputs: dict[str, Any] | None = None
    return_trace: bool = False
    timeout: float | None = None  # whole statement, seconds
    parameters: dict[str, Any] | None = None  # named parameters (:name in Databricks SQL), bound by DuckDB
    cancel: threading.Event | None = None  # set from another thread to stop the statement
    # --estimate / --retry-failed: wraps the row asker (sql/estimate.py, sql/retry_failed.py)
    wrap: Callable[[AnswerFn], AnswerFn] | None = None


def run_local(
    sql: str,
    namespace: Mapping[str, Any] | None,
    invoker: Invoker,
    options: LocalOptions | None = None,
    tick: Tick | None = None,
    fetch: Callable[[Any], Any] | None = None,
) -> Any:
    """Run ``sql`` and return a pandas DataFrame; ``tick(batch)`` is called ~10 times a second.

    ``fetch(cursor)`` replaces the DataFrame fetch (the local warehouse wants DuckDB's column types).
    """
    import duckdb

    options = options or LocalOptions()
    plan = transpile(sql, return_trace=options.return_trace, parameters=options.parameters)
    asker = RowAsker(invoker, custom_inputs=options.custom_inputs, return_trace=options.return_trace)
    for call in plan.calls:
        asker.prepare(call)  # unknown endpoint / unsupported argument: fail before any request
    batch = Batch(options.wrap(asker) if options.wrap is not None else asker, options.concurrency)
    con = duckdb.connect()
    handed_over = False
    try:
        con.execute("SET python_enable_replacements = false")  # only the tables we register are visible
        con.execute("SET enable_progress_bar = false")  # ours shows rows; DuckDB's would print to stdout
        missing = register_tables(con, plan, namespace or {})
        traces = TraceStore() if options.return_trace else None
        for call in plan.calls:
            register(con, call, batch, traces)
        # The notebook's DataFrames are registered: nothing else outside the process is reachable
        # (no read_text / read_csv / glob / COPY / ATTACH / extensions), and the SQL cannot turn it back on.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        handed_over = True  # from here the statement's thread closes the connection
        result = _execute(con, plan, batch, options, tick, missing, fetch or _fetch_frame, namespace or {})
    finally:
        batch.close()
        if not handed_over:
            con.close()
    if fetch is not None:
        return result
    frame = result
    for column in plan.trace_columns:
        frame[column] = [json.loads(v) if isinstance(v, str) else None for v in frame[column]]
    return frame


def register_tables(con: Any, plan: Transpiled, namespace: Mapping[str, Any]) -> list[str]:
    """Expose the DataFrames (pandas, polars, Arrow) the SQL names, by their variable names.

    Returns the names that are no DataFrame in the namespace (DuckDB may still know them: a CTE, a view).
    """
    lowered = {name.lower(): name for name in namespace}
    missing = []
    for table in plan.tables:
        name = table if table in namespace else lowered.get(table.lower())
        if name is not None and _is_table_like(namespace[name]):
            con.register(table, namespace[name])
        else:
            missing.append(table)
    return missing


_TABLE_TYPES = {
    ("pandas", "DataFrame"),
    ("polars", "DataFrame"),
    ("polars", "LazyFrame"),
    ("pyarrow", "Table"),
    ("pyarrow", "RecordBatch"),
    ("duckdb", "DuckDBPyRelation"),
}


def _is_table_like(value: Any) -> bool:
    kind = (type(value).__module__.split(".")[0].lstrip("_"), type(value).__name__)
    return kind in _TABLE_TYPES or hasattr(value, "__arrow_c_stream__")


def _bound(plan: Transpiled, parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """The parameters the DuckDB SQL still names (ai_query's constant ones were read at transpile time)."""
    if not parameters:
        return None
    used = {name: parameters[name] for name in plan.parameters if name in parameters}
    return used or None


def _fetch_frame(cursor: Any) -> Any:
    return cursor.fetch_df()


def _execute(
    con: Any,
    plan: Transpiled,
    batch: Batch,
    options: LocalOptions,
    tick: Tick | None,
    missing: list[str],
    fetch: Callable[[Any], Any],
    namespace: Mapping[str, Any],
) -> Any:
    outcome: dict[str, Any] = {}
    # An Event, not Thread.join: a join interrupted by Ctrl-C can leave the thread looking finished
    # while it still runs, and the connection must not be closed under a running statement.
    finished = threading.Event()

    def work() -> None:
        try:
            outcome["result"] = fetch(con.execute(plan.sql, _bound(plan, options.parameters)))
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc
        finally:
            with contextlib.suppress(Exception):
                con.close()
            finished.set()

    worker = threading.Thread(target=work, name="agent_sql", daemon=True)
    deadline = time.monotonic() + options.timeout if options.timeout else None
    worker.start()
    try:
        while not finished.wait(0.1):
            if tick is not None:
                tick(batch)
            if deadline is not None and time.monotonic() > deadline:
                _stop(con, batch, finished, f"stopped at the --timeout of {options.timeout:g} s")
                raise BatchInterrupted(
                    _stopped_message(batch, f"timed out after {options.timeout:g} s"),
                    partial_frame(batch, plan, namespace, options),
                )
            if options.cancel is not None and options.cancel.is_set():
                _stop(con, batch, finished, "cancelled")
                raise BatchInterrupted(
                    _stopped_message(batch, "cancelled"), partial_frame(batch, plan, namespace, options)
                )
    except KeyboardInterrupt:
        _stop(con, batch, finished, "interrupted by the user")
        raise BatchInterrupted(
            _stopped_message(batch, "interrupted"), partial_frame(batch, plan, namespace, options)
        ) from None
    if tick is not None:
        tick(batch)
    if "error" in outcome:
        if batch.failure and fetch is _fetch_frame:  # a row failed the statement: keep what finished
            raise BatchFailed(batch.failure, partial_frame(batch, plan, namespace, options)) from None
        raise _explain(outcome["error"], batch, plan, missing) from None
    return outcome["result"]


def _stop(con: Any, batch: Batch, finished: threading.Event, reason: str) -> None:
    batch.cancel(reason)
    batch.close()
    with contextlib.suppress(Exception):  # the statement may have just ended and closed the connection
        con.interrupt()
    finished.wait(2.0)


def _stopped_message(batch: Batch, what: str) -> str:
    snap = batch.snapshot()
    return (
        f"{what}: {snap.done - snap.failed} of {snap.submitted} ai_query requests answered, "
        f"{snap.failed} failed, {snap.submitted - snap.done} cancelled; the query's rows are returned, "
        f"the ai_query values of unanswered rows NULL (errorMessage {NOT_ANSWERED!r} under failOnError => false)."
    )


NOT_ANSWERED = "not answered (stopped)"


class _Replay:
    """Answers a re-run of the statement from what the stopped run finished; nothing goes on the wire.

    Rows are matched by (call site, request JSON), each finished answer used once: of n rows with the
    same request, as many are answered as had their answer back (identical requests are interchangeable).
    A request without an answer becomes NULL (failOnError => true) or a struct whose errorMessage
    says so.
    """

    def __init__(self, batch: Batch) -> None:
        self.answers: dict[tuple[int, str], deque[Answer]] = defaultdict(deque)
        for record in sorted(list(batch.records), key=lambda r: (r.call, r.row)):
            if record.answer.error != "cancelled":
                self.answers[(record.call, record.request)].append(record.answer)
        self.unanswered = 0

    def _take(self, call: AiCall, request: str) -> Answer | None:
        found = self.answers.get((call.index, request))
        return found.popleft() if found else None

    def run_rows(self, call: AiCall, requests: list[str | None]) -> list[Answer | None]:
        out: list[Answer | None] = []
        for request in requests:
            answer = self._take(call, request) if request is not None else None
            if request is not None and answer is None:
                self.unanswered += 1
                answer = Answer(error=None if call.fail_on_error else NOT_ANSWERED)
            elif answer is not None and call.fail_on_error and answer.error is not None:
                answer = Answer(error=None)  # the row that failed the statement: NULL, the message says why
            out.append(answer)
        return out


def partial_frame(batch: Batch, plan: Transpiled, namespace: Mapping[str, Any], options: LocalOptions) -> Any:
    """The statement's own columns and rows, answered from what finished before the stop.

    The statement runs again on a fresh connection with every ai_query answered from the finished
    requests (no request is sent twice). Should that re-run fail, the finished requests are returned
    as rows of their own (endpoint, row, request, result, errorMessage), so nothing is lost.
    """
    import duckdb

    replay = _Replay(batch)
    con = duckdb.connect()
    try:
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_progress_bar = false")
        register_tables(con, plan, namespace)
        traces = TraceStore() if options.return_trace else None
        for call in plan.calls:
            register(con, call, replay, traces)
        con.execute("SET enable_external_access = false")
        frame = con.execute(plan.sql, _bound(plan, options.parameters)).fetch_df()
    except Exception:
        return _records_frame(batch, plan)
    finally:
        con.close()
    for column in plan.trace_columns:
        frame[column] = [json.loads(v) if isinstance(v, str) else None for v in frame[column]]
    frame.attrs["agent_sql_unanswered"] = replay.unanswered
    return frame


def _records_frame(batch: Batch, plan: Transpiled) -> Any:
    """The requests that finished, in row order: call site, row, request, result, error."""
    import pandas as pd

    records = sorted(list(batch.records), key=lambda r: (r.call, r.row))
    endpoints = {call.index: call.endpoint for call in plan.calls}
    return pd.DataFrame(
        {
            "endpoint": [endpoints.get(r.call) for r in records],
            "row": [r.row for r in records],
            "request": [_request_value(r.request) for r in records],
            "result": [r.answer.value if r.answer.error is None else None for r in records],
            "errorMessage": [r.answer.error for r in records],
        }
    )


def _request_value(request_json: str) -> Any:
    try:
        return json.loads(request_json)
    except ValueError:
        return request_json


def _explain(exc: BaseException, batch: Batch, plan: Transpiled, missing: list[str]) -> BaseException:
    """A DuckDB failure as one line that says what to do."""
    import duckdb

    if batch.failure:
        return AgentError(batch.failure)
    if isinstance(exc, BatchCancelled):
        return AgentError(str(exc))
    if not isinstance(exc, duckdb.Error):
        return exc
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, duckdb.CatalogException) and missing:
        return AgentError(
            f"no DataFrame named {', '.join(missing)} in the notebook: the local engine reads pandas/polars/Arrow "
            "DataFrames by variable name; for Unity Catalog tables use --engine warehouse or --engine spark."
        )
    for call in plan.calls:  # our function names mean nothing to the user
        message = message.replace(call.function, "ai_query").replace(call.function.upper(), "ai_query")
    return AgentError(f"SQL error (local DuckDB engine): {message}")
