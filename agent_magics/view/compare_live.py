"""Live views of a comparison: several answers streaming at once, from one thread per target.

* ``ColumnsView`` (display outputs, the default in kernels): one output holding a column per target
  (header with status, time to first token, tool calls; the tool calls, the text so far, an error,
  the trace), refreshed at most ``max_rate`` times a second whichever column changed, and replaced
  at the end by the static comparison (``compare.render_comparison_html``). A comparison is a few short answers side by
  side, so each refresh renders every column again: simple, and bounded by the rate.
* ``CompareWidgetView`` (``--view widget``, in ``compare_widget.py``): ipywidgets columns, each the
  single-answer widget view.
* ``FinishOrderTextView`` (terminals, ``--view text``): each answer printed whole, labelled, in the
  order the targets finish.

``views()`` gives the per-target ``run.View`` objects that ``run.compare`` drives.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from agent_magics.core.comparison import AgentComparison
from agent_magics.core.errors import AgentUsageError
from agent_magics.core.events import ErrorEvent, Event, ItemDone, Reduction, TextDelta, TraceReceived
from agent_magics.core.result import AgentResult
from agent_magics.run import View
from agent_magics.view.bundles import replace_bundle, show_bundle
from agent_magics.view.coalesce import Coalescer
from agent_magics.view.compare import columns_html, render_column_html, render_comparison_html, render_comparison_text
from agent_magics.view.render import (
    answer_html,
    error_html,
    fmt_seconds,
    header_html,
    render_result_text,
    tool_entry_html,
    trace_section_html,
)


class _Column:
    """What one target's column shows while it streams: header, tool calls, text so far, error, trace."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.state = "connecting"
        self.chunks: list[str] = []  # the text so far; joined only when shown
        self.calls: list[list[dict[str, Any] | None]] = []  # [call, output] in the order they came
        self.error: str | None = None
        self.trace: tuple[dict[str, Any] | None, str | None] | None = None
        self.started = time.monotonic()
        self.first_text: float | None = None
        self.result: AgentResult | None = None

    @property
    def tools(self) -> list[str]:
        return [str(call.get("name", "")) for call, _ in self.calls if call is not None]

    def add_item(self, item: dict[str, Any]) -> None:
        kind = item.get("type")
        if kind == "function_call":
            self.calls.append([item, None])
        elif kind == "function_call_output":
            for entry in self.calls:
                call = entry[0]
                if entry[1] is None and call is not None and call.get("call_id") == item.get("call_id"):
                    entry[1] = item
                    return
            self.calls.append([None, item])

    def html(self) -> str:
        if self.result is not None:
            return render_column_html(self.result)
        details = []
        if self.first_text is not None:
            details.append(f"first token {fmt_seconds(self.first_text)}")
        if self.calls:
            details.append(f"{len(self.tools)} tool call{'' if len(self.tools) == 1 else 's'}")
        text = "".join(self.chunks)
        parts = [header_html(self.target, self.state, elapsed=time.monotonic() - self.started, details=details)]
        if self.error:
            parts.append(error_html("failed", self.error, len(text)))
        parts += [tool_entry_html(call, output, live=output is None) for call, output in self.calls]
        if text:
            parts.append(answer_html(text))
        if self.trace is not None:
            parts.append(trace_section_html(*self.trace))
        return "".join(parts)


class _TargetView:
    """The ``run.View`` of one column: folds what the engine reports into the shared comparison view."""

    def __init__(self, owner: ColumnsView | FinishOrderTextView, column: _Column) -> None:
        self._owner = owner
        self._column = column

    def start(self, target: str) -> None:
        self._column.started = time.monotonic()

    def on_event(self, state: Reduction, event: Event) -> None:
        with self._owner.lock:  # rendered from whichever target's thread is due
            column = self._column
            column.state = "streaming"
            if isinstance(event, TextDelta) and event.delta:
                if column.first_text is None:
                    column.first_text = time.monotonic() - column.started
                column.chunks.append(event.delta)
                self._owner.new_chars += len(event.delta)
            elif isinstance(event, ItemDone):
                column.add_item(event.item)
            elif isinstance(event, ErrorEvent):
                column.error = state.error
            elif isinstance(event, TraceReceived):
                column.trace = (state.trace, state.trace_id)
        self._owner.changed()

    def finish(self, result: AgentResult) -> None:
        self._column.result = result
        self._owner.finished(self._column)


OVERHEAD = 650  # bytes of one Jupyter message beyond its content (as LiveView.OVERHEAD)
SMOOTH_GAP = 0.25  # seconds: at least 4 refreshes a second while text arrives...
BYTES_PER_SECOND = 64_000  # ...unless that would send more than this (each refresh re-sends every column)


class ColumnsView:
    def __init__(self, targets: list[str], *, max_rate: float = 8.0, clock: Callable[[], float] = time.monotonic):
        self.columns = [_Column(target) for target in targets]
        # Every refresh re-sends all the columns: paid from the same byte budget as the single-answer
        # views (LiveView), with a smoothness floor (_smooth_due), so long answers refresh less often
        # instead of costing O(n²) bytes.
        self._coalescer = Coalescer(max_rate)
        self.new_chars = 0  # answer characters since the last refresh, all columns
        self._last_cost = 0
        self._clock = clock
        self.lock = threading.RLock()  # columns change from one thread per target
        self._done = False  # after finish(): a worker stopped late must not overwrite the comparison
        self._handle: Any = show_bundle(self._bundle())

    def views(self) -> list[View]:
        return [_TargetView(self, column) for column in self.columns]

    def _bundle(self) -> dict[str, str]:
        plain = " | ".join(f"{c.target}: {c.result.status if c.result else c.state}" for c in self.columns)
        return {"text/plain": plain, "text/html": columns_html([c.html() for c in self.columns])}

    def changed(self) -> None:
        with self.lock:
            now = self._clock()
            # Not the single-answer coalescer's 0.2 s period: every refresh re-sends all the columns,
            # so _smooth_due spaces them by their size (the coalescer counts what went out).
            if self._done or not self._smooth_due(now):
                return
            self._send(now)

    def _smooth_due(self, now: float) -> bool:
        """Text is arriving and the last refresh is SMOOTH_GAP old, or older when a refresh is big:
        what streams stays smooth while the comparison's bytes stay under ~BYTES_PER_SECOND."""
        last = self._coalescer.last
        if last is None:
            return True
        return self.new_chars > 0 and now - last >= max(SMOOTH_GAP, self._last_cost / BYTES_PER_SECOND)

    def finished(self, column: _Column) -> None:
        with self.lock:
            if self._done:
                return
            self._send(self._clock())

    def _send(self, now: float) -> None:
        bundle = self._bundle()
        replace_bundle(self._handle, bundle)
        self._last_cost = OVERHEAD + sum(len(part) for part in bundle.values())
        self._coalescer.mark(now, self.new_chars, self._last_cost)
        self.new_chars = 0

    def finish(self, comparison: AgentComparison) -> None:
        """The static comparison, through the same display handle: what the saved notebook keeps."""
        with self.lock:
            self._done = True
            bundle = {"text/plain": render_comparison_text(comparison), "text/html": render_comparison_html(comparison)}
            replace_bundle(self._handle, bundle)


class FinishOrderTextView:
    def __init__(self, targets: list[str], out: TextIO | None = None) -> None:
        self.columns = [_Column(target) for target in targets]
        self._out = out
        self.new_chars = 0  # counted by the target views, as for ColumnsView; unused here
        self._done = False
        self.lock = threading.RLock()

    def views(self) -> list[View]:
        return [_TargetView(self, column) for column in self.columns]

    def changed(self) -> None:
        pass

    def finished(self, column: _Column) -> None:
        assert column.result is not None
        with self.lock:
            if self._done:  # a worker stopped late: the comparison is over
                return
            out = self._out or sys.stdout
            out.write(f"── {column.target} ──\n{render_result_text(column.result)}\n\n")
            out.flush()

    def finish(self, comparison: AgentComparison) -> None:
        self._done = True


def make_comparison_view(mode: str, targets: list[str], *, max_rate: float = 8.0) -> Any:
    """``display`` (columns of display outputs), ``widget`` (ipywidgets columns), ``text``; ``auto`` detects.

    Each has ``views()`` (the per-target ``run.View``s) and ``finish(comparison)``.
    """
    if mode == "auto":
        from agent_magics.view.live import detect_mode

        mode = detect_mode()
    if mode == "text":
        return FinishOrderTextView(targets)
    if mode == "widget":
        import importlib.util

        if importlib.util.find_spec("ipywidgets") is None:
            raise AgentUsageError("--view widget needs ipywidgets (pip install ipywidgets); or use --view display.")
        from agent_magics.view.compare_widget import CompareWidgetView

        return CompareWidgetView(targets, max_rate=max_rate)
    if mode in ("display", "stream"):  # the columns are display outputs in both
        return ColumnsView(targets, max_rate=max_rate)
    raise AgentUsageError(f"unknown view {mode!r}: expected auto, widget, display, stream or text.")
