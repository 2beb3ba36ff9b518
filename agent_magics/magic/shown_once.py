"""A result's "already shown" marks last until the end of the cell that made it.

A magic marks its result ``shown_live`` (its live view showed the answer, so the cell's Out[] is
one summary line) or ``hide_once`` (``--quiet``: no Out[] at all). Both are meant for that cell's
Out[]. A result that is assigned instead (``r = %agent --quiet demo-agent Hi``) never meets that
Out[], and ``r`` in a later cell must show the whole result, so the marks are cleared when the
cell ends (IPython shows a cell's value before its ``post_run_cell`` event).
"""

from __future__ import annotations

from typing import Any

from agent_magics.core.result import ShownOnce

_marked: list[ShownOnce] = []


def mark(shell: Any, result: ShownOnce, *, shown_live: bool = False, hide_once: bool = False) -> None:
    result.shown_live = shown_live
    result.hide_once = hide_once
    if (shown_live or hide_once) and _register(shell):
        _marked.append(result)


def _clear_marks(*_: Any) -> None:
    while _marked:
        result = _marked.pop()
        result.shown_live = result.hide_once = False


def _register(shell: Any) -> bool:
    """Listen for the end of cells once per shell; False where there are no cells (no events)."""
    events = getattr(shell, "events", None)
    if events is None:
        return False
    if _clear_marks not in events.callbacks.get("post_run_cell", []):
        events.register("post_run_cell", _clear_marks)
    return True


def unregister(shell: Any) -> None:
    events = getattr(shell, "events", None)
    if events is not None and _clear_marks in events.callbacks.get("post_run_cell", []):
        events.unregister("post_run_cell", _clear_marks)
