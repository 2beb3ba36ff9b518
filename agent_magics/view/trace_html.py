"""A trace as static HTML a reader can scan, in the manner of the MLflow trace UI.

A header line (id, duration, span count, status, tokens, errors), a time axis, then one row per
span in tree order: type badge and name indented by depth, duration and tokens, and a bar placed
at the span's start offset and sized by its duration. Rows are siblings, not nested, so the root
span's row is one line like the others and every tool and model span is visible at once; clicking
a row (a ``<details>``, no script) opens that span's details (``trace_details``).

What a panel saves is bounded: the first ``max_spans`` rows, a summary of the rest (with their
errors shown as rows), values cut with their full size stated (``trace_values``); the whole trace
stays on the result object. Styles are inline (``trace_style``); names, inputs, outputs, errors and
attributes are agent data and reach the markup only through ``escape``; the panel is marked for
MathJax to skip.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from agent_magics.core.text import shorten
from agent_magics.core.trace import Span, Trace, format_duration, parse_trace
from agent_magics.view import trace_style as st
from agent_magics.view.sanitize import NO_MATH, escape
from agent_magics.view.trace_details import details_html, usage_text
from agent_magics.view.trace_text import trace_to_text
from agent_magics.view.trace_timeline import Timeline
from agent_magics.view.trace_values import EXPAND_CHARS, PANEL_BUDGET, WHOLE_TRACE, Budget

__all__ = ["EXPAND_CHARS", "MAX_SPANS", "PANEL_BUDGET", "trace_to_html", "trace_to_text"]

MAX_SPANS = 100  # span rows in one panel; the rest are summarised
# Characters of one panel: rows stop before it, whatever the values' budget let through (names,
# errors, markup), so that a saved answer stays under 1 MB.
MAX_PANEL_CHARS = 700_000
MAX_HIDDEN_ERRORS = 10  # failed spans past the first rows still get a row of their own


def _as_trace(trace: Trace | dict[str, Any]) -> Trace:
    return trace if isinstance(trace, Trace) else parse_trace(trace)


def trace_to_html(
    trace: Trace | dict[str, Any], *, max_value_chars: int = 2000, open_depth: int = 0, max_spans: int = MAX_SPANS
) -> str:
    """Static HTML for a trace (see the module docstring).

    ``max_value_chars`` is how much of each value shows before a "more" toggle (0: no values);
    spans shallower than ``open_depth`` start open (by default none: every row is one line);
    ``max_spans`` rows at most are rendered.
    """
    trace = _as_trace(trace)
    timeline = Timeline(trace)
    budget = Budget(max_value_chars)
    out = [f'<div class="am-trace {NO_MATH}" style="{st.ROOT}">', _header_html(trace)]
    if not trace.spans:
        out.append(f'<div style="{st.MUTED}">(no spans)</div>')
    else:
        out.append(timeline.axis_html())
        shown, size = 0, sum(map(len, out))
        for span in tree_order(trace):
            if shown >= max(0, max_spans):
                break
            row = _row_html(span, timeline, budget, open_depth)
            if size + len(row) > MAX_PANEL_CHARS:
                break
            out.append(row)
            shown, size = shown + 1, size + len(row)
        if shown < len(trace.spans):
            out.append(_rest_html(trace, shown, timeline, budget, open_depth, MAX_PANEL_CHARS - size))
    out.append("</div>")
    return "".join(out)


def tree_order(trace: Trace) -> Iterator[Span]:
    """Spans depth first from each root, children in start order (iterative: traces can be deep)."""
    for root in trace.roots:
        yield from root.walk()


def _header_html(trace: Trace) -> str:
    parts = [
        f"<b>Trace</b> <code>{escape(shorten(trace.trace_id or '(no id)', 200))}</code>",
        escape(format_duration(trace.duration)),
        _count(len(trace.spans), "span"),
        _status_html(trace.status),
    ]
    if usage := usage_text(trace.usage):
        parts.append(escape(usage))
    if errors := len(trace.errors):
        parts.append(f'<span style="color:{st.ERROR_COLOUR};font-weight:bold">{_count(errors, "error")}</span>')
    return f'<div class="am-trace-header" style="{st.HEADER}">{" · ".join(parts)}</div>'


def _status_html(status: str) -> str:
    colour = st.STATUS_COLOURS.get(status, st.STATUS_COLOURS["UNSET"])
    weight = ";font-weight:bold" if status != "OK" else ""
    return f'<span style="color:{colour}{weight}">{escape(status)}</span>'


def _row_html(span: Span, timeline: Timeline, budget: Budget, open_depth: int) -> str:
    """One span: a one-line summary (name, duration, bar) and, behind it, its details."""
    failed = span.status == "ERROR" or bool(span.error)
    row_style = st.ROW + (";" + st.ERROR_ROW if failed else "")
    is_open = " open" if span.depth < open_depth else ""
    indent = min(span.depth, st.MAX_INDENT_LEVELS) * st.INDENT_PX
    name = (
        f'<span style="{st.NAME_CELL}"><span style="{st.MARKER}">▸</span>'
        f'<span style="display:inline-block;width:{indent}px"></span>{_badge(span.span_type)} '
        f'<b class="am-span-name">{escape(shorten(span.name, 120))}</b></span>'
    )
    meta = [escape(format_duration(span.duration) if span.end_ns is not None else "unfinished")]
    usage = span.usage
    if usage and "total_tokens" in usage:
        meta.append(f"{usage['total_tokens']:,} tok")
    if failed:  # a span with an exception event may not say ERROR in its status: it failed
        meta.append(f'<span style="color:{st.ERROR_COLOUR};font-weight:bold">ERROR</span>')
    elif span.status not in ("OK", "UNSET"):
        meta.append(_status_html(span.status))
    summary = (
        f'<summary style="{st.SUMMARY}">{name}<span style="{st.META_CELL}">{" · ".join(meta)}</span>'
        f"{timeline.bar_html(span)}</summary>"
    )
    body = details_html(span, timeline, budget)
    return f'<details class="am-span" style="{row_style}"{is_open}>{summary}{body}</details>'


def _badge(span_type: str) -> str:
    style = st.BADGE + st.type_colour(span_type)
    return f'<span class="am-span-type" style="{style}">{escape(shorten(span_type, 40))}</span>'


def _rest_html(trace: Trace, shown: int, timeline: Timeline, budget: Budget, open_depth: int, room: int) -> str:
    """The spans past the first rows: counted by type, their errors given rows of their own (in
    ``room`` characters)."""
    rest = list(tree_order(trace))[shown:]
    types = Counter(span.span_type for span in rest)
    by_type = ", ".join(f"{count:,} {escape(shorten(kind, 40))}" for kind, count in types.most_common(6))
    if len(types) > 6:
        by_type += ", …"
    failed = [span for span in rest if span.status == "ERROR" or span.error]
    note = f"{_count(len(rest), 'more span')} not shown ({by_type})"
    if failed:
        note += (
            f'; <span style="color:{st.ERROR_COLOUR};font-weight:bold">{_count(len(failed), "error")}</span> among them'
        )
        if len(failed) > MAX_HIDDEN_ERRORS:
            note += f", the first {MAX_HIDDEN_ERRORS} below"
        else:
            note += " below"
    note += f". {escape(WHOLE_TRACE.capitalize())}: <code>.spans</code>, <code>.to_pandas()</code>."
    rows = []
    room -= len(note) + 200
    for span in failed[:MAX_HIDDEN_ERRORS]:
        row = _row_html(span, timeline, budget, open_depth)
        room -= len(row)
        if room < 0:
            break
        rows.append(row)
    return f'<div class="am-trace-rest" style="{st.NOTE}">{note}</div>{"".join(rows)}'


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
