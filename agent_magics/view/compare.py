"""Static rendering of an ``AgentComparison``: the answers in columns (stacked when narrow), and their diff.

Each column is a target's whole static rendering (``render.render_result_html``: sanitised like every
other answer). Columns are a wrapping flex row with a minimum width, so a narrow output area stacks
them instead of squeezing them; inline styles only, as everywhere (they survive nbconvert and GitHub).
"""

from __future__ import annotations

from typing import Any

from agent_magics.view.render import ROOT_STYLE, render_result_html, render_result_text
from agent_magics.view.sanitize import escape

_ROW = "display:flex;flex-wrap:wrap;gap:.8em;align-items:flex-start;"
_COLUMN = "flex:1 1 22em;min-width:18em;max-width:100%;overflow-x:auto;"
_DIFF = "max-height:24em;overflow:auto;font-size:.85em;white-space:pre-wrap;margin:.2em 0;"


def column_html(inner: str) -> str:
    return f'<div class="am-compare-column" style="{_COLUMN}">{inner}</div>'


def columns_html(columns: list[str]) -> str:
    return f'<div class="am-compare" style="{ROOT_STYLE}{_ROW}">{"".join(column_html(c) for c in columns)}</div>'


def diff_html(comparison: Any) -> str:
    """The two answers' line diff, collapsed under the columns (two targets only)."""
    if len(comparison) != 2:
        return ""
    diff = comparison.diff(0, 1)
    body = escape(diff) if diff else "(the two answers are the same)"
    return (
        f"<details><summary>diff: {escape(comparison.targets[0])} → {escape(comparison.targets[1])}</summary>"
        f'<pre class="am-pre" style="{_DIFF}">{body}</pre></details>'
    )


def render_comparison_html(comparison: Any) -> str:
    return columns_html([render_result_html(result) for result in comparison]) + diff_html(comparison)


def render_comparison_text(comparison: Any) -> str:
    """One labelled block per target, in target order."""
    blocks = [f"── {result.target} ──\n{render_result_text(result)}" for result in comparison]
    return "\n\n".join(blocks)
