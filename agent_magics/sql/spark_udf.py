"""``ai_query`` for any Spark session: a pandas UDF whose tasks send their rows through the batch engine.

Databricks has ``ai_query`` built in; open-source Spark (classic or Spark Connect) does not. This
module registers one::

    from agent_magics.sql import register_ai_query
    register_ai_query(spark)                   # the workspace agent_magics would use, or:
    register_ai_query(spark, host="https://...", token=os.environ["DATABRICKS_TOKEN"], concurrency=16)
    spark.sql("SELECT ai_query('my-agent', question) AS answer FROM questions")

It runs on the executors: every Arrow batch of a task goes through :class:`~.batch.Batch` (at most
``concurrency`` requests in flight per task, the engine's retries of 429/503/connection errors), and
each Python worker process keeps one authenticated HTTP client per workspace, reused by every task it
runs. ``returnType``, ``failOnError``, ``modelParameters`` and ``responseFormat`` may be named
(``failOnError => false``: Spark 4 passes named SQL arguments as keyword arguments) or positional.

A Spark UDF has one return type, so this one returns a STRING: the answer text; under a non-STRING
``returnType`` the value as JSON (a scalar as its text, for ``CAST``); under ``failOnError => false``
the JSON of ``{result, errorMessage, response}``. ``%agent_sql --engine spark`` wraps each call in
``from_json``/``CAST`` (see :mod:`.spark_sql`), so its SQL gets Databricks' types; in your own
``spark.sql`` wrap it yourself, e.g. ``from_json(ai_query(...), 'STRUCT<result: STRING, errorMessage:
STRING, response: STRING>')``.

Credentials travel inside the registered function (so the executors can authenticate) as the public
attributes of a databricks-sdk ``Config`` (``Config.as_dict()``: host, token or OAuth client id and
secret, ...), rebuilt on each worker as a ``Config``; they are never printed. Executors must reach the
workspace host and have this package installed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import weakref
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.sql.execute import DEFAULT_CONCURRENCY, MAX_CONCURRENCY

if TYPE_CHECKING:
    import pandas as pd

    from agent_magics.sql.rows import RowAsker
    from agent_magics.sql.semantics import Answer
    from agent_magics.sql.transpile import AiCall


@dataclass(frozen=True)
class WorkerSettings:
    """What every executor task needs to ask the endpoints: the workspace's Config, and the limits."""

    config: dict[str, Any] = field(repr=False)  # databricks-sdk Config attributes (as_dict()); secrets inside
    concurrency: int = DEFAULT_CONCURRENCY
    retries: int = 3
    read_timeout: float = 300.0

    @property
    def host(self) -> str:
        return str(self.config.get("host", "")).rstrip("/")

    def key(self) -> str:
        """Identifies one registration's client in a worker process (a digest: no secret kept in clear)."""
        text = json.dumps([self.config, self.retries, self.read_timeout], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def __repr__(self) -> str:
        return f"WorkerSettings(host={self.host!r}, concurrency={self.concurrency}, retries={self.retries})"


def register_ai_query(
    spark: Any,
    *,
    name: str = "ai_query",
    config: Any = None,
    profile: str | None = None,
    host: str | None = None,
    token: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    retries: int = 3,
    read_timeout: float = 300.0,
) -> Any:
    """Register ``ai_query`` (or ``name``) on ``spark`` as a pandas UDF; returns the UDF.

    The workspace is, in order: ``host`` + ``token``; a databricks-sdk ``config``; the ``profile``;
    else the one ``%agent_sql`` would use (the configured workspace, or the local demo workspace).
    ``concurrency`` bounds the requests in flight per Spark task (so per cluster: tasks x concurrency).
    """
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise AgentUsageError(f"concurrency must be between 1 and {MAX_CONCURRENCY}.")
    if retries < 0:
        raise AgentUsageError("retries must be 0 or more.")
    settings = WorkerSettings(_config_attributes(config, profile, host, token), concurrency, retries, read_timeout)
    udf = make_udf(settings)
    spark.udf.register(name, udf)
    if name.lower() == "ai_query":
        _remember(spark)
    return udf


_ours: weakref.WeakSet[Any] = weakref.WeakSet()  # sessions whose ai_query is ours (not Databricks')
_ours_by_id: set[int] = set()  # for session classes that refuse weak references


def _remember(spark: Any) -> None:
    try:
        _ours.add(spark)
    except TypeError:
        _ours_by_id.add(id(spark))


def registered_here(spark: Any) -> bool:
    """Did this process register ``ai_query`` on ``spark``? (Then an existing one is not Databricks'.)"""
    try:
        return spark in _ours
    except TypeError:
        return id(spark) in _ours_by_id


def _config_attributes(config: Any, profile: str | None, host: str | None, token: str | None) -> dict[str, Any]:
    if host is not None or token is not None:
        if not (host and token):
            raise AgentUsageError("register_ai_query: pass both host= and token= (or config=, or profile=).")
        from agent_magics.core import secrets

        token = secrets.clean_credential(token, "register_ai_query(token=...)")
        secrets.register(token)
        return {"host": host.rstrip("/"), "token": token, "auth_type": "pat"}
    if config is None:
        from agent_magics.transport.workspace import get_workspace

        config = get_workspace(profile).config
    as_dict = getattr(config, "as_dict", None)
    if not callable(as_dict):
        raise AgentUsageError("register_ai_query: config= must be a databricks.sdk.config.Config.")
    attributes = dict(as_dict())
    if not attributes.get("host"):
        raise AgentUsageError("register_ai_query: the workspace config has no host.")
    return attributes


def make_udf(settings: WorkerSettings) -> Any:
    """The pandas UDF (not registered). Its body imports this module on the worker."""
    from typing import Union

    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    # Databricks' argument names: Spark passes named SQL arguments by these names.
    def ai_query(endpoint, request, returnType=None, failOnError=None, modelParameters=None, responseFormat=None):
        from agent_magics.sql.spark_udf import answer_batch

        return answer_batch(settings, endpoint, request, returnType, failOnError, modelParameters, responseFormat)

    # Real types, not strings: pyspark infers the UDF kind from these hints with get_type_hints(), and
    # reads unions through typing.Union's __origin__ (a PEP 604 union has none).
    frame_or_series = Union[pd.Series, pd.DataFrame]  # noqa: UP007
    ai_query.__annotations__ = {
        "endpoint": pd.Series,
        "request": frame_or_series,
        "returnType": pd.Series,
        "failOnError": pd.Series,
        "modelParameters": frame_or_series,
        "responseFormat": pd.Series,
        "return": pd.Series,
    }
    udf = pandas_udf(ai_query, "string")  # type: ignore[call-overload]  # the hints are set at run time
    # Each call is a paid request with an answer of its own: Spark must not run it twice for one row
    # (an optimiser duplicating the expression) nor fold it as a constant.
    return udf.asNondeterministic()


# -- on the worker ---------------------------------------------------------------------------------

_askers: dict[str, RowAsker] = {}
_askers_lock = threading.Lock()


def worker_asker(settings: WorkerSettings) -> RowAsker:
    """One RowAsker (one pooled, authenticated HTTP client) per registration per worker process."""
    key = settings.key()
    with _askers_lock:
        asker = _askers.get(key)
        if asker is None:
            from databricks.sdk.config import Config

            from agent_magics.core.request import Timeouts
            from agent_magics.sql.invocations import WorkspaceInvoker
            from agent_magics.sql.rows import RowAsker
            from agent_magics.transport.workspace import Workspace

            workspace = Workspace(host=settings.host, config=Config(**settings.config), label="spark executor")
            invoker = WorkspaceInvoker(
                workspace, retries=settings.retries, timeouts=Timeouts(read=settings.read_timeout)
            )
            asker = _askers[key] = RowAsker(invoker)
        return asker


def answer_batch(
    settings: WorkerSettings,
    endpoint: pd.Series,
    request: Any,
    return_type: Any = None,
    fail_on_error: Any = None,
    model_parameters: Any = None,
    response_format: Any = None,
) -> pd.Series:
    """One Arrow batch of ai_query rows: a STRING Series in the rows' order (see the module docstring)."""
    import pandas as pd

    from agent_magics.sql.batch import Batch, BatchCancelled

    requests = _request_texts(request)
    endpoints = [None if _missing(e) else str(e) for e in endpoint.tolist()]
    out: list[str | None] = [None] * len(requests)
    asker = worker_asker(settings)
    for index, name in enumerate(dict.fromkeys(e for e in endpoints if e is not None)):
        call = read_arguments(index, name, return_type, fail_on_error, model_parameters, response_format)
        asker.prepare(call)  # unknown endpoint, or an argument it cannot take: fails the task, saying why
        rows = [i for i, e in enumerate(endpoints) if e == name]
        batch = Batch(asker, settings.concurrency)
        try:
            answers = batch.run_rows(call, [requests[i] for i in rows])
        except BatchCancelled as exc:
            raise AgentError(batch.failure or str(exc)) from None
        finally:
            batch.close()
        for i, answer in zip(rows, answers):
            out[i] = None if answer is None else spark_text(call, answer)
    return pd.Series(out, dtype=object)


def read_arguments(
    index: int, endpoint: str, return_type: Any, fail_on_error: Any, model_parameters: Any, response_format: Any
) -> AiCall:
    """The call's constant arguments, from the first row of their columns."""
    from agent_magics.sql.returntype import parse_return_type
    from agent_magics.sql.transpile import AiCall

    ddl = _first(return_type)
    fail = _first(fail_on_error)
    parameters = _first_record(model_parameters)
    if parameters is not None and not isinstance(parameters, dict):
        raise AgentUsageError("ai_query: modelParameters must be named_struct('temperature', 0.2, ...).")
    fmt = _first(response_format)
    return AiCall(
        index=index,
        endpoint=endpoint,
        request_sql="request",
        return_type=parse_return_type(str(ddl)) if ddl is not None else None,
        fail_on_error=True if fail is None else bool(fail),
        model_parameters=parameters,
        response_format=str(fmt) if fmt is not None else None,
    )


def spark_text(call: AiCall, answer: Answer) -> str | None:
    """The STRING the UDF returns for one answered row."""
    typed = call.return_type is not None and not call.return_type.is_string
    if call.fail_on_error:
        if not typed:
            return answer.value
        return _scalar_text(answer.value) if _is_scalar(call) else _json(answer.value, call)
    value = answer.value if answer.error is None else None
    plain = _plain_value(value, call) if typed else value
    return json.dumps({"result": plain, "errorMessage": answer.error, "response": plain})


def _is_scalar(call: AiCall) -> bool:
    from sqlglot import exp

    kinds = (exp.DataType.Type.STRUCT, exp.DataType.Type.ARRAY, exp.DataType.Type.MAP)
    return call.return_type is not None and call.return_type.dtype.this not in kinds


def _scalar_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _json(value: Any, call: AiCall) -> str | None:
    return None if value is None else json.dumps(_plain_value(value, call))


def _plain_value(value: Any, call: AiCall) -> Any:
    """A coerced value as JSON-able data: MAPs (pairs after coercion) back to objects, dates as ISO text."""
    from sqlglot import exp

    def walk(item: Any, dtype: exp.DataType) -> Any:
        kind = dtype.this
        if item is None:
            return None
        if kind is exp.DataType.Type.MAP:
            _, value_type = dtype.expressions
            return {str(k): walk(v, value_type) for k, v in item}
        if kind is exp.DataType.Type.ARRAY:
            element = dtype.expressions[0] if dtype.expressions else exp.DataType.build("STRING")
            return [walk(v, element) for v in item]
        if kind is exp.DataType.Type.STRUCT:
            from agent_magics.sql.returntype import struct_fields

            return {name: walk(item.get(name), sub) for name, sub in struct_fields(dtype)}
        return _plain(item)

    return walk(value, call.return_type.dtype) if call.return_type is not None else value


def _request_texts(request: Any) -> list[str | None]:
    """Each row's request as JSON text (what the batch engine takes); None for a NULL request."""
    import pandas as pd

    if isinstance(request, pd.DataFrame):  # a STRUCT request (named_struct(...)) arrives as a frame
        # A NULL struct arrives as a row of nulls (Arrow to pandas keeps no struct validity): NULL,
        # not a request of nulls sent to the endpoint.
        return [
            None if all(_missing(v) for v in row.values()) else json.dumps(_plain(row))
            for row in request.to_dict("records")
        ]
    return [None if _missing(value) else json.dumps(_plain(value)) for value in request.tolist()]


def _plain(value: Any) -> Any:
    """Arrow/pandas/numpy values as plain JSON data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return _plain(value.tolist())
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if _missing(value):
        return None
    return value


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (str, dict, list, tuple)) else False
    except (TypeError, ValueError):
        return False


def _first(column: Any) -> Any:
    if column is None:
        return None
    for value in column.tolist():
        if not _missing(value):
            return _plain(value)
    return None


def _first_record(column: Any) -> Any:
    import pandas as pd

    if isinstance(column, pd.DataFrame):
        records = column.to_dict("records")
        return _plain(records[0]) if records else None
    return _first(column)
