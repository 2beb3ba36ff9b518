"""Live views of a streaming answer, and the choice between them.

A view is driven by the magic: ``start(target)`` before the request, ``on_event(state, event)``
for every event (after ``reduce_event``), ``finish(result)`` at the end, including after a failure
or an interrupt. The views:

* ``widget``: ipywidgets (7.8 and 8.x), coalesced incremental updates; replaced at the end by the
  static HTML + text bundle through its display handle (``live_widget.py``);
* ``display``: ``display(..., display_id=True)`` + ``update``, for frontends without a widget
  manager (``live_display.py``);
* ``text``: prints new text as it arrives, for terminals (``live_text.py``);
* ``none``: shows nothing (``--quiet``).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..events import Event, Reduction
    from ..result import AgentResult

MODES = ("auto", "widget", "display", "text", "none")


class View(Protocol):
    def start(self, target: str) -> None:
        """Show the header (state "connecting")."""

    def on_event(self, state: Reduction, event: Event) -> None:
        """Called for every event after ``reduce_event``; cheap, coalesces."""

    def finish(self, result: AgentResult) -> None:
        """Final flush: leave the static rendering of ``result`` in place of the live view."""


class NullView:
    """Shows nothing (``--quiet``)."""

    def start(self, target: str) -> None:
        pass

    def on_event(self, state: Reduction, event: Event) -> None:
        pass

    def finish(self, result: AgentResult) -> None:
        pass


def detect_mode() -> str:
    """``widget`` inside a Jupyter kernel (comms available), ``text`` elsewhere (terminal, scripts).

    A kernel can't tell whether its frontend renders widgets (plain nbclient does not); that is
    harmless because the widget is replaced by a static bundle when the answer is complete.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return "text"
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return "text"
    return "widget" if importlib.util.find_spec("ipywidgets") is not None else "display"


def make_view(
    mode: str = "auto",
    *,
    max_rate: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    **tuning: Any,
) -> View:
    """A view for ``mode`` (one of ``MODES``); ``auto`` picks with ``detect_mode()``.

    ``tuning`` goes to the widget and display views (``min_rate``, ``byte_ratio``, ``min_block``,
    ``max_tail``, ``plain_limit``: see ``LiveView``); the text and quiet views ignore it.
    """
    if mode == "auto":
        mode = detect_mode()
    if mode == "widget":
        if importlib.util.find_spec("ipywidgets") is None:
            raise ValueError("the widget view needs ipywidgets (pip install ipywidgets); or use the display view")
        from .live_widget import WidgetView

        return WidgetView(max_rate=max_rate, clock=clock, **tuning)
    if mode == "display":
        from .live_display import DisplayView

        return DisplayView(max_rate=max_rate, clock=clock, **tuning)
    if mode == "text":
        from .live_text import TextView

        return TextView(max_rate=max_rate, clock=clock)
    if mode == "none":
        return NullView()
    raise ValueError(f"unknown view mode {mode!r}: expected one of {', '.join(MODES)}")
