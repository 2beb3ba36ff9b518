"""What opens under a span's row: its facts, error, inputs, outputs and remaining attributes."""

from __future__ import annotations

import json
from typing import Any

from agent_magics.core.text import shorten
from agent_magics.core.trace import (
    SPAN_INPUTS,
    SPAN_OUTPUTS,
    SPAN_TYPE,
    TOKEN_USAGE,
    TRACE_REQUEST_ID,
    Span,
    format_duration,
)
from agent_magics.view import trace_style as st
from agent_magics.view.sanitize import escape
from agent_magics.view.trace_timeline import Timeline
from agent_magics.view.trace_values import WHOLE_TRACE, Budget, display, prune, value_html

# Attributes shown elsewhere (the row, inputs, outputs, token usage) or of no interest to a reader.
HIDDEN_ATTRIBUTES = frozenset(
    {
        SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, TRACE_REQUEST_ID, TOKEN_USAGE,
        "mlflow.spanFunctionName", "mlflow.spanLogLevel",
    }
)  # fmt: skip
STREAM_CHUNK = "mlflow.chunk.item."  # MLflow logs each streamed chunk of a span as an event
TRACEBACK_CHARS = 20_000  # the end of a traceback is where the error is


def usage_text(usage: dict[str, int] | None) -> str:
    """``1,234 tokens (1,000 in · 234 out)``, or "" without usage."""
    if not usage:
        return ""
    total = usage.get("total_tokens")
    split = [f"{usage[k]:,} {label}" for k, label in (("input_tokens", "in"), ("output_tokens", "out")) if k in usage]
    if total is None:
        return " · ".join(split) + " tokens"
    return f"{total:,} tokens" + (f" ({' · '.join(split)})" if split else "")


def details_html(span: Span, timeline: Timeline, budget: Budget) -> str:
    """The body under a span's summary row."""
    facts = [
        f"<b>{budget.spend(escape(shorten(span.name, 1000)))}</b>",  # escaping can make it 6x longer
        escape(shorten(span.span_type, 40))
        + (f" (recorded as {escape(shorten(span.recorded_type, 40))})" if span.recorded_type else ""),
        f"started {escape(timeline.offset(span))}",
        escape(format_seconds(span)),
        _status_text(span.status),
    ]
    if usage := usage_text(span.usage):
        facts.append(escape(usage))
    parts = [f'<div style="{st.MUTED}">{" · ".join(f for f in facts if f)}</div>', error_html(span, budget)]
    if budget.max_chars > 0:
        parts.append(value_html("inputs", span.inputs, budget))
        parts.append(value_html("outputs", span.outputs, budget))
        parts.append(_attributes_html(span, budget))
    return f'<div style="{st.BODY}">{"".join(parts)}</div>'


def format_seconds(span: Span) -> str:
    return format_duration(span.duration) if span.end_ns is not None else "unfinished"


def _status_text(status: str) -> str:
    if status == "OK":
        return ""
    colour = st.STATUS_COLOURS.get(status, st.STATUS_COLOURS["UNSET"])
    return f'<span style="color:{colour};font-weight:bold">{escape(status)}</span>'


def error_html(span: Span, budget: Budget) -> str:
    """A failed span's error, always shown (at least its start), with its traceback behind a toggle."""
    if not span.error and span.status != "ERROR":
        return ""
    message = span.error or "failed (no error message)"
    limit = max(budget.max_chars, 200)
    text = message if len(message) <= limit else message[:limit] + f"… [{len(message) - limit:,} more characters]"
    stack = _stacktrace(span)
    trace_html = ""
    if stack and budget.max_chars > 0:
        inner = Budget(TRACEBACK_CHARS, budget.left)
        cut = ""
        if len(stack) > TRACEBACK_CHARS:  # its end is where the error is: the start goes, said so
            cut = (
                f'<div style="{st.LABEL}">(the first {len(stack) - TRACEBACK_CHARS:,} of {len(stack):,} '
                f"characters cut; {WHOLE_TRACE})</div>"
            )
        block = inner.text(stack[-TRACEBACK_CHARS:])
        budget.left = inner.left
        trace_html = f'<details><summary style="cursor:pointer;{st.LABEL}">traceback</summary>{cut}{block}</details>'
    return f'<div class="am-trace-error" style="{st.ERROR}">{budget.spend(escape(text))}{trace_html}</div>'


def _stacktrace(span: Span) -> str | None:
    for event in span.events:
        if event["name"] == "exception":
            stack = event["attributes"].get("exception.stacktrace")
            if isinstance(stack, str) and stack:
                return stack
    return None


def _attributes_html(span: Span, budget: Budget) -> str:
    shown: dict[str, Any] = {k: v for k, v in span.attributes.items() if k not in HIDDEN_ATTRIBUTES}
    events = [e for e in span.events if e["name"] != "exception"]
    chunks = [e for e in events if e["name"].startswith(STREAM_CHUNK)]
    if chunks:  # one event per streamed chunk: their sum is the span's outputs
        shown["(stream chunks)"] = f"{len(chunks):,} (the outputs are what they add up to)"
    others = [{"name": e["name"], **_decoded(e["attributes"])} for e in events if e not in chunks]
    if others:
        shown["(events)"] = others
    shown = prune(shown)
    if not shown:
        return ""
    return (
        f'<details><summary style="cursor:pointer;{st.LABEL}">attributes ({len(shown)})</summary>'
        f"{budget.text(display(shown))}</details>"
    )


def _decoded(attributes: dict[str, Any]) -> dict[str, Any]:
    """Event attribute values that are JSON text, decoded (so that their null fields go too)."""
    out = {}
    for key, value in attributes.items():
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                pass
        out[key] = value
    return out
