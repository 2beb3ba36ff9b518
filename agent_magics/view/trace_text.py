"""A trace as a plain-text tree (``repr(trace)``, the text/plain part of a saved answer), bounded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from agent_magics.core.text import shorten
from agent_magics.core.trace import Span, Trace, format_duration, parse_trace

MAX_TEXT_SPANS = 200  # span lines in one text tree; the rest are counted


def _as_trace(trace: Trace | dict[str, Any]) -> Trace:
    return trace if isinstance(trace, Trace) else parse_trace(trace)


def trace_to_text(trace: Trace | dict[str, Any], max_value_chars: int = 200, *, max_spans: int = MAX_TEXT_SPANS) -> str:
    """The trace as an indented text tree; with ``max_value_chars > 0`` inputs/outputs too.

    At most ``max_spans`` spans are listed (a saved notebook carries this text); a last line
    counts the others, which stay on the trace (``.spans``, ``.to_pandas()``).
    """
    trace = _as_trace(trace)
    header = [
        f"Trace {_clean(shorten(trace.trace_id or '(no id)', 200))}",
        format_duration(trace.duration),
        _count(len(trace.spans), "span"),
        trace.status,
    ]
    if errors := len(trace.errors):
        header.append(_count(errors, "error"))
    lines = [" · ".join(header)]
    if not trace.spans:
        lines.append("(no spans)")
    for shown, (span, lead, branch) in enumerate(_tree_rows(trace)):
        if shown >= max_spans:
            lines.append(f"… {_count(len(trace.spans) - shown, 'more span')} not listed (all are in .spans)")
            break
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
    name, span_type = _clean(shorten(span.name, 200)), _clean(shorten(span.span_type, 40))
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
