"""MLflow traces of each request, captured in memory the way Databricks Model Serving does it.

The server process runs with ``IS_IN_DB_MODEL_SERVING_ENV=true`` and ``ENABLE_MLFLOW_TRACING=true``
(see ``server.prepare_environment``), so MLflow's own ``InferenceTableSpanExporter`` puts each
finished trace (``Trace.to_dict()``, schema V3) into its in-memory buffer, keyed by the request id
set with ``set_prediction_context``. ``ServedTraces.collect`` pops it from there and keeps it by trace
id, so ``GET /api/3.0/mlflow/traces/{trace_id}`` can serve it afterwards. Nothing is exported
anywhere: no tracking server, no files, no network.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_magics.local.api_errors import api_error

# Tells MLflow's REST client that the spans are served by this tracking API (``/traces/get``)
# rather than stored as artifacts.
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"


@contextmanager
def capture(request_id: str, endpoint_name: str | None = None, *, traced: bool = True) -> Iterator[None]:
    """Trace agent code run inside this block under ``request_id`` (Model Serving's mechanism).

    ``traced=False`` for a request whose trace nobody can see (a serving request without
    ``return_trace``: its trace id is never returned, and this workspace has no inference tables):
    MLflow then samples the trace out and skips its span work, about 40% of such a request's CPU.
    """
    from mlflow.pyfunc.context import Context, set_prediction_context

    with set_prediction_context(Context(request_id=request_id, endpoint_name=endpoint_name)), _sampled(traced):
        yield


@contextmanager
def _sampled(traced: bool) -> Iterator[None]:
    # MLflow's per-trace sampling override (what ``@mlflow.trace(sampling_ratio_override=...)``
    # sets); it is read by the sampler installed when MLFLOW_TRACE_SAMPLING_RATIO is set (see
    # server.SERVER_ENVIRONMENT). Another MLflow without it: every request is traced, as before.
    try:
        from mlflow.tracing.sampling import _SAMPLING_RATIO_OVERRIDE
    except ImportError:
        _SAMPLING_RATIO_OVERRIDE = None  # type: ignore[assignment]
    if traced or _SAMPLING_RATIO_OVERRIDE is None:
        yield
        return
    token = _SAMPLING_RATIO_OVERRIDE.set(0.0)  # type: ignore[arg-type]  # MLflow declares it untyped
    try:
        yield
    finally:
        _SAMPLING_RATIO_OVERRIDE.reset(token)


class ServedTraces:
    """The traces of the requests this server answered, by trace id (the newest ``capacity`` of them)."""

    def __init__(self, capacity: int = 500) -> None:
        self.capacity = capacity
        self._traces: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._in_flight = 0

    def collect(self, request_id: str) -> dict[str, Any] | None:
        """Take the trace of a finished request out of MLflow's buffer and keep it; None if untraced."""
        from mlflow.tracing.export.inference_table import pop_trace

        trace = pop_trace(request_id)
        if trace is not None:
            with self._lock:
                self._traces[trace["info"]["trace_id"]] = trace
                while len(self._traces) > self.capacity:
                    self._traces.popitem(last=False)
        return trace

    def get(self, trace_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._traces.get(trace_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._traces)

    # App requests in flight. An app's streamed answer sends its trace id before [DONE], and its
    # root span ends just after the last byte, so a client may ask for the trace a moment early.
    def begin(self) -> None:
        with self._lock:
            self._in_flight += 1

    def end(self) -> None:
        with self._lock:
            self._in_flight -= 1

    async def wait_for(self, trace_id: str, timeout: float = 5.0) -> dict[str, Any] | None:
        """The trace, waiting (up to ``timeout``) only while app requests are still finishing."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            trace = self.get(trace_id)
            with self._lock:
                busy = self._in_flight > 0
            if trace is not None or not busy or loop.time() >= deadline:
                return trace
            await asyncio.sleep(0.02)


def rest_trace(trace: dict[str, Any]) -> dict[str, Any]:
    """One trace in both shapes clients read, under ``{"trace": ...}``.

    ``trace_info`` / ``spans`` are MLflow's REST (protobuf JSON) shape, as ``GetTraceInfoV3`` and
    ``GetTrace`` return it, so MLflow's own client parses it; ``info`` / ``data`` are the same trace
    as ``Trace.to_dict()`` (V3), so ``mlflow.entities.Trace.from_dict(body["trace"])`` works too.
    """
    from mlflow.entities import Trace
    from mlflow.utils.proto_json_utils import message_to_json

    info = {**trace["info"], "tags": {**trace["info"].get("tags", {}), SPANS_LOCATION_TAG: "TRACKING_STORE"}}
    view = {"info": info, "data": trace["data"]}
    proto = json.loads(message_to_json(Trace.from_dict(view).to_proto()))
    return {"trace": {**proto, **view}}


def routes(store: ServedTraces) -> list[Route]:
    async def found_or_404(trace_id: str | None) -> JSONResponse:
        trace = await store.wait_for(trace_id) if trace_id else None
        if trace is None:
            return api_error(404, "RESOURCE_DOES_NOT_EXIST", f"Trace with ID '{trace_id}' not found.")
        return JSONResponse(rest_trace(trace))

    async def get_by_path(request: Request) -> JSONResponse:
        return await found_or_404(request.path_params["trace_id"])

    async def get_by_query(request: Request) -> JSONResponse:
        return await found_or_404(request.query_params.get("trace_id"))

    async def batch_get(request: Request) -> JSONResponse:
        found = [store.get(t) for t in request.query_params.getlist("trace_ids")]
        return JSONResponse({"traces": [rest_trace(t)["trace"] for t in found if t is not None]})

    return [
        Route("/api/3.0/mlflow/traces/get", get_by_query, methods=["GET"]),
        Route("/api/3.0/mlflow/traces/batchGet", batch_get, methods=["GET"]),
        Route("/api/3.0/mlflow/traces/{trace_id}", get_by_path, methods=["GET"]),
    ]
