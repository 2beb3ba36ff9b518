"""The trace panel's time axis and span bars (a waterfall, as in the MLflow trace UI).

Offsets and widths are percentages of the trace's duration, so the axis above the rows and every
row's bar share one scale: a bar's ``margin-left`` is its start offset, its ``width`` its duration.
"""

from __future__ import annotations

from agent_magics.core.trace import Span, Trace, format_duration
from agent_magics.view import trace_style as st
from agent_magics.view.sanitize import escape

TICKS = 4  # the axis is cut in quarters: ticks at 0, ¼, ½ and ¾ of the duration


class Timeline:
    """Places spans on the trace's time axis."""

    def __init__(self, trace: Trace) -> None:
        self.start = trace.start_time_ns
        end = trace.end_time_ns
        self.total = end - self.start if end is not None and self.start is not None else None

    def axis_html(self) -> str:
        """The row above the spans: the name and duration columns' headings, then the time ticks."""
        heads = (
            f'<span style="{st.NAME_CELL}"><span style="{st.MARKER}"></span>span</span>'
            f'<span style="{st.META_CELL}">duration</span>'
        )
        if not self.total or self.total <= 0:
            ticks = '<span style="opacity:0.7">(no timings)</span>'
        else:
            ticks = "".join(self._tick(i) for i in range(TICKS))
        return f'<div class="am-trace-axis" style="{st.AXIS}">{heads}<span style="{st.AXIS_TRACK}">{ticks}</span></div>'

    def _tick(self, i: int) -> str:
        assert self.total is not None
        # The end is not labelled: the header says the duration, and a narrow quarter has no room.
        label = format_duration(self.total * i / TICKS / 1e9) if i else "0"
        return f'<span class="am-trace-tick" style="{st.TICK}">{escape(label)}</span>'

    def bar_html(self, span: Span) -> str:
        """The span's track: a bar at its start offset, as wide as its duration (a marker if unfinished)."""
        fill = ""
        # No scale (every span unfinished, or no times): no bar, rather than all at 0 as if they had one.
        if self.total and self.total > 0 and self.start is not None and span.start_ns is not None:
            left = self.percent(span.start_ns - self.start)
            width = self.percent(span.end_ns - span.start_ns) if span.end_ns is not None else 0.0
            width = min(width, 100.0 - left)
            colour = st.ERROR_COLOUR if span.status == "ERROR" else st.type_colour(span.span_type)
            fill = (
                f'<span class="am-trace-bar" style="{st.BAR}margin-left:{left:.2f}%;'
                f'width:{width:.2f}%;background:{colour}"></span>'
            )
        return f'<span style="{st.TRACK}">{fill}</span>'

    def offset(self, span: Span) -> str:
        """``+12.5 ms``: when the span started, after the trace did."""
        if self.start is None or span.start_ns is None:
            return "?"
        return "+" + format_duration((span.start_ns - self.start) / 1e9)

    def percent(self, ns: int) -> float:
        if not self.total or self.total <= 0:
            return 0.0
        return max(0.0, min(100.0, ns / self.total * 100))
