"""The DuckDB side of ai_query: one vectorised (Arrow) Python UDF per call site, plus its trace lookup.

``__ai_query_<i>(VARCHAR request_json)`` returns the call's type: the returnType (STRING when none), or
``STRUCT(result T, errorMessage VARCHAR, response T)`` under ``failOnError => false`` (``result`` is the
name Databricks' working code reads, ``response`` the one some of its docs use: both are filled).

The UDFs are registered with ``side_effects=True`` so that DuckDB calls them for every row (no constant
folding, no de-duplication): like Databricks, every row is one request.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from agent_magics.sql.semantics import Answer
from agent_magics.sql.transpile import AiCall


class RowRunner(Protocol):
    """What answers a vector of one call site's requests: the statement's Batch, or a replay of one."""

    def run_rows(self, call: AiCall, requests: list[str | None]) -> list[Answer | None]: ...


def duckdb_type(call: AiCall) -> str:
    value = call.return_type.duckdb if call.return_type is not None else "VARCHAR"
    if call.fail_on_error:
        return value
    return f'STRUCT("result" {value}, "errorMessage" VARCHAR, "response" {value})'


class TraceStore:
    """Traces recorded by a call's UDF, looked up by the trace UDF that DuckDB runs right after it.

    Keyed by (DuckDB thread, call site, request): the two UDFs of one vector run on the same thread, in
    column order, so a FIFO per key pairs each row with its own trace even for repeated requests.
    """

    def __init__(self) -> None:
        self._traces: dict[tuple[int, int, str], deque[dict[str, Any] | None]] = defaultdict(deque)
        self._lock = threading.Lock()

    def put(self, call: int, request: str, trace: dict[str, Any] | None) -> None:
        with self._lock:
            self._traces[(threading.get_ident(), call, request)].append(trace)

    def pop(self, call: int, request: str) -> dict[str, Any] | None:
        with self._lock:
            queue = self._traces.get((threading.get_ident(), call, request))
            return queue.popleft() if queue else None


def register(con: duckdb.DuckDBPyConnection, call: AiCall, batch: RowRunner, traces: TraceStore | None) -> None:
    """Register the call site's UDF (and its trace lookup when ``traces`` is given) on ``con``."""
    sql_type = duckdb_type(call)
    arrow_type = con.sql(f"SELECT NULL::{sql_type} AS x").to_arrow_table().schema.field(0).type

    def ai_query(requests: pa.Array) -> pa.Array:
        values = requests.to_pylist()
        answers = batch.run_rows(call, values)
        out: list[Any] = []
        for request, answer in zip(values, answers):
            if answer is None:
                out.append(None)
                continue
            if traces is not None:
                traces.put(call.index, request, answer.trace)
            if call.fail_on_error:
                out.append(answer.value)
            else:
                value = answer.value if answer.error is None else None
                out.append({"result": value, "errorMessage": answer.error, "response": value})
        return pa.array(out, type=arrow_type)

    varchar = duckdb.sqltype("VARCHAR")
    con.create_function(  # type: ignore[call-overload]  # duckdb's stubs lack type="arrow" with these
        call.function,
        ai_query,
        [varchar],
        duckdb.sqltype(sql_type),
        type="arrow",
        side_effects=True,
        null_handling="special",
    )
    if traces is None:
        return

    def trace_of(requests: pa.Array) -> pa.Array:
        import json

        found = [traces.pop(call.index, r) if r is not None else None for r in requests.to_pylist()]
        return pa.array([json.dumps(t) if t is not None else None for t in found], type=pa.string())

    con.create_function(  # type: ignore[call-overload]
        call.trace_function, trace_of, [varchar], varchar, type="arrow", side_effects=True, null_handling="special"
    )
