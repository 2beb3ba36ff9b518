"""A trace as static HTML (a collapsible span tree with a waterfall) and as a plain-text tree.

The HTML must survive where notebooks end up: JupyterLab's sanitiser for untrusted output,
nbconvert, GitHub and Databricks keep inline ``style`` attributes but drop ``<style>`` blocks,
classes' stylesheets and scripts. So all styling here is inline, and only CSS the JupyterLab
sanitiser accepts is used (no ``var()``, no flexbox gaps, colours as hex or ``rgba`` with a
``0.x`` alpha). Colours are mid-tones and translucent greys, readable on light and dark themes.

Names, inputs, outputs, errors and attribute values are agent data: they only ever reach the
markup through :func:`~agent_magics.view.sanitize.escape`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from agent_magics.core.trace import (
    SPAN_INPUTS,
    SPAN_OUTPUTS,
    SPAN_TYPE,
    TRACE_REQUEST_ID,
    Span,
    Trace,
    format_duration,
    parse_trace,
)
from agent_magics.view.sanitize import escape, to_display_text

__all__ = ["trace_to_html", "trace_to_text"]

FULL_VALUE_CAP = 100_000  # characters kept in a "show all" block: saved notebooks stay bounded
VALUES_BUDGET = 1_000_000  # value characters in one rendering; beyond it values are left out

TYPE_COLOURS = {
    "AGENT": "#7c3aed",
    "CHAT_MODEL": "#2563eb",
    "LLM": "#0e7490",
    "TOOL": "#b45309",
    "RETRIEVER": "#047857",
    "RERANKER": "#15803d",
    "EMBEDDING": "#0f766e",
    "PARSER": "#6d28d9",
    "CHAIN": "#4f46e5",
    "MEMORY": "#a16207",
    "GUARDRAIL": "#be123c",
    "EVALUATOR": "#9d174d",
    "TASK": "#475569",
    "WORKFLOW": "#3730a3",
}
UNKNOWN_COLOUR = "#6b7280"
STATUS_COLOURS = {"OK": "#2da44e", "ERROR": "#e5534b", "IN_PROGRESS": "#d4a72c", "UNSET": "#8c959f"}
ERROR_COLOUR = STATUS_COLOURS["ERROR"]

# Attributes shown elsewhere (type badge, inputs, outputs) or of no interest to a reader.
_HIDDEN_ATTRIBUTES = frozenset(
    {SPAN_INPUTS, SPAN_OUTPUTS, SPAN_TYPE, TRACE_REQUEST_ID, "mlflow.spanFunctionName", "mlflow.spanLogLevel"}
)
TOKEN_USAGE = "mlflow.chat.tokenUsage"

# Style strings used many times: kept short, defined once.
_ROOT = "font-size:13px;line-height:1.45"
_SUMMARY = "cursor:pointer;padding:1px 0"
_BODY = "margin-left:5px;padding-left:10px;border-left:1px solid rgba(127,127,127,0.3)"
_BADGE = "display:inline-block;padding:0 5px;border-radius:3px;font-size:10px;font-weight:bold;color:#fff;background:"
_TRACK = "float:right;width:160px;height:8px;margin:6px 0 0 8px;background:rgba(127,127,127,0.15);border-radius:2px"
_FILL = "display:block;height:8px;min-width:1px;border-radius:2px;"
_MUTED = "opacity:0.7"
_LABEL = "opacity:0.7;font-size:11px"
_PRE = (
    "margin:0 0 4px;padding:3px 6px;max-height:240px;overflow:auto;white-space:pre-wrap;"
    "background:rgba(127,127,127,0.08)"
)
_ERROR = (
    f"color:{ERROR_COLOUR};border-left:3px solid {ERROR_COLOUR};background:rgba(229,83,75,0.1);"
    "padding:2px 6px;margin:2px 0;white-space:pre-wrap;overflow-wrap:break-word"
)


def _as_trace(trace: Trace | dict[str, Any]) -> Trace:
    return trace if isinstance(trace, Trace) else parse_trace(trace)


def _short(text: str, limit: int = 200) -> str:
    """Names and ids are labels: a megabyte-long one is cut (its value blocks are not)."""
    return text if len(text) <= limit else text[:limit] + "…"


# -- HTML -----------------------------------------------------------------------------------


def trace_to_html(trace: Trace | dict[str, Any], *, max_value_chars: int = 2000, open_depth: int = 1) -> str:
    """Static HTML for a trace: header line, then one nested ``<details>`` per span.

    Spans shallower than ``open_depth`` start expanded. Values longer than ``max_value_chars``
    are cut, with the full value (up to 100,000 characters) in a nested ``<details>``. One
    rendering holds at most about a million characters of values, so that a huge trace does not
    bloat the notebook it is saved in: past that, values are left out (``to_pandas()`` has them).
    """
    trace = _as_trace(trace)
    timeline = _Timeline(trace)
    values = _Values(max_value_chars)
    out = [f'<div style="{_ROOT}">', _header_html(trace)]
    if not trace.spans:
        out.append(f'<div style="{_MUTED}">(no spans)</div>')
    # Iterative, not recursive: a trace can be thousands of spans deep.
    stack: list[tuple[Span, bool]] = [(root, False) for root in reversed(trace.roots)]
    while stack:
        span, closing = stack.pop()
        if closing:
            out.append("</div></details>")
            continue
        out.append(_span_open_html(span, timeline, values, open_depth))
        stack.append((span, True))
        stack.extend((child, False) for child in reversed(span.children))
    out.append("</div>")
    return "".join(out)


def _header_html(trace: Trace) -> str:
    parts = [
        f"<b>Trace</b> <code>{escape(_short(trace.trace_id or '(no id)'))}</code>",
        escape(format_duration(trace.duration)),
        _count(len(trace.spans), "span"),
        _status_html(trace.status, always=True),
    ]
    if errors := len(trace.errors):
        parts.append(f'<span style="color:{ERROR_COLOUR}">{_count(errors, "error")}</span>')
    return f'<div style="margin-bottom:4px">{" · ".join(parts)}</div>'


def _span_open_html(span: Span, timeline: _Timeline, values: _Values, open_depth: int) -> str:
    """Everything of one span up to (not including) its children and closing tags."""
    is_open = " open" if span.depth < open_depth else ""
    summary = (
        f'<summary style="{_SUMMARY}">{timeline.bar(span)}{_badge(span.span_type)} '
        f"<b>{escape(_short(span.name))}</b> "
        f'<span style="{_MUTED}">{escape(format_duration(span.duration))}{_tokens(span)}</span>'
        f"{_status_html(span.status)}</summary>"
    )
    body = [_error_html(span, values)]
    if values.max_chars > 0:
        body.append(_value_html("inputs", span.inputs, values))
        body.append(_value_html("outputs", span.outputs, values))
        body.append(_attributes_html(span, values))
    return f'<details{is_open}>{summary}<div style="{_BODY}">{"".join(body)}'


def _badge(span_type: str) -> str:
    colour = TYPE_COLOURS.get(span_type, UNKNOWN_COLOUR)
    return f'<span style="{_BADGE}{colour}">{escape(_short(span_type, 40))}</span>'


def _status_html(status: str, always: bool = False) -> str:
    if status == "OK" and not always:
        return ""
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS["UNSET"])
    weight = ";font-weight:bold" if status == "ERROR" else ""
    prefix = "" if always else " "
    return f'{prefix}<span style="color:{colour}{weight}">{escape(status)}</span>'


def _tokens(span: Span) -> str:
    usage = span.attributes.get(TOKEN_USAGE)
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    if isinstance(total, int) and not isinstance(total, bool):
        return f" · {total:,} tokens"
    return ""


def _error_html(span: Span, values: _Values) -> str:
    if not span.error and span.status != "ERROR":
        return ""
    message = span.error or "failed (no error message)"
    limit = max(values.max_chars, 200)  # an error is always shown, at least its start
    text = message if len(message) <= limit else message[:limit] + f"… [{len(message) - limit:,} more]"
    stack = _stacktrace(span)
    trace_html = ""
    if stack and values.max_chars > 0:
        trace_html = (
            f'<details><summary style="{_SUMMARY};{_LABEL}">traceback</summary>'
            f"{values.pre(stack[-FULL_VALUE_CAP:], cut=False)}</details>"
        )
    return f'<div style="{_ERROR}">{escape(text)}{trace_html}</div>'


def _stacktrace(span: Span) -> str | None:
    for event in span.events:
        if event["name"] == "exception":
            stack = event["attributes"].get("exception.stacktrace")
            if isinstance(stack, str) and stack:
                return stack
    return None


def _value_html(label: str, value: Any, values: _Values) -> str:
    if value is None:
        return ""
    return f'<div style="{_LABEL}">{label}</div>{values.pre(_display(value))}'


def _display(value: Any) -> str:
    try:
        return to_display_text(value)
    except RecursionError:  # a value nested deeper than json can walk
        return "(value too deeply nested to show)"


def _attributes_html(span: Span, values: _Values) -> str:
    shown = {k: v for k, v in span.attributes.items() if k not in _HIDDEN_ATTRIBUTES}
    events = [e for e in span.events if e["name"] != "exception"]
    if events:
        shown["(events)"] = [{"name": e["name"], **e["attributes"]} for e in events]
    if not shown:
        return ""
    return (
        f'<details><summary style="{_SUMMARY};{_LABEL}">attributes ({len(shown)})</summary>'
        f"{values.pre(_display(shown))}</details>"
    )


class _Values:
    """Renders values as escaped ``<pre>`` blocks, cut to size, within one rendering's budget."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max(0, max_chars)
        self.budget = VALUES_BUDGET

    def pre(self, text: str, cut: bool = True) -> str:
        """The text (at most max_chars of it when ``cut``); the rest behind "show all"."""
        limit = self.max_chars if cut else FULL_VALUE_CAP
        head = text[:limit]
        if len(head) > self.budget:
            return f'<div style="{_LABEL}">({len(text):,} characters left out: the trace is too large)</div>'
        self.budget -= len(head)
        if len(text) <= limit:
            return f'<pre style="{_PRE}">{escape(text)}</pre>'
        return f'<pre style="{_PRE}">{escape(head)}…</pre>{self._show_all(text)}'

    def _show_all(self, text: str) -> str:
        full = text[:FULL_VALUE_CAP]
        more = f"{len(text) - self.max_chars:,} more characters"
        if len(full) > self.budget:
            return f'<div style="{_LABEL}">{more} (left out: the trace is too large)</div>'
        self.budget -= len(full)
        if len(text) <= FULL_VALUE_CAP:
            label = f"{more}: show all {len(text):,}"
        else:
            label = f"{more}: show the first {FULL_VALUE_CAP:,} of {len(text):,}"
        body = f'<pre style="{_PRE}">{escape(full)}</pre>'
        return f'<details><summary style="{_SUMMARY};{_LABEL}">{label}</summary>{body}</details>'


class _Timeline:
    """Places spans on the trace's time axis, as percentages of the whole trace."""

    def __init__(self, trace: Trace) -> None:
        self.start = trace.start_time_ns
        end = trace.end_time_ns
        self.total = end - self.start if end is not None and self.start is not None else None

    def bar(self, span: Span) -> str:
        fill = ""
        if self.start is not None and span.start_ns is not None:
            left = self._percent(span.start_ns - self.start)
            width = self._percent(span.end_ns - span.start_ns) if span.end_ns is not None else 0.0
            width = min(width, 100.0 - left)
            colour = ERROR_COLOUR if span.status == "ERROR" else TYPE_COLOURS.get(span.span_type, UNKNOWN_COLOUR)
            offset = format_duration((span.start_ns - self.start) / 1e9)
            fill = (
                f'<span title="+{offset}" style="{_FILL}margin-left:{left:.2f}%;'
                f'width:{width:.2f}%;background:{colour}"></span>'
            )
        return f'<span style="{_TRACK}">{fill}</span>'

    def _percent(self, ns: int) -> float:
        if not self.total or self.total <= 0:
            return 0.0
        return max(0.0, min(100.0, ns / self.total * 100))


# -- text -----------------------------------------------------------------------------------


def trace_to_text(trace: Trace | dict[str, Any], max_value_chars: int = 200) -> str:
    """The trace as an indented text tree; with ``max_value_chars > 0`` inputs/outputs too."""
    trace = _as_trace(trace)
    header = [
        f"Trace {_clean(_short(trace.trace_id or '(no id)'))}",
        format_duration(trace.duration),
        _count(len(trace.spans), "span"),
        trace.status,
    ]
    if errors := len(trace.errors):
        header.append(_count(errors, "error"))
    lines = [" · ".join(header)]
    if not trace.spans:
        lines.append("(no spans)")
    for span, lead, branch in _tree_rows(trace):
        lines.append(f"{lead}{branch}{_span_line(span)}")
        if max_value_chars > 0:
            detail_lead = lead + _continuation(branch) + ("│  " if span.children else "   ")
            for label, value in (("in", span.inputs), ("out", span.outputs)):
                if value is not None:
                    lines.append(f"{detail_lead}{label}: {_one_line(value, max_value_chars)}")
    return "\n".join(lines)


def _tree_rows(trace: Trace) -> Iterator[tuple[Span, str, str]]:
    """(span, indentation, branch glyph) in display order, without recursion."""
    stack: list[tuple[Span, str, str]] = [(root, "", "") for root in reversed(trace.roots)]
    while stack:
        span, lead, branch = stack.pop()
        yield span, lead, branch
        child_lead = lead + _continuation(branch)
        last = len(span.children) - 1
        for i in range(last, -1, -1):
            stack.append((span.children[i], child_lead, "└─ " if i == last else "├─ "))


def _continuation(branch: str) -> str:
    return {"├─ ": "│  ", "└─ ": "   "}.get(branch, "")


def _span_line(span: Span) -> str:
    name, span_type = _clean(_short(span.name)), _clean(_short(span.span_type, 40))
    line = f"{name} [{span_type}] {format_duration(span.duration)}"
    if span.status == "ERROR" or span.error:  # UNSET is the norm for unfinished/legacy spans
        line += " ERROR"
    if span.error:
        line += f": {_one_line(span.error, 160)}"
    return line


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean(text: str) -> str:
    """Agent text made safe for one terminal line: control/bidi characters shown escaped."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _one_line(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            text = repr(value)
    text = _clean(text)
    if len(text) > limit:
        text = text[:limit] + f"… (+{len(text) - limit:,} chars)"
    return text


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
