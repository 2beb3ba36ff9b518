"""MLflow traces as data: a tolerant parser and a small span-tree model.

A trace comes back from an agent in several shapes (see ``reference/PROTOCOL.md`` §3.6):

- MLflow 3 ``Trace.to_dict()`` (``"v3"``): ``{"info": {"trace_id", ...}, "data": {"spans": [...]}}``,
  span ids base64 of the OTel bytes (or hex, as MLflow 3.5.0 wrote them), attribute values
  JSON-encoded strings;
- the MLflow REST API (``"v3-rest"``, ``GET /api/3.0/mlflow/traces/get``):
  ``{"trace": {"trace_info": {...}, "spans": [...]}}`` with spans in the OTLP protobuf JSON form
  (attributes as ``[{"key", "value": {"string_value": ...}}]``, values *not* JSON-encoded);
- MLflow 2 (``"v2"``): ``info.request_id``, spans with ``context.span_id``, ``parent_id``,
  ``start_time``/``end_time`` in ns, ``status_code``/``status_message``;
- legacy agent-framework traces from inference tables: the flat ``{"mlflow.trace_schema.version":
  2, "spans": [...]}`` (``"legacy"``, attributes a JSON string) and the older ``{"steps": [...]}``
  (``"v1"``).

Everything here is plain Python: MLflow and pandas are imported only by the methods that need them.
Trace content is agent data: the HTML view (``view/trace_html.py``) escapes all of it.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from agent_magics.core.extras import no_mlflow_telemetry

__all__ = ["Span", "Trace", "TraceParseError", "format_duration", "parse_trace", "token_usage"]

SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
SPAN_TYPE = "mlflow.spanType"
TRACE_REQUEST_ID = "mlflow.traceRequestId"
TOKEN_USAGE = "mlflow.chat.tokenUsage"
MESSAGE_FORMAT = "mlflow.message.format"  # set by MLflow's AgentServer on the span of a request
TRACE_TOKEN_USAGE = "mlflow.trace.tokenUsage"  # MLflow 3's trace-level sum, in the trace metadata
# Token counts under the names MLflow, the Responses API and Chat Completions give them.
_USAGE_KEYS = {
    "input_tokens": ("input_tokens", "prompt_tokens"),
    "output_tokens": ("output_tokens", "completion_tokens"),
    "total_tokens": ("total_tokens",),
}

_HEX_ID = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MAX_NS = 2**64  # OTel timestamps are uint64 nanoseconds
_MAX_NESTING = 64  # how deep OTLP AnyValue structures are decoded before giving up


class TraceParseError(ValueError):
    """The value is not a trace in any shape this module knows."""


@dataclass(eq=False)
class Span:
    """One span of a trace. Ids are lower-case hex when the input used OTel ids (base64 or hex)."""

    span_id: str
    parent_id: str | None = None
    name: str = "(unnamed)"
    span_type: str = "UNKNOWN"
    start_ns: int | None = None
    end_ns: int | None = None
    status: str = "UNSET"  # OK | ERROR | UNSET
    error: str | None = None
    inputs: Any = None
    outputs: Any = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    children: list[Span] = field(default_factory=list)
    depth: int = 0
    parent: Span | None = None
    recorded_type: str | None = None  # set when span_type was inferred: what the trace said

    @property
    def duration(self) -> float | None:
        """Seconds, or None when the span has no (consistent) start and end."""
        if self.start_ns is None or self.end_ns is None or self.end_ns < self.start_ns:
            return None
        return (self.end_ns - self.start_ns) / 1e9

    @property
    def duration_ms(self) -> float | None:
        seconds = self.duration
        return None if seconds is None else seconds * 1000

    @property
    def usage(self) -> dict[str, int] | None:
        """Token counts (``input_tokens``, ``output_tokens``, ``total_tokens``) the span carries:
        MLflow's ``mlflow.chat.tokenUsage`` attribute, else a ``usage`` object in its outputs."""
        usage = token_usage(self.attributes.get(TOKEN_USAGE))
        if usage is None and isinstance(self.outputs, dict):
            usage = token_usage(self.outputs.get("usage"))
        return usage

    def walk(self) -> Iterator[Span]:
        """This span and its descendants, depth first (iterative: traces can be deep)."""
        stack = [self]
        while stack:
            span = stack.pop()
            yield span
            stack.extend(reversed(span.children))

    def __repr__(self) -> str:
        parts = [repr(self.name), self.span_type, format_duration(self.duration), self.status]
        if self.error:
            parts.append(f"error={self.error[:80]!r}")
        return f"Span({', '.join(parts)})"


class Trace:
    """A parsed trace: spans linked into a tree, with the original dict kept untouched.

    Build it with :func:`parse_trace`. ``spans`` are in start order; ``roots`` are the top-level
    spans (normally one; spans whose parent is missing from the trace become roots too).
    """

    def __init__(
        self,
        *,
        spans: list[Span],
        info: dict[str, Any],
        raw: dict[str, Any],
        format: str,
        trace_id: str | None = None,
        status: str = "UNSET",
        duration: float | None = None,
        start_time_ns: int | None = None,
        request_preview: str | None = None,
        response_preview: str | None = None,
    ) -> None:
        self.spans = spans
        self.roots = _link(spans)
        for root in self.roots:
            _infer_request_span_type(root)
        self.info = info
        self.format = format
        self._raw = raw
        self.trace_id = trace_id
        self.status = status
        self.request_preview = request_preview
        self.response_preview = response_preview
        span_start = min((s.start_ns for s in spans if s.start_ns is not None), default=None)
        self.start_time_ns = span_start if span_start is not None else start_time_ns
        self._duration = duration

    # -- the tree ---------------------------------------------------------------------------

    @property
    def root(self) -> Span | None:
        """The span without a parent (or the earliest top-level span), None for an empty trace."""
        for span in self.roots:
            if span.parent_id is None:
                return span
        return self.roots[0] if self.roots else None

    @property
    def end_time_ns(self) -> int | None:
        return max((s.end_ns for s in self.spans if s.end_ns is not None), default=None)

    @property
    def duration(self) -> float | None:
        """Seconds from the first span start to the last span end, else what the trace info says."""
        start, end = self.start_time_ns, self.end_time_ns
        if start is not None and end is not None and end >= start and self.spans:
            return (end - start) / 1e9
        return self._duration

    @property
    def errors(self) -> list[Span]:
        """Spans that failed or recorded an exception."""
        return [s for s in self.spans if s.status == "ERROR" or s.error]

    @property
    def usage(self) -> dict[str, int] | None:
        """Token counts for the whole trace: MLflow's trace-level sum when the trace info has it,
        else the sum over the outermost spans that carry usage (an agent span reporting usage
        already counts the model calls under it)."""
        metadata = self.info.get("trace_metadata") or self.info.get("request_metadata")
        if isinstance(metadata, dict):
            usage = token_usage(_json_or_text(metadata.get(TRACE_TOKEN_USAGE)))
            if usage is not None:
                return usage
        total: dict[str, int] = {}
        stack = list(self.roots)  # depth first, stopping at the first span on a path with usage
        while stack:
            span = stack.pop()
            usage = span.usage
            if usage is None:
                stack.extend(span.children)
                continue
            for key, count in usage.items():
                total[key] = total.get(key, 0) + count
        return total or None

    def find(self, name: str) -> Span | None:
        """The first span (in start order) with this name."""
        return next((s for s in self.spans if s.name == name), None)

    def find_all(self, name: str) -> list[Span]:
        return [s for s in self.spans if s.name == name]

    def spans_of_type(self, span_type: str) -> list[Span]:
        wanted = span_type.upper()
        return [s for s in self.spans if s.span_type == wanted]

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[Span]:
        return iter(self.spans)

    def __bool__(self) -> bool:  # an info-only trace (no spans) is still a trace
        return True

    # -- conversions ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The dict this trace was parsed from (a deep copy, so the Trace stays consistent)."""
        return copy.deepcopy(self._raw)

    def to_pandas(self) -> Any:
        """One row per span (start order), with tree depth and times relative to the trace start."""
        import pandas as pd

        columns = [
            "span_id", "name", "span_type", "parent_id", "depth", "start_offset_ms",
            "duration_ms", "status", "inputs", "outputs", "error",
        ]  # fmt: skip
        rows = [self._row(s) for s in self.spans]
        return pd.DataFrame(rows, columns=columns)

    def to_mlflow(self) -> Any:
        """The trace as an ``mlflow.entities.Trace`` (needs ``mlflow-tracing`` or ``mlflow``)."""
        no_mlflow_telemetry()
        try:
            from mlflow.entities import Trace as MlflowTrace
        except ImportError as exc:
            raise ImportError("Trace.to_mlflow() needs MLflow: pip install mlflow-tracing (or mlflow)") from exc
        if self.format not in ("v3", "v2", "v3-rest"):
            raise NotImplementedError(
                f"to_mlflow() cannot convert a {self.format!r} trace (a legacy agent-framework "
                "shape MLflow no longer reads); use .to_dict() or .to_pandas() instead"
            )
        try:
            if self.format == "v3-rest":
                return _mlflow_from_rest(MlflowTrace, _unwrap(self._raw))
            return MlflowTrace.from_dict(self._for_mlflow())
        except Exception as exc:  # MLflow raises MlflowException, KeyError, TypeError...
            raise TraceParseError(f"MLflow could not load this trace: {_one_line(exc)}") from exc

    def _for_mlflow(self) -> dict[str, Any]:
        """A copy MLflow's ``from_dict`` accepts: it insists every span names its trace."""
        data = copy.deepcopy(_unwrap(self._raw))
        body = data.get("data")
        spans = body.get("spans") if isinstance(body, dict) else None
        if self.trace_id and isinstance(spans, list):
            for span in spans:
                attrs = span.get("attributes") if isinstance(span, dict) else None
                if isinstance(attrs, dict) and not attrs.get(TRACE_REQUEST_ID):
                    attrs[TRACE_REQUEST_ID] = json.dumps(self.trace_id)
        return data

    def _row(self, s: Span) -> list[Any]:
        offset = self._offset_ms(s)
        return [s.span_id, s.name, s.span_type, s.parent_id, s.depth, offset, s.duration_ms, s.status,
                s.inputs, s.outputs, s.error]  # fmt: skip

    def _offset_ms(self, span: Span) -> float | None:
        if span.start_ns is None or self.start_time_ns is None:
            return None
        return (span.start_ns - self.start_time_ns) / 1e6

    # -- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        from agent_magics.view.trace_html import trace_to_text

        return trace_to_text(self, max_value_chars=0)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from agent_magics.view.trace_html import trace_to_html

        return trace_to_html(self)


# -- parsing --------------------------------------------------------------------------------


def parse_trace(data: Any) -> Trace:
    """Parse a trace dict (or its JSON text, or an MLflow ``Trace``) into a :class:`Trace`.

    Raises :class:`TraceParseError` (a ``ValueError``) with a one-line message for anything
    that is not a trace, and never another exception type.
    """
    if isinstance(data, Trace):
        return data
    try:
        return _parse(_as_dict(data))
    except TraceParseError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError) as exc:
        # A safety net: the parser is written not to raise, but traces are untrusted input.
        raise TraceParseError(f"could not parse trace: {_one_line(exc)}") from exc


def _as_dict(data: Any) -> dict[str, Any]:
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TraceParseError("trace bytes are not UTF-8 text") from exc
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise TraceParseError(f"trace text is not valid JSON: {_one_line(exc)}") from exc
    elif not isinstance(data, dict) and type(data).__module__.startswith("mlflow."):
        data = data.to_dict()  # an mlflow.entities.Trace
    if not isinstance(data, dict):
        raise TraceParseError(f"expected a trace dict or JSON object, got {type(data).__name__}")
    return data


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """Strip the envelopes a trace arrives in: ``databricks_output`` and the REST ``trace``."""
    for _ in range(3):
        inner = data.get("databricks_output")
        if isinstance(inner, dict) and isinstance(inner.get("trace"), dict):
            data = inner["trace"]
            continue
        inner = data.get("trace")
        if isinstance(inner, dict) and not {"info", "data", "spans", "steps"} & data.keys():
            data = inner
            continue
        break
    return data


def _parse(raw: dict[str, Any]) -> Trace:
    data = _unwrap(raw)
    if "info" in data or "trace_info" in data or "data" in data:
        return _parse_mlflow(raw, data)
    if "spans" in data:
        return _parse_flat(raw, data)
    if "steps" in data:
        return _parse_steps(raw, data)
    keys = ", ".join(repr(k)[:40] for k in list(data)[:6]) or "none"
    raise TraceParseError(f"not a trace: expected 'info'/'data' (MLflow), 'spans' or 'steps' (legacy); keys: {keys}")


def _parse_mlflow(raw: dict[str, Any], data: dict[str, Any]) -> Trace:
    rest = "trace_info" in data and "info" not in data
    info = _object(data.get("trace_info") if rest else data.get("info"), "info")
    body = _maybe_json(data.get("data"))
    if body is not None and not isinstance(body, dict):
        raise TraceParseError(f"trace 'data' is not an object but {type(body).__name__}")
    # The REST shape keeps the spans next to trace_info, not under "data".
    span_list = body.get("spans") if isinstance(body, dict) else data.get("spans")
    spans = _parse_spans(span_list)
    v2 = "request_id" in info and "trace_id" not in info
    fmt = "v3-rest" if rest else ("v2" if v2 else "v3")
    metadata = _object_or_empty(info.get("request_metadata") if v2 else info.get("trace_metadata"))
    request = info.get("request_preview", metadata.get("mlflow.traceInputs"))
    response = info.get("response_preview", metadata.get("mlflow.traceOutputs"))
    if isinstance(body, dict):  # MLflow 2 TraceData also carried the request and response
        request = body.get("request", request) if request is None else request
        response = body.get("response", response) if response is None else response
    trace_id = info.get("trace_id") if not v2 else info.get("request_id")
    return Trace(
        spans=spans,
        info=info,
        raw=raw,
        format=fmt,
        trace_id=_text_or_none(trace_id) or _trace_id_from_spans(spans),
        status=_trace_status(info.get("status") if v2 else info.get("state"), spans),
        duration=_info_duration(info),
        start_time_ns=_info_start_ns(info),
        request_preview=_text_or_none(request),
        response_preview=_text_or_none(response),
    )


def _parse_flat(raw: dict[str, Any], data: dict[str, Any]) -> Trace:
    spans = _parse_spans(data.get("spans"))
    info = {k: v for k, v in data.items() if k != "spans"}
    version = data.get("mlflow.trace_schema.version")
    start = _to_ns(data.get("start_timestamp"))
    end = _to_ns(data.get("end_timestamp"))
    return Trace(
        spans=spans,
        info=info,
        raw=raw,
        format="legacy" if str(version) == "2" else "spans",
        trace_id=_text_or_none(data.get("request_id")) or _trace_id_from_spans(spans),
        status=_trace_status(None, spans),
        duration=_seconds_between(start, end),
        start_time_ns=start,
    )


def _parse_steps(raw: dict[str, Any], data: dict[str, Any]) -> Trace:
    """The V1 agent-framework trace: a flat list of steps (no parents)."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise TraceParseError(f"'steps' is not a list but {type(steps).__name__}")
    spans = [_step_to_span(step, i) for i, step in enumerate(steps) if isinstance(step, dict)]
    info = {k: v for k, v in data.items() if k != "steps"}
    start = _to_ns(data.get("start_timestamp"))
    end = _to_ns(data.get("end_timestamp"))
    return Trace(
        spans=_in_start_order(spans),
        info=info,
        raw=raw,
        format="v1",
        trace_id=_text_or_none(data.get("request_id")),
        status=_trace_status(None, spans),
        duration=_seconds_between(start, end),
        start_time_ns=start,
    )


_STEP_TYPES = {"RETRIEVAL": "RETRIEVER", "LLM_GENERATION": "LLM", "TOOL_CALL": "TOOL"}


def _step_to_span(step: dict[str, Any], index: int) -> Span:
    retrieval = _object_or_empty(step.get("retrieval"))
    generation = _object_or_empty(step.get("text_generation"))
    step_type = _text_or_none(step.get("type")) or ""
    if retrieval:
        inputs, outputs = retrieval.get("query_text"), retrieval.get("chunks")
    elif generation:
        inputs, outputs = generation.get("prompt"), generation.get("generated_text")
    else:
        inputs, outputs = step.get("inputs"), step.get("outputs")
    return Span(
        span_id=_norm_id(step.get("step_id")) or f"#{index}",
        name=_name(step.get("name")),
        span_type=_span_type(_STEP_TYPES.get(step_type.upper(), step_type)),
        start_ns=_to_ns(step.get("start_timestamp")),
        end_ns=_to_ns(step.get("end_timestamp")),
        inputs=inputs,
        outputs=outputs,
    )


def _parse_spans(span_list: Any) -> list[Span]:
    span_list = _maybe_json(span_list)
    if span_list is None:
        return []
    if not isinstance(span_list, list):
        raise TraceParseError(f"'spans' is not a list but {type(span_list).__name__}")
    spans = [_parse_span(item, i) for i, item in enumerate(span_list) if isinstance(item, dict)]
    return _in_start_order(spans)


def _parse_span(raw: dict[str, Any], index: int) -> Span:
    context = _object_or_empty(raw.get("context"))
    span_id = _first(raw, "span_id", "spanId")
    if span_id is None:
        span_id = context.get("span_id")
    parent_id = _first(raw, "parent_span_id", "parent_id", "parentSpanId")
    attributes = _attributes(raw.get("attributes"))
    status, message = _span_status(raw)
    events = _events(raw.get("events"))
    inputs = attributes[SPAN_INPUTS] if SPAN_INPUTS in attributes else raw.get("inputs")
    outputs = attributes[SPAN_OUTPUTS] if SPAN_OUTPUTS in attributes else raw.get("outputs")
    return Span(
        span_id=_norm_id(span_id) or f"#{index}",
        parent_id=_norm_id(parent_id),
        name=_name(raw.get("name")),
        span_type=_span_type(attributes.get(SPAN_TYPE, raw.get("span_type"))),
        start_ns=_to_ns(_first(raw, "start_time_unix_nano", "startTimeUnixNano", "start_time")),
        end_ns=_to_ns(_first(raw, "end_time_unix_nano", "endTimeUnixNano", "end_time")),
        status=status,
        error=_error(status, message, events),
        inputs=inputs,
        outputs=outputs,
        attributes=attributes,
        events=events,
    )


def _first(raw: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if raw.get(key) is not None:
            return raw[key]
    return None


def _in_start_order(spans: list[Span]) -> list[Span]:
    # Stable: spans without a start keep their place relative to each other, after the rest.
    return sorted(spans, key=lambda s: (s.start_ns is None, s.start_ns or 0))


# -- field decoding -------------------------------------------------------------------------


def _attributes(value: Any) -> dict[str, Any]:
    """Span attributes, decoded into plain Python values.

    - a dict (MLflow ``to_dict``): every value is a JSON-encoded string, so decode each;
    - a list of OTLP ``{"key", "value": AnyValue}`` (the REST shape): values are typed, not JSON;
    - a JSON string of a dict (legacy flat traces): the values inside are already plain.
    """
    if isinstance(value, dict):
        return {str(k): _json_or_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return _key_values(value, 0)
    if isinstance(value, str):
        decoded = _json_or_text(value)
        if isinstance(decoded, dict):
            return {str(k): v for k, v in decoded.items()}
        return {"attributes": value} if value.strip() else {}
    return {}


def _json_or_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return value


def _maybe_json(value: Any) -> Any:
    """A container that may itself have been sent as JSON text."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        return _json_or_text(value)
    return value


def _key_values(items: list[Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        if isinstance(item, dict) and "key" in item:
            out[str(item["key"])] = _any_value(item.get("value"), depth + 1)
    return out


def _any_value(value: Any, depth: int) -> Any:
    """Decode an OTLP ``AnyValue`` JSON object (snake_case or camelCase field names)."""
    if not isinstance(value, dict) or depth > _MAX_NESTING:
        return value
    for key in ("string_value", "stringValue", "bool_value", "boolValue", "bytes_value", "bytesValue"):
        if key in value:
            return value[key]
    for key in ("int_value", "intValue"):
        if key in value:
            return _int_or_raw(value[key])
    for key in ("double_value", "doubleValue"):
        if key in value:
            return value[key]
    for key in ("array_value", "arrayValue"):
        if key in value:
            values = _object_or_empty(value[key]).get("values")
            return [_any_value(v, depth + 1) for v in values] if isinstance(values, list) else []
    for key in ("kvlist_value", "kvlistValue"):
        if key in value:
            values = _object_or_empty(value[key]).get("values")
            return _key_values(values, depth) if isinstance(values, list) else {}
    return value or None


def _int_or_raw(value: Any) -> Any:
    digits = value.lstrip("-") if isinstance(value, str) else ""
    if digits.isascii() and digits.isdigit() and len(digits) <= 40:  # int() refuses over 4,300 digits
        return int(value)
    return value


def _events(value: Any) -> list[dict[str, Any]]:
    value = _maybe_json(value)
    if not isinstance(value, list):
        return []
    events = []
    for event in value:
        if not isinstance(event, dict):
            continue
        attrs = event.get("attributes")
        # Event attributes are plain values (MLflow does not JSON-encode them), so only a
        # whole-dict JSON string (legacy) or an OTLP list needs decoding.
        if isinstance(attrs, str):
            attrs = _json_or_text(attrs)
        elif isinstance(attrs, list):
            attrs = _key_values(attrs, 0)
        events.append(
            {
                "name": _name(event.get("name"), default=""),
                "time_ns": _to_ns(_first(event, "time_unix_nano", "timeUnixNano", "timestamp")),
                "attributes": {str(k): v for k, v in attrs.items()} if isinstance(attrs, dict) else {},
            }
        )
    return events


def _span_status(raw: dict[str, Any]) -> tuple[str, str | None]:
    status = raw.get("status")
    if isinstance(status, dict):
        code = _first(status, "code", "status_code")
        message = _first(status, "message", "description")
    elif status is not None:
        code, message = status, None
    else:
        code, message = raw.get("status_code"), raw.get("status_message")
    return _norm_status(code), _text_or_none(message)


def _norm_status(code: Any) -> str:
    if isinstance(code, int) and not isinstance(code, bool):
        return {1: "OK", 2: "ERROR"}.get(code, "UNSET")
    if not isinstance(code, str):
        return "UNSET"
    name = code.strip().upper().removeprefix("STATUS_CODE_")
    return name if name in ("OK", "ERROR") else "UNSET"


def _trace_status(state: Any, spans: list[Span]) -> str:
    """OK | ERROR | IN_PROGRESS | UNSET, from the trace info, else from the root span."""
    if isinstance(state, str):
        name = state.strip().upper()
        if name in ("OK", "ERROR", "IN_PROGRESS"):
            return name
    roots = [s for s in spans if s.parent_id is None]
    return roots[0].status if roots else "UNSET"


def _error(status: str, message: str | None, events: list[dict[str, Any]]) -> str | None:
    """The error message of a span: its status message, else its first exception event."""
    if status == "ERROR" and message:
        return message
    for event in events:
        if event["name"] == "exception":
            attrs = event["attributes"]
            text = _text_or_none(attrs.get("exception.message")) or ""
            kind = _text_or_none(attrs.get("exception.type"))
            if kind and not text.startswith(kind):
                text = f"{kind}: {text}" if text else kind
            if text:
                return text
    return message if status == "ERROR" else None


def _norm_id(value: Any) -> str | None:
    """A span/parent id as lower-case hex when it is an OTel id (base64 or hex), else as given."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"{value:016x}" if 0 <= value < 2**64 else (f"{value:032x}" if value > 0 else str(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    if _HEX_ID.fullmatch(text):
        return text.lower()
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) in (8, 16):
        return decoded.hex()
    return value.strip() or None


def _span_type(value: Any) -> str:
    if isinstance(value, str) and value.startswith('"'):
        value = _json_or_text(value)  # a server that JSON-encoded a typed OTLP string
    if isinstance(value, str) and value.strip():
        return value.strip().upper()
    return "UNKNOWN"


def _name(value: Any, default: str = "(unnamed)") -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return default


def _text_or_none(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    return None


def _object(value: Any, what: str) -> dict[str, Any]:
    value = _maybe_json(value)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TraceParseError(f"trace {what!r} is not an object but {type(value).__name__}")
    return value


def _object_or_empty(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _to_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch from an int/float ns, a digit string, or an ISO timestamp.

    0 is no time: OTLP writes an unset timestamp as 0, and taking it for 1970 would put every real
    span decades away on the timeline."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if 0 < value < _MAX_NS else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and 0 < value < _MAX_NS else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return _to_ns(int(text)) if len(text) <= 20 else None
    return _iso_to_ns(text)


def _iso_to_ns(text: str) -> int | None:
    if not text or len(text) > 64:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:  # the legacy traces write naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    ns = (moment - _EPOCH) // timedelta(microseconds=1) * 1000
    return ns if 0 <= ns < _MAX_NS else None


def _seconds_between(start: int | None, end: int | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start) / 1e9


def _info_duration(info: dict[str, Any]) -> float | None:
    for key in ("execution_duration_ms", "execution_time_ms"):
        value = info.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value / 1000 if math.isfinite(value) and value >= 0 else None
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value) / 1000
    value = info.get("execution_duration")  # protobuf JSON Duration: "0.154s"
    if isinstance(value, str) and value.endswith("s"):
        try:
            seconds = float(value[:-1])
        except ValueError:
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None


def _info_start_ns(info: dict[str, Any]) -> int | None:
    timestamp_ms = info.get("timestamp_ms")
    if isinstance(timestamp_ms, int) and not isinstance(timestamp_ms, bool):
        return _to_ns(timestamp_ms * 1_000_000)
    request_time = info.get("request_time")
    if isinstance(request_time, int) and not isinstance(request_time, bool):
        return _to_ns(request_time * 1_000_000)  # some MLflow versions kept milliseconds
    return _to_ns(request_time) if isinstance(request_time, str) else None


def _trace_id_from_spans(spans: list[Span]) -> str | None:
    for span in spans:
        value = span.attributes.get(TRACE_REQUEST_ID)
        if isinstance(value, str) and value:
            return value
    return None


# -- tree -----------------------------------------------------------------------------------


def _link(spans: list[Span]) -> list[Span]:
    """Link spans to their parents; return the top-level spans. Robust to orphans and cycles."""
    by_id: dict[str, Span] = {}
    for span in spans:
        by_id.setdefault(span.span_id, span)
    for span in spans:
        parent = by_id.get(span.parent_id) if span.parent_id is not None else None
        span.parent = parent if parent is not span else None
        span.children = []
    for span in spans:
        if span.parent is not None:
            span.parent.children.append(span)
    roots = [span for span in spans if span.parent is None]
    seen: set[int] = set()
    for root in roots:
        _set_depths(root, seen)
    for span in spans:  # anything not reached hangs off a parent cycle: cut it loose
        if id(span) not in seen:
            assert span.parent is not None
            span.parent.children.remove(span)
            span.parent = None
            roots.append(span)
            _set_depths(span, seen)
    order = {id(span): i for i, span in enumerate(spans)}
    roots.sort(key=lambda s: order[id(s)])
    return roots


def _infer_request_span_type(root: Span) -> None:
    """An app's root span is an agent's, though MLflow records it as ``UNKNOWN``.

    MLflow's ``AgentServer`` wraps every request in ``mlflow.start_span(name=<function>)`` with no
    span type, so a Databricks App's trace starts with an ``UNKNOWN`` span whose inputs are the
    Responses request (and which carries ``mlflow.message.format``). Such a root span is shown as
    ``AGENT``; ``recorded_type`` keeps what the trace said.
    """
    if root.span_type != "UNKNOWN" or root.parent_id is not None:
        return
    inputs = root.inputs
    is_request = isinstance(inputs, dict) and any(isinstance(inputs.get(k), list) for k in ("input", "messages"))
    if MESSAGE_FORMAT in root.attributes or is_request:
        root.recorded_type, root.span_type = root.span_type, "AGENT"


def _set_depths(root: Span, seen: set[int]) -> None:
    root.depth = 0
    stack = [root]
    while stack:
        span = stack.pop()
        if id(span) in seen:
            continue
        seen.add(id(span))
        for child in span.children:
            child.depth = span.depth + 1
            stack.append(child)


# -- MLflow ---------------------------------------------------------------------------------


def _mlflow_from_rest(mlflow_trace: Any, data: dict[str, Any]) -> Any:
    """Load the REST (protobuf JSON) shape through MLflow's own protobuf messages."""
    from google.protobuf.json_format import ParseDict

    no_mlflow_telemetry()
    from mlflow.protos.service_pb2 import Trace as ProtoTrace

    proto = ParseDict(data, ProtoTrace(), ignore_unknown_fields=True)
    return mlflow_trace.from_proto(proto)


# -- token usage ----------------------------------------------------------------------------


def token_usage(value: Any) -> dict[str, int] | None:
    """``{"input_tokens", "output_tokens", "total_tokens"}`` (those present) from a usage object
    in MLflow's, the Responses API's or Chat Completions' naming; None when it has no counts."""
    if not isinstance(value, dict):
        return None
    usage: dict[str, int] = {}
    for key, names in _USAGE_KEYS.items():
        for name in names:
            count = value.get(name)
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                usage[key] = count
                break
    if usage and "total_tokens" not in usage and {"input_tokens", "output_tokens"} <= usage.keys():
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
    return usage or None


# -- formatting helpers shared with the views -----------------------------------------------


def format_duration(seconds: float | None) -> str:
    """``0.42 ms``, ``154.5 ms``, ``2.35 s``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    ms = seconds * 1000
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    if seconds < 600:
        return f"{seconds:.2f} s"
    return f"{seconds / 60:.1f} min"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
