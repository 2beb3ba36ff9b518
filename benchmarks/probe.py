"""Kernel-side instrumentation, imported inside a benchmark kernel after its warm-up (stdlib only).

``install()`` wraps the magics' view factory to note when the first text delta reaches the view (the
chunk has arrived and been parsed and folded: where the view's work starts), and to keep the view
(its class and how many updates its coalescer sent). The baseline loops set ``state["first_chunk"]``
themselves. ``take()`` returns the notes as JSON and clears them.
"""

from __future__ import annotations

import json
import time
from typing import Any

state: dict[str, Any] = {}
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from IPython import get_ipython

    from agent_magics.core.events import TextDelta

    magics = get_ipython().magics_manager.registry["AgentMagics"]
    make_view = magics._make_view

    def capture_view(mode: str) -> Any:
        view = make_view(mode)
        state["view"] = view
        if view is not None:
            on_event = view.on_event

            def noting_first_chunk(reduction: Any, event: Any) -> None:
                # Called right after the event left the transport and was folded: where the view's work starts
                if "first_chunk" not in state and type(event) is TextDelta:
                    state["first_chunk"] = time.monotonic()
                on_event(reduction, event)

            view.on_event = noting_first_chunk
        return view

    magics._make_view = capture_view
    _installed = True


def take() -> str:
    """The notes of the last cell as JSON; the state is cleared for the next one."""
    view = state.pop("view", None)
    coalescer = getattr(view, "coalescer", None)
    notes = {
        "first_chunk": state.pop("first_chunk", None),
        "view": type(view).__name__ if view is not None else None,
        "updates": coalescer.updates if coalescer is not None else None,
    }
    state.clear()
    return json.dumps(notes)
