"""Live views of a streaming answer, and the choice between them.

A view is driven by the magic: ``start(target)`` before the request, ``on_event(state, event)``
for every event (after ``reduce_event``), ``finish(result)`` at the end, including after a failure
or an interrupt. The views:

* ``display`` (the default in kernels): the answer as a growing list of static outputs, only the
  unfinished tail re-sent; nothing is re-sent at the end (``live_display.py``);
* ``stream``: the display view, with the block being written in a small anywidget that receives
  only what changed, so text already on screen is not sent again while it streams (``live_stream.py``);
* ``widget``: ipywidgets (7.8 and 8.x), one output; replaced at the end by the static HTML + text
  bundle through its display handle, which sends the whole answer once more (``live_widget.py``);
* ``text``: prints new text as it arrives, for terminals (``live_text.py``);
* ``none``: shows nothing (``--quiet``).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

from agent_magics.run import NullView, View

MODES = ("auto", "widget", "display", "stream", "text", "none")


def detect_mode() -> str:
    """``display`` inside a Jupyter kernel, ``text`` elsewhere (terminal IPython, scripts).

    The display view needs only display ids, which every Jupyter frontend and nbclient handle; it
    sends about half the bytes of the widget view and leaves no widget state behind.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return "text"
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return "text"
    return "display"


def warm_up(mode: str = "auto") -> None:
    """Import what ``mode``'s first render needs (the view, markdown, the sanitiser, widgets).

    Called while a cold start waits for the local workspace: the imports then happen during the
    wait instead of between the workspace being up and the first answer text.
    """
    if mode == "auto":
        mode = detect_mode()
    if mode not in ("widget", "display", "stream"):
        return
    import nh3  # noqa: F401 - imported for its side effect: loaded now, not at the first render

    from agent_magics.view import sanitize

    sanitize.markdown_renderer()
    if mode == "widget" and importlib.util.find_spec("ipywidgets") is not None:
        import ipywidgets  # noqa: F401

        import agent_magics.view.live_widget
    elif mode == "stream" and importlib.util.find_spec("anywidget") is not None:
        import agent_magics.view.live_stream
        import agent_magics.view.stream_widget
    else:
        import agent_magics.view.live_display  # noqa: F401


def make_view(
    mode: str = "auto",
    *,
    max_rate: float = 15.0,
    clock: Callable[[], float] = time.monotonic,
    **tuning: Any,
) -> View:
    """A view for ``mode`` (one of ``MODES``); ``auto`` picks with ``detect_mode()``.

    ``tuning`` goes to the widget and display views (``min_rate``, ``resend_ratio``, ``min_block``,
    ``max_tail``, ``plain_limit``: see ``LiveView``); the text and quiet views ignore it.
    """
    if mode == "auto":
        mode = detect_mode()
    if mode == "widget":
        if importlib.util.find_spec("ipywidgets") is None:
            raise ValueError("the widget view needs ipywidgets (pip install ipywidgets); or use the display view")
        from agent_magics.view.live_widget import WidgetView

        return WidgetView(max_rate=max_rate, clock=clock, **tuning)
    if mode == "stream":
        if importlib.util.find_spec("anywidget") is None:
            raise ValueError("the stream view needs anywidget (pip install anywidget); or use the display view")
        from agent_magics.view.live_stream import StreamView

        return StreamView(max_rate=max_rate, clock=clock, **tuning)
    if mode == "display":
        from agent_magics.view.live_display import DisplayView

        return DisplayView(max_rate=max_rate, clock=clock, **tuning)
    if mode == "text":
        from agent_magics.view.live_text import TextView

        return TextView(max_rate=max_rate, clock=clock)
    if mode == "none":
        return NullView()
    raise ValueError(f"unknown view mode {mode!r}: expected one of {', '.join(MODES)}")
