"""The local SQL warehouse: Databricks' Statement Execution API over the local DuckDB engine.

``POST /api/2.0/sql/statements`` runs the SQL with ``%agent_sql``'s local engine on a worker thread;
its ``ai_query`` calls go back to this same workspace's serving endpoints over loopback HTTP, with the
caller's own bearer token (as a warehouse runs a statement as its caller). The handlers only await,
so the event loop that serves those endpoints is never blocked by a statement: no deadlock.

Results: ``INLINE`` + ``JSON_ARRAY`` (every cell a string, nested values as JSON text), a manifest with
Databricks column types, and chunks of ``chunk_rows`` rows (``GET .../result/chunks/{n}``). A statement
not finished within ``wait_timeout`` answers PENDING/RUNNING and is polled with ``GET .../{id}``;
``on_wait_timeout=CANCEL`` cancels it instead. ``POST .../cancel`` stops a running statement.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_magics.local.api_errors import api_error, bad_request
from agent_magics.local.sql_errors import ServingFailures, ai_query_error
from agent_magics.local.warehouse_tables import (
    WarehouseTables,
    arrow_result,
    parse_create,
    parse_describe,
    table_key,
)
from agent_magics.transport.embedded_config import LOCAL_WAREHOUSE_ID

LOCAL_WAREHOUSE_NAME = "Local DuckDB warehouse"
DEFAULT_CHUNK_ROWS = 1000
RESULT_TTL = 3600.0  # seconds a finished statement's result is kept, as Databricks does
CANCEL_WAIT = 30.0  # seconds an on_wait_timeout=CANCEL request waits for the statement to stop
_WAIT = re.compile(r"(\d+)s\Z")


@dataclass
class Statement:
    id: str
    sql: str
    state: str = "PENDING"
    created: float = field(default_factory=time.monotonic)
    finished: float | None = None
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    error: dict[str, str] | None = None
    row_limit: int | None = None
    truncated: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class _BearerConfig:
    """The caller's token, in the shape ``Workspace.auth_headers`` reads from an SDK Config."""

    def __init__(self, token: str) -> None:
        self._token = token

    def authenticate(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def __repr__(self) -> str:  # never show the token
        return "_BearerConfig(***)"


class StatementService:
    """Statements by id, each run on its own thread by the local DuckDB engine."""

    def __init__(
        self,
        *,
        warehouse_ids: tuple[str, ...] = (LOCAL_WAREHOUSE_ID,),
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        concurrency: int = 16,
        retries: int = 3,
        serving: tuple[str, str] | None = None,
    ) -> None:
        """``serving`` = (host, token) sends ai_query elsewhere (tests); by default it goes to the
        workspace that received the statement, with the caller's token."""
        self.warehouse_ids = warehouse_ids
        self.serving = serving
        self.chunk_rows = max(1, chunk_rows)
        self.concurrency = concurrency
        self.retries = retries
        self._statements: dict[str, Statement] = {}
        self.tables = WarehouseTables()  # what CREATE TABLE ... AS wrote (warehouse_tables.py)
        self._lock = threading.Lock()
        self._states = threading.Lock()  # a statement's state moves under it: cancel races its start

    # -- the statement lifecycle ---------------------------------------------------------------

    def start(
        self, sql: str, parameters: dict[str, Any], host: str, token: str, row_limit: int | None = None
    ) -> Statement:
        self._expire()
        statement = Statement(id=str(uuid.uuid4()), sql=sql, row_limit=row_limit)
        with self._lock:
            self._statements[statement.id] = statement
        threading.Thread(
            target=self._run,
            args=(statement, parameters, host, token),
            name=f"statement-{statement.id[:8]}",
            daemon=True,
        ).start()
        return statement

    def get(self, statement_id: str) -> Statement | None:
        with self._lock:
            return self._statements.get(statement_id)

    def cancel(self, statement: Statement) -> None:
        with self._states:
            statement.cancel.set()
            if statement.state == "PENDING":  # not started yet: it never will
                self._finish_locked(statement, "CANCELED")

    def _run(self, statement: Statement, parameters: dict[str, Any], host: str, token: str) -> None:
        from agent_magics.core.errors import AgentError, AgentUsageError
        from agent_magics.core.request import Timeouts
        from agent_magics.sql.invocations import WorkspaceInvoker
        from agent_magics.sql.jsonarray import databricks_type, encode_cell
        from agent_magics.sql.local_engine import LocalOptions
        from agent_magics.transport.workspace import Workspace

        with self._states:
            if statement.cancel.is_set():
                self._finish_locked(statement, "CANCELED")
                return
            statement.state = "RUNNING"
        try:
            host, token = self.serving or (host, token)
            workspace = Workspace(host=host, config=_BearerConfig(token), label="local warehouse", is_local=True)
            failures = ServingFailures()  # the endpoints' own error answers, quoted as a warehouse does
            failures.watch(workspace.http())
        except Exception as exc:  # never a statement left RUNNING by a dead thread
            statement.error = {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
            self._finish(statement, "FAILED")
            return

        def fetch(cursor: Any) -> tuple[list[dict[str, Any]], list[list[str | None]]]:
            columns = []
            for position, (name, duck_type, *_rest) in enumerate(cursor.description):
                type_name, type_text = databricks_type(str(duck_type))
                columns.append({"name": name, "type_name": type_name, "type_text": type_text, "position": position})
            rows = [[encode_cell(value) for value in row] for row in cursor.fetchall()]
            return columns, rows

        try:
            invoker = WorkspaceInvoker(workspace, retries=self.retries, timeouts=Timeouts(read=300.0))
            options = LocalOptions(concurrency=self.concurrency, parameters=parameters or None, cancel=statement.cancel)
            statement.columns, statement.rows = self._execute(statement.sql, invoker, options, fetch)
            if statement.row_limit is not None and len(statement.rows) > statement.row_limit:
                statement.rows, statement.truncated = statement.rows[: statement.row_limit], True
            self._finish(statement, "SUCCEEDED")
        except (AgentError, AgentUsageError) as exc:  # bad SQL, unknown endpoint, a failed row...
            if statement.cancel.is_set():
                self._finish(statement, "CANCELED")
            else:
                failure = failures.last
                if failure is not None:  # a model call failed: the warehouse's error class, no client hints
                    statement.error = ai_query_error(failure, self.retries)
                else:
                    statement.error = {"error_code": "BAD_REQUEST", "message": str(exc)}
                self._finish(statement, "FAILED")
        except Exception as exc:  # a bug of ours: still a FAILED statement, never a dead thread
            statement.error = {"error_code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
            self._finish(statement, "FAILED")
        finally:
            workspace.close()

    def _execute(
        self, sql: str, invoker: Any, options: Any, fetch: Any
    ) -> tuple[list[dict[str, Any]], list[list[str | None]]]:
        """A CTAS stores its table, DESCRIBE reads a stored table's columns, other SQL runs as written."""
        from agent_magics.core.errors import AgentUsageError
        from agent_magics.sql.jsonarray import databricks_type
        from agent_magics.sql.local_engine import run_local

        def columns(*named: tuple[str, str]) -> list[dict[str, Any]]:
            types = [databricks_type(duck) for _, duck in named]
            return [
                {"name": name, "type_name": kind, "type_text": text, "position": position}
                for position, ((name, _), (kind, text)) in enumerate(zip(named, types, strict=True))
            ]

        created = parse_create(sql)
        if created is not None:
            name, query, or_replace = created
            if self.tables.exists(name) and not or_replace:
                raise AgentUsageError(
                    f"[TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create table or view {name} because it already exists."
                )
            table = run_local(
                self.tables.resolve(query),
                self.tables.namespace(),
                invoker,
                options,
                fetch=arrow_result,
            )
            self.tables.put(name, table)
            count = str(table.num_rows)
            return columns(("num_affected_rows", "BIGINT"), ("num_inserted_rows", "BIGINT")), [[count, count]]
        described = parse_describe(sql)
        if described is not None:
            if not self.tables.exists(described):
                raise AgentUsageError(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view {described} cannot be found.")
            bare = "`" + table_key(described).replace("`", "``") + "`"
            found, _ = run_local(
                f"SELECT * FROM {bare} LIMIT 0", self.tables.namespace(), invoker, options, fetch=fetch
            )
            rows: list[list[str | None]] = [[column["name"], column["type_text"], None] for column in found]
            return columns(("col_name", "VARCHAR"), ("data_type", "VARCHAR"), ("comment", "VARCHAR")), rows
        result: tuple[list[dict[str, Any]], list[list[str | None]]] = run_local(
            self.tables.resolve(sql), self.tables.namespace(), invoker, options, fetch=fetch
        )
        return result

    def _finish(self, statement: Statement, state: str) -> None:
        with self._states:
            self._finish_locked(statement, state)

    def _finish_locked(self, statement: Statement, state: str) -> None:
        if statement.done.is_set():
            return
        statement.state = state
        statement.finished = time.monotonic()
        statement.done.set()

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for key, statement in list(self._statements.items()):
                if statement.finished is not None and now - statement.finished > RESULT_TTL:
                    del self._statements[key]

    # -- the wire shape ------------------------------------------------------------------------

    def response(self, statement: Statement) -> dict[str, Any]:
        body: dict[str, Any] = {"statement_id": statement.id, "status": {"state": statement.state}}
        if statement.error is not None:
            body["status"]["error"] = statement.error
        if statement.state == "SUCCEEDED":
            body["manifest"] = self.manifest(statement)
            body["result"] = self.chunk(statement, 0)
        return body

    def manifest(self, statement: Statement) -> dict[str, Any]:
        total = len(statement.rows)
        count = max(1, -(-total // self.chunk_rows))
        chunks = [
            {
                "chunk_index": i,
                "row_offset": i * self.chunk_rows,
                "row_count": min(self.chunk_rows, total - i * self.chunk_rows),
            }
            for i in range(count)
        ]
        return {
            "format": "JSON_ARRAY",
            "schema": {"column_count": len(statement.columns), "columns": statement.columns},
            "total_chunk_count": count,
            "chunks": chunks,
            "total_row_count": total,
            "truncated": statement.truncated,
        }

    def chunk(self, statement: Statement, index: int) -> dict[str, Any]:
        offset = index * self.chunk_rows
        rows = statement.rows[offset : offset + self.chunk_rows]
        body: dict[str, Any] = {"chunk_index": index, "row_offset": offset, "row_count": len(rows)}
        if rows:
            body["data_array"] = rows
        if offset + self.chunk_rows < len(statement.rows):
            body["next_chunk_index"] = index + 1
            body["next_chunk_internal_link"] = f"/api/2.0/sql/statements/{statement.id}/result/chunks/{index + 1}"
        return body


def _wait_seconds(value: Any) -> float | None:
    match = _WAIT.match(str(value if value is not None else "10s"))
    if not match:
        return None
    seconds = int(match.group(1))
    return float(seconds) if seconds == 0 or 5 <= seconds <= 50 else None


def _parameter_value(item: dict[str, Any]) -> Any:
    value, kind = item.get("value"), str(item.get("type") or "STRING").upper()
    if value is None:
        return None
    if kind in ("INT", "INTEGER", "BIGINT", "LONG", "SHORT", "SMALLINT", "TINYINT", "BYTE"):
        return int(value)
    if kind in ("DOUBLE", "FLOAT", "DECIMAL"):
        return float(value)
    if kind == "BOOLEAN":
        return str(value).lower() == "true"
    return str(value)


def _own_host(request: Request) -> str:
    """This server's own address (the socket it listens on), never the client-chosen Host header."""
    server = request.scope.get("server")
    if server:
        return f"{request.url.scheme}://{server[0]}:{server[1]}"
    return str(request.base_url).rstrip("/")


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def statement_routes(service: StatementService | None = None, **settings: Any) -> list[Route]:
    """The Statement Execution routes (plus ``GET /api/2.0/sql/warehouses[/{id}]``) for a workspace app.

    Mount them behind the workspace's auth gate: ai_query calls reuse the caller's bearer token.
    ``settings`` (``chunk_rows``, ``concurrency``, ``retries``, ``warehouse_ids``) build the service
    when none is given.
    """
    service = service or StatementService(**settings)

    async def execute(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return bad_request("The request body is not valid JSON.")
        if not isinstance(body, dict) or not isinstance(body.get("statement"), str):
            return api_error(400, "INVALID_PARAMETER_VALUE", "statement is required.")
        warehouse_id = body.get("warehouse_id")
        if not warehouse_id:
            return api_error(400, "INVALID_PARAMETER_VALUE", "warehouse_id is required.")
        if warehouse_id not in service.warehouse_ids:
            return api_error(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"SQL warehouse {warehouse_id} does not exist. The local workspace has "
                f"{', '.join(service.warehouse_ids)}.",
            )
        wait = _wait_seconds(body.get("wait_timeout"))
        if wait is None:
            return api_error(
                400, "INVALID_PARAMETER_VALUE", "wait_timeout must be 0s or between 5s and 50s (e.g. '10s')."
            )
        disposition, fmt = body.get("disposition") or "INLINE", body.get("format") or "JSON_ARRAY"
        if disposition != "INLINE" or fmt != "JSON_ARRAY":
            return api_error(
                400,
                "INVALID_PARAMETER_VALUE",
                f"The local warehouse returns INLINE JSON_ARRAY results only, not {disposition} {fmt}.",
            )
        try:
            parameters = {p["name"]: _parameter_value(p) for p in body.get("parameters") or []}
        except (KeyError, TypeError, ValueError) as exc:
            return api_error(400, "INVALID_PARAMETER_VALUE", f"Bad statement parameter: {exc}.")
        row_limit = body.get("row_limit")
        if row_limit is not None and (not isinstance(row_limit, int) or row_limit < 0):
            return api_error(400, "INVALID_PARAMETER_VALUE", "row_limit must be a non-negative integer.")
        statement = service.start(body["statement"], parameters, _own_host(request), _bearer(request), row_limit)
        deadline = time.monotonic() + wait
        while not statement.done.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if not statement.done.is_set() and wait > 0 and body.get("on_wait_timeout") == "CANCEL":
            service.cancel(statement)
            give_up = time.monotonic() + CANCEL_WAIT
            while not statement.done.is_set() and time.monotonic() < give_up:
                await asyncio.sleep(0.01)
        return JSONResponse(service.response(statement))

    def find(request: Request) -> Statement | Response:
        statement = service.get(request.path_params["statement_id"])
        if statement is None:
            return api_error(
                404,
                "RESOURCE_DOES_NOT_EXIST",
                f"Statement {request.path_params['statement_id']} does not exist or its result expired.",
            )
        return statement

    async def get_statement(request: Request) -> Response:
        found = find(request)
        return found if isinstance(found, Response) else JSONResponse(service.response(found))

    async def get_chunk(request: Request) -> Response:
        found = find(request)
        if isinstance(found, Response):
            return found
        if found.state != "SUCCEEDED":
            message = f"Statement {found.id} is {found.state}: it has no result."
            return api_error(400, "INVALID_PARAMETER_VALUE", message)
        index = request.path_params["chunk_index"]
        if index >= service.manifest(found)["total_chunk_count"]:
            return api_error(400, "INVALID_PARAMETER_VALUE", f"Chunk index {index} is out of range.")
        return JSONResponse(service.chunk(found, index))

    async def cancel(request: Request) -> Response:
        found = find(request)
        if isinstance(found, Response):
            return found
        service.cancel(found)
        return JSONResponse({})

    async def list_warehouses(request: Request) -> Response:
        return JSONResponse({"warehouses": [_warehouse(w) for w in service.warehouse_ids]})

    async def get_warehouse(request: Request) -> Response:
        warehouse_id = request.path_params["warehouse_id"]
        if warehouse_id not in service.warehouse_ids:
            return api_error(404, "RESOURCE_DOES_NOT_EXIST", f"SQL warehouse {warehouse_id} does not exist.")
        return JSONResponse(_warehouse(warehouse_id))

    return [
        Route("/api/2.0/sql/statements", execute, methods=["POST"]),
        Route("/api/2.0/sql/statements/{statement_id}", get_statement, methods=["GET"]),
        Route("/api/2.0/sql/statements/{statement_id}/result/chunks/{chunk_index:int}", get_chunk, methods=["GET"]),
        Route("/api/2.0/sql/statements/{statement_id}/cancel", cancel, methods=["POST"]),
        Route("/api/2.0/sql/warehouses", list_warehouses, methods=["GET"]),
        Route("/api/2.0/sql/warehouses/{warehouse_id}", get_warehouse, methods=["GET"]),
    ]


def _warehouse(warehouse_id: str) -> dict[str, Any]:
    return {
        "id": warehouse_id,
        "name": LOCAL_WAREHOUSE_NAME if warehouse_id == LOCAL_WAREHOUSE_ID else warehouse_id,
        "state": "RUNNING",
        "warehouse_type": "PRO",
        "enable_serverless_compute": True,
        "cluster_size": "2X-Small",
        "odbc_params": {"path": f"/sql/1.0/warehouses/{warehouse_id}", "protocol": "https", "port": 443},
    }
