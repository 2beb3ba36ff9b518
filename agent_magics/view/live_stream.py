"""The stream view: the display view, with the block being written in a small widget that patches it.

The display view re-sends the whole unfinished block on every update (a display update replaces
an output), which for a long paragraph or code block adds up to a few times the answer. Here that
output shows a ``LiveTail`` widget instead, and each update sends only what changed at its end
(``html_patch``). When the block is finished, the output is replaced by the block's static HTML,
the widget is closed, and what remains is exactly what the display view leaves: static outputs
that a reopened notebook, nbconvert or GitHub show as they were.

So each character goes out about twice: once as it streams, once in its finished block. It needs
the anywidget frontend (``pip install anywidget`` where Jupyter runs); elsewhere use the display view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_magics.view.bundles import replace_bundle, show_bundle
from agent_magics.view.live_display import DisplayView, _bundle, _Output
from agent_magics.view.live_widget import WIDGET_VIEW

if TYPE_CHECKING:
    from agent_magics.core.result import AgentResult

PATCH_COST = 60  # bytes of a patch message's content beyond the text it adds


class StreamView(DisplayView):
    def _open(self, header_html: str) -> None:
        super()._open(header_html)
        # One LiveTail for the whole answer: each new tail output shows it again, reset to the new
        # block (a widget per block would cost two comm_opens, the script and a layout, per block).
        self._widget: Any = None
        self._live = False  # does the tail output show the widget now (rather than static HTML)?

    def _set_tail(self, html: str) -> None:
        if not html:
            if self._tail is not None:
                self._settle(self._tail, "")  # kept: the next block or tail fills it
            return
        if self._tail is None:
            self._tail = self._show_live(html, None)
            self._current_message().outputs.append(self._tail)
        elif not self._live:  # an emptied tail output, filled again
            self._show_live(html, self._tail)
        elif html != self._tail.html:  # (an update for something else, e.g. the header: no patch)
            wrapped, shown = _bundle(html)["text/html"], _bundle(self._tail.html)["text/html"]
            self._spend(PATCH_COST + self._widget.show(wrapped, shown))
            self._tail.html = html

    def _show_live(self, html: str, output: _Output | None) -> _Output:
        """The widget, showing ``html``, in a new output or in place of ``output``'s content."""
        wrapped = _bundle(html)["text/html"]  # the same HTML the finished block will have
        if self._widget is None:
            from agent_magics.view.live_widget import WidgetView
            from agent_magics.view.stream_widget import ESM, LiveTail

            self._widget = LiveTail(html=wrapped)
            self._spend(WidgetView.WIDGET_STATE * 2 + len(ESM) + len(wrapped))  # it, its script and its layout
        else:
            self._widget.restart(wrapped)
            self._spend(PATCH_COST + len(wrapped))
        bundle = {
            "text/plain": "",
            WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": self._widget.model_id},
        }
        self._spend(len(str(bundle)))
        self._live = True
        if output is None:
            return _Output(show_bundle(bundle), html)
        replace_bundle(output.handle, bundle)
        output.html, output.visible = html, True
        return output

    def _settle(self, tail: _Output, html: str) -> None:
        """Replace the widget by static HTML: always sent (the notebook keeps only static outputs)."""
        if not self._live:
            super()._settle(tail, html)
            return
        self._update(tail, html, force=True)
        self._live = False

    def _finish(self, result: AgentResult) -> None:
        try:
            super()._finish(result)
        finally:
            # Whatever happened (an interrupt during finish() included), no output is left showing a
            # closed widget ("model not found" in the saved notebook), and no widget state is left.
            if self._live and self._tail is not None:
                self._settle(self._tail, self._tail.html)
            widget, self._widget = self._widget, None
            if widget is not None:
                widget.layout.close()
                widget.close()
