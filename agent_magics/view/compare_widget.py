"""The ipywidgets view of a comparison (``--view widget``): one column per target, each streaming on its own.

Layout::

    root VBox: row Box (flex, wrapping): slot VBox per target (min width 18em: stacked when narrow)
    slot VBox: the column's live widgets (a ``WidgetView``'s root), then its final static HTML

Each column is the single-answer ``WidgetView`` (its header, its incremental answer blocks, tool
calls and trace section), placed in its slot instead of displayed on its own, with the comparison's
figures (time to first token, tool calls) in its header. When a target finishes, its slot gets the
static, sanitised rendering of its result and its live widgets are closed. When all have finished,
the whole output is replaced, through its display handle, by the static comparison (columns and
the collapsed diff), and every widget is closed: the notebook keeps HTML, no widget state.
ipywidgets 7.8 and 8.x: only ``HTML``, ``Box``/``VBox`` and ``Layout`` traits both have.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_magics.core.events import ItemDone, TextDelta
from agent_magics.view import render
from agent_magics.view.bundles import replace_bundle, show_bundle
from agent_magics.view.compare import render_column_html, render_comparison_html, render_comparison_text
from agent_magics.view.live_widget import RENDERED, WIDGET_VIEW, WidgetView

if TYPE_CHECKING:
    from agent_magics.core.comparison import AgentComparison
    from agent_magics.core.events import Event, Reduction
    from agent_magics.core.result import AgentResult
    from agent_magics.run import View

_ROW = {"display": "flex", "flex_flow": "row wrap", "align_items": "flex-start", "width": "100%"}
_SLOT = {"flex": "1 1 22em", "min_width": "min(18em, 100%)", "max_width": "100%", "margin": "0 .8em .4em 0"}


class _ColumnView(WidgetView):
    """One target's column: the single-answer widget view, opened inside a slot of the comparison."""

    def __init__(self, owner: CompareWidgetView, index: int, **tuning: Any) -> None:
        super().__init__(**tuning)
        self._owner = owner
        self._index = index
        self._first_text: float | None = None
        self._tool_calls = 0

    # -- the View interface, serialised: ipywidgets state is changed from one thread per target ----
    def start(self, target: str) -> None:
        with self._owner.lock:
            super().start(target)

    def on_event(self, state: Reduction, event: Event) -> None:
        with self._owner.lock:
            if type(event) is TextDelta and event.delta and self._first_text is None:
                self._first_text = self._clock() - self._t0
                self._state = "streaming"  # the header shows the first-token time at once
            elif isinstance(event, ItemDone) and event.item.get("type") == "function_call":
                self._tool_calls += 1
            super().on_event(state, event)

    def finish(self, result: AgentResult) -> None:
        with self._owner.lock:
            if not self._finished:  # a worker stopped late may finish after the comparison did
                super().finish(result)

    def close(self) -> None:
        """Stop showing (the comparison is over): nothing more is sent, every live widget is closed."""
        if self._started and not self._finished:
            self._close_widgets()
        self._finished = True

    # -- WidgetView hooks --------------------------------------------------------------------------
    def _open(self, header_html: str) -> None:
        # WidgetView's widgets, but the root goes into this column's slot instead of its own output.
        self._build(header_html)
        self._handle = None
        self._owner.place(self._index, self._root)

    def _header_html(self, now: float) -> str:
        details = [self._note] if self._note else []
        if self._first_text is not None:
            details.append(f"first token {render.fmt_seconds(self._first_text)}")
        if self._tool_calls:
            details.append(f"{self._tool_calls} tool call{'s' if self._tool_calls > 1 else ''}")
        return render.header_html(self._target, self._state, elapsed=now - self._t0, chars=self._chars, details=details)

    def _finish(self, result: AgentResult) -> None:
        self._replace({"text/html": render_column_html(result)})

    def _replace(self, bundle: dict[str, str]) -> None:
        self._owner.place(self._index, self._owner.static(bundle["text/html"]))
        self._close_widgets()


class CompareWidgetView:
    """Columns of ipywidgets, one per target; ``views()`` gives the per-target ``run.View``s."""

    def __init__(
        self, targets: list[str], *, max_rate: float = 8.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        import ipywidgets

        self._ipw = ipywidgets
        self.targets = list(targets)
        self.lock = threading.RLock()
        self._states = ["connecting"] * len(targets)
        self._extra: list[Any] = []  # the static HTML widgets of finished columns
        # The classes of the static columns: the same selectors find the live and the final columns.
        self._slots = [
            ipywidgets.VBox(children=(), layout=ipywidgets.Layout(**_SLOT), _dom_classes=("am-compare-column",))
            for _ in targets
        ]
        self._row = ipywidgets.Box(
            children=tuple(self._slots), layout=ipywidgets.Layout(**_ROW), _dom_classes=("am-compare",)
        )
        self._root = ipywidgets.VBox(children=(self._row,))
        self.columns = [_ColumnView(self, i, max_rate=max_rate, clock=clock) for i in range(len(targets))]
        self._handle = show_bundle(
            {
                "text/plain": self._plain(),
                WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": self._root.model_id},
            }
        )

    def views(self) -> list[View]:
        return list(self.columns)

    def _plain(self) -> str:
        return " | ".join(f"{target}: {state}" for target, state in zip(self.targets, self._states))

    def place(self, index: int, widget: Any) -> None:
        with self.lock:
            self._slots[index].children = (widget,)

    def static(self, html: str) -> Any:
        widget = self._ipw.HTML(value=html, _dom_classes=RENDERED)
        self._extra.append(widget)
        return widget

    def finish(self, comparison: AgentComparison) -> None:
        """The static comparison in place of the widgets (what the saved notebook keeps); all closed."""
        with self.lock:
            bundle = {"text/plain": render_comparison_text(comparison), "text/html": render_comparison_html(comparison)}
            replace_bundle(self._handle, bundle)
            for column in self.columns:
                column.close()
            for widget in (*self._extra, *self._slots, self._row, self._root):
                _close(widget)


def _close(widget: Any) -> None:
    """A widget and the Layout / style widgets it made: closed widgets leave no state behind."""
    for part in (widget, getattr(widget, "layout", None), getattr(widget, "style", None)):
        if part is not None:
            part.close()
