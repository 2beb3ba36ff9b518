"""Static rendering of an ``AgentComparison``: the answers in columns (stacked when narrow), and their diff.

Each column is a target's whole static rendering (``render.render_result_html``: sanitised like every
other answer). Columns are a wrapping flex row with a minimum width, so a narrow output area stacks
them instead of squeezing them; inline styles only, as everywhere (they survive nbconvert and GitHub).
"""

from __future__ import annotations

from typing import Any

from agent_magics.view.render import ROOT_STYLE, fmt_seconds, render_result_text, result_parts
from agent_magics.view.sanitize import NO_MATH, escape

_ROW = "display:flex;flex-wrap:wrap;gap:.8em;align-items:flex-start;"
# min(): never wider than a narrow output area (stacked columns are clipped otherwise).
_COLUMN = "flex:1 1 22em;min-width:min(18em,100%);max-width:100%;overflow-x:auto;"
_FIGURES = "font-size:.8em;opacity:0.75;margin:-.2em 0 .3em 0;"
_DIFF = "max-height:24em;overflow:auto;font-size:.85em;white-space:pre-wrap;margin:.2em 0;"


def column_html(inner: str) -> str:
    return f'<div class="am-compare-column" style="{_COLUMN}">{inner}</div>'


def columns_html(columns: list[str]) -> str:
    inner = "".join(column_html(c) for c in columns)
    return f'<div class="am-compare {NO_MATH}" style="{ROOT_STYLE}{_ROW}">{inner}</div>'


def diff_html(comparison: Any) -> str:
    """The two answers' line diff, collapsed under the columns (two targets only)."""
    if len(comparison) != 2:
        return ""
    diff = comparison.diff(0, 1)
    body = escape(diff) if diff else "(the two answers are the same)"
    return (
        f'<details class="am-diff {NO_MATH}"><summary>diff: {escape(comparison.targets[0])} → '
        f"{escape(comparison.targets[1])}</summary>"
        f'<pre class="am-pre" style="{_DIFF}">{body}</pre></details>'
    )


def figures(result: Any) -> str:
    """What a reader compares first: time to first token, duration, tokens, tool calls (in order)."""
    timings, usage = result.timings or {}, result.usage
    parts = []
    if timings.get("first_text") is not None:
        parts.append(f"first token {fmt_seconds(timings['first_text'])}")
    total = timings.get("total", result.elapsed)
    if total is not None:
        parts.append(f"total {fmt_seconds(total)}")
    if usage:
        parts.append(f"tokens {usage.get('input_tokens', '?')} in / {usage.get('output_tokens', '?')} out")
    parts.append(tool_call_line(result))
    return " · ".join(parts)


def tool_call_line(result: Any) -> str:
    """The tool calls in order: the one figure a column compares that its header does not show."""
    names = [str(call.get("name", "")) for call in result.tool_calls]
    return f"{len(names)} tool call{'' if len(names) == 1 else 's'}" + (f": {', '.join(names)}" if names else "")


def column_figures(result: Any) -> str:
    # First token, duration and tokens are in the column's header already (render.result_metrics).
    return f'<div class="am-figures {NO_MATH}" style="{_FIGURES}">{escape(tool_call_line(result))}</div>'


def render_column_html(result: Any) -> str:
    """A result's static rendering with the comparison's figures under its header."""
    parts = result_parts(result)
    html = parts[0].html + column_figures(result) + "".join(part.html for part in parts[1:])
    return f'<div class="agent-magics-result {NO_MATH}" style="{ROOT_STYLE}">{html}</div>'


def render_comparison_html(comparison: Any) -> str:
    return columns_html([render_column_html(result) for result in comparison]) + diff_html(comparison)


def render_comparison_text(comparison: Any) -> str:
    """One labelled block per target, in target order."""
    blocks = [f"── {result.target} ──\n{render_result_text(result)}\n({figures(result)})" for result in comparison]
    return "\n\n".join(blocks)
