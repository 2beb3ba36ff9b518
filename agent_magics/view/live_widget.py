"""The ipywidgets live view (ipywidgets 7.8 and 8.x: only ``HTML``, ``VBox`` and their traits).

Layout::

    root VBox: header HTML, [error HTML], body VBox, [custom HTML], [trace HTML]
    body VBox: group VBox, group VBox, ..., tail HTML
    group VBox: up to GROUP finished pieces (answer blocks, tool entries), each an HTML widget

A finished piece is sent once, in its own widget; only the tail (the unfinished end of the answer)
is re-sent on updates. Pieces go into groups so that appending one re-sends at most GROUP child ids,
not the id list of the whole answer. All HTML widgets share one Layout and one style widget, so a
new piece costs one comm message, not three.

At the end the display handle is updated with the static bundle (HTML + text/plain), which is what
the notebook keeps, and every widget is closed so no widget state is left behind.
"""

from __future__ import annotations

from typing import Any

from agent_magics.view.bundles import replace_bundle, show_bundle
from agent_magics.view.live_base import LiveView
from agent_magics.view.render import header_text

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RENDERED = ("jp-RenderedHTMLCommon",)

_SECTIONS_BEFORE_BODY = ("error",)
_SECTIONS_AFTER_BODY = ("custom", "trace")


class WidgetView(LiveView):
    GROUP = 16
    WIDGET_STATE = 1100  # a comm_open beyond its envelope and value: the other traits, and its comm_close
    CHILD_ID = 40  # one "IPY_MODEL_<id>" in a children list
    FREEZE_COST = WIDGET_STATE + CHILD_ID * GROUP + LiveView.OVERHEAD  # a new HTML widget, a children list

    def _open(self, header_html: str) -> None:
        self._build(header_html)
        # The bundle is built here rather than by display(widget): ipywidgets 7 displays through
        # _ipython_display_, which drops display_id (so the widget could never be replaced), and
        # its text/plain would be the widget repr.
        bundle = {
            "text/plain": header_text(self._target, self._state, elapsed=None, chars=self._chars),
            WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": self._root.model_id},
        }
        self._handle = show_bundle(bundle)

    def _build(self, header_html: str) -> None:
        """The widgets: a header, then (once there is something to show) the answer and sections."""
        import ipywidgets

        self._ipw = ipywidgets
        self._widgets: list[Any] = []  # everything created, closed at the end
        # JupyterLab's class for rendered HTML outputs: the live answer gets the same typography
        # (code blocks, tables) as the final static output; harmless in other frontends.
        self._header = ipywidgets.HTML(value=header_html, _dom_classes=RENDERED)
        self._layout, self._style = self._header.layout, self._header.style
        self._tail = self._html("")
        self._groups: list[Any] = []
        self._body = self._box((self._tail,))
        self._sections: dict[str, Any] = {}
        self._root = self._box((self._header,))

    def _html(self, value: str) -> Any:
        widget = self._ipw.HTML(value=value, layout=self._layout, style=self._style, _dom_classes=RENDERED)
        self._widgets.append(widget)
        self._spend(self.WIDGET_STATE + len(value))  # comm_open with the widget's whole state
        return widget

    def _box(self, children: tuple[Any, ...]) -> Any:
        box = self._ipw.VBox(children=children, layout=self._layout)
        self._widgets.append(box)
        self._spend(self.WIDGET_STATE)
        return box

    # -- hooks ---------------------------------------------------------------------------------------
    def _add(self, html: str, kind: str = "message") -> Any:
        widget = self._html(html)
        if self._groups and len(self._groups[-1].children) < self.GROUP:
            group = self._groups[-1]
            group.children = (*group.children, widget)
        else:
            self._groups.append(self._box((widget,)))
            self._body.children = (*self._groups, self._tail)
        self._spend(self.CHILD_ID * self.GROUP)  # a children list re-sent
        self._refresh_root()
        return widget

    def _set(self, token: Any, html: str) -> None:
        self._set_value(token, html)

    def _set_tail(self, html: str) -> None:
        if self._tail.value != html:
            self._set_value(self._tail, html)
            self._refresh_root()

    def _set_header(self, html: str) -> None:
        self._set_value(self._header, html)

    def _set_section(self, name: str, html: str) -> None:
        widget = self._sections.get(name)
        if widget is None:
            self._sections[name] = self._html(html)
            self._refresh_root()
        elif widget.value != html:
            self._set_value(widget, html)

    def _set_value(self, widget: Any, html: str) -> None:
        widget.value = html
        self._spend(len(html))

    def _refresh_root(self) -> None:
        children = [self._header]
        children += [self._sections[n] for n in _SECTIONS_BEFORE_BODY if n in self._sections]
        if self._groups or self._tail.value:
            children.append(self._body)
        children += [self._sections[n] for n in _SECTIONS_AFTER_BODY if n in self._sections]
        if tuple(children) != tuple(self._root.children):
            self._root.children = tuple(children)

    def _replace(self, bundle: dict[str, str]) -> None:
        replace_bundle(self._handle, bundle)
        self._close_widgets()

    def _close_widgets(self) -> None:
        """Closed widgets leave no state in the kernel or in the saved notebook."""
        for widget in (self._root, *self._widgets, self._header, self._layout, self._style):
            widget.close()  # closing twice (root is in _widgets) is a no-op
