"""The warehouse engine: the SQL as written, on a Databricks SQL warehouse, via Statement Execution.

``execute_statement`` is asked with a ``0s`` wait so the statement id comes back at once: the engine
then polls ``get_statement`` (a short, growing interval), so a Ctrl-C / Kernel > Interrupt at any
moment can ``cancel_execution`` the statement instead of leaving it running on the warehouse. Every
result chunk is read (``next_chunk_index``), and cells are typed by the manifest's column types.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from agent_magics.core.errors import AgentError, AgentUsageError

WAREHOUSE_ENV = "DATABRICKS_WAREHOUSE_ID"
_RUNNING = ("PENDING", "RUNNING")
_POLL_START, _POLL_MAX = 0.05, 1.0


def configured_warehouse(explicit: str | None, config: Any = None) -> str | None:
    """``--warehouse``, else ``$DATABRICKS_WAREHOUSE_ID``, else the SDK config's ``warehouse_id``."""
    if explicit:
        return explicit
    if os.environ.get(WAREHOUSE_ENV):
        return os.environ[WAREHOUSE_ENV]
    return getattr(config, "warehouse_id", None) or None


def statement_parameters(values: dict[str, Any] | None) -> list[Any] | None:
    """Named parameters for Statement Execution: each value as text with its SQL type (NULL as no value)."""
    if not values:
        return None
    from databricks.sdk.service.sql import StatementParameterListItem

    items = []
    for name, value in values.items():
        if value is None:
            items.append(StatementParameterListItem(name=name, type="STRING"))
        elif isinstance(value, bool):
            items.append(StatementParameterListItem(name=name, value=str(value).lower(), type="BOOLEAN"))
        elif isinstance(value, int):
            items.append(StatementParameterListItem(name=name, value=str(value), type="BIGINT"))
        elif isinstance(value, float):
            items.append(StatementParameterListItem(name=name, value=repr(value), type="DOUBLE"))
        else:
            items.append(StatementParameterListItem(name=name, value=str(value), type="STRING"))
    return items


def run_warehouse(
    sql: str,
    client: Any,
    warehouse_id: str,
    *,
    timeout: float | None = None,
    note: Callable[[str], None] | None = None,
    parameters: list[Any] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Run ``sql`` on ``warehouse_id`` with ``client`` (a WorkspaceClient); a pandas DataFrame."""
    from databricks.sdk.errors import DatabricksError
    from databricks.sdk.service.sql import Disposition, ExecuteStatementRequestOnWaitTimeout, Format

    api = client.statement_execution
    label = f"warehouse {warehouse_id}"
    submitted = _Submission(
        lambda: api.execute_statement(
            statement=sql,
            warehouse_id=warehouse_id,
            wait_timeout="0s",
            on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
            disposition=Disposition.INLINE,
            format=Format.JSON_ARRAY,
            parameters=parameters,
        )
    )
    try:
        response = submitted.result()
    except KeyboardInterrupt:  # the warehouse may have the statement: its id, then cancel it
        statement_id = submitted.statement_id(SUBMIT_GRACE)
        if statement_id is None:
            raise AgentError(f"{label}: interrupted while the statement was sent.") from None
        _cancel(api, statement_id)
        raise AgentError(f"{label}: interrupted; statement {statement_id} cancelled.") from None
    except DatabricksError as exc:
        raise AgentError(f"{label}: {_sdk_message(exc)}") from None
    statement_id = response.statement_id
    started = time.monotonic()
    try:
        response = _wait(api, response, started, timeout, note, label, sleep)
    except KeyboardInterrupt:
        _cancel(api, statement_id)
        raise AgentError(f"{label}: interrupted; statement {statement_id} cancelled.") from None
    except DatabricksError as exc:
        raise AgentError(f"{label}: {_sdk_message(exc)}") from None
    except AgentError:
        raise
    except Exception as exc:  # the poll itself failed (the connection): the statement must not run on
        _cancel(api, statement_id)
        raise AgentError(f"{label}: {type(exc).__name__}: {exc}; statement {statement_id} cancelled.") from None
    return _frame(api, response, label)


SUBMIT_GRACE = 10.0  # seconds a Ctrl-C waits for the statement id, to cancel it


class _Submission:
    """``execute_statement`` in a thread of its own: a Ctrl-C during it reaches the caller at once,
    and the id it then returns still lets the caller cancel the statement."""

    def __init__(self, submit: Callable[[], Any]) -> None:
        self._outcome: dict[str, Any] = {}
        self._done = threading.Event()

        def work() -> None:
            try:
                self._outcome["response"] = submit()
            except BaseException as exc:
                self._outcome["error"] = exc
            finally:
                self._done.set()

        threading.Thread(target=work, name="agent_sql_submit", daemon=True).start()

    def result(self) -> Any:
        while not self._done.wait(0.1):  # short waits: Ctrl-C reaches the main thread
            pass
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["response"]

    def statement_id(self, grace: float) -> str | None:
        self._done.wait(grace)
        response = self._outcome.get("response")
        return getattr(response, "statement_id", None)


def _wait(
    api: Any,
    response: Any,
    started: float,
    timeout: float | None,
    note: Callable[[str], None] | None,
    label: str,
    sleep: Callable[[float], None],
) -> Any:
    interval = _POLL_START
    while _state(response) in _RUNNING:
        elapsed = time.monotonic() - started
        if timeout is not None and elapsed > timeout:
            _cancel(api, response.statement_id)
            raise AgentError(
                f"{label}: no result within --timeout {timeout:g} s; statement "
                f"{response.statement_id} cancelled. Raise --timeout for long batches."
            )
        if note is not None:
            note(f"{label}: statement {_state(response).lower()} · {elapsed:.1f} s")
        sleep(interval)
        interval = min(_POLL_MAX, interval * 2)
        response = api.get_statement(response.statement_id)
    state = _state(response)
    if state != "SUCCEEDED":
        error = response.status.error if response.status else None
        code = getattr(error.error_code, "value", error.error_code) if error else None
        detail = f"{code}: {error.message}" if error and code else (error.message if error else "no detail")
        raise AgentError(f"{label}: statement {state.lower()} ({detail}).")
    return response


def _state(response: Any) -> str:
    state = response.status.state if response.status else None
    return state.value if state is not None else "PENDING"


def _cancel(api: Any, statement_id: str) -> None:
    try:
        api.cancel_execution(statement_id)
    except Exception:  # best effort, as the API itself says
        pass


def _frame(api: Any, response: Any, label: str) -> Any:
    import pandas as pd

    from agent_magics.sql.jsonarray import decode_column

    manifest = response.manifest
    if manifest is None or manifest.schema is None:
        return pd.DataFrame()
    columns = manifest.schema.columns or []
    rows: list[list[str | None]] = []
    chunk = response.result
    while chunk is not None:
        if chunk.external_links:
            raise AgentUsageError(
                f"{label}: the result came as EXTERNAL_LINKS, which this engine does not read; "
                "add a LIMIT or aggregate the result."
            )
        rows.extend(chunk.data_array or [])
        if chunk.next_chunk_index is None:
            break
        chunk = api.get_statement_result_chunk_n(response.statement_id, chunk.next_chunk_index)
    arrays = []
    for position, column in enumerate(columns):
        type_name = column.type_name.value if column.type_name is not None else "STRING"
        arrays.append(decode_column([row[position] for row in rows], type_name))
    frame = pd.DataFrame(dict(enumerate(arrays)))  # by position: duplicate names are kept, as in Spark
    frame.columns = [column.name for column in columns]
    return frame


def _sdk_message(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
