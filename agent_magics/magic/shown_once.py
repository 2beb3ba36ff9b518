"""A result's "already shown" marks last until the next cell starts.

A magic marks its result ``shown_live`` (its live view showed the answer, so the cell's Out[] is
one summary line) or ``hide_once`` (``--quiet``: no Out[] at all). Both are meant for the Out[] of
the cell that ran the magic. A result that is assigned instead (``r = %agent --quiet demo-agent
Hi``) never meets that Out[], and ``r`` in a later cell must show the whole result, so the marks
are cleared when the next top-level cell starts (a cell that a cell runs, ``run_cell`` or
``%rerun``, does not count). Marks made outside any cell (a widget callback) go the same way.
"""

from __future__ import annotations

import weakref
from typing import Any

from agent_magics.core.result import ShownOnce


class _Marks:
    """One shell's marked results, held weakly, and how deep in cells that shell is."""

    def __init__(self) -> None:
        self.results: list[weakref.ref[ShownOnce]] = []
        self.depth = 0

    def add(self, result: ShownOnce) -> None:
        self.results.append(weakref.ref(result))

    def pre_run_cell(self, *_: Any) -> None:
        if self.depth == 0:
            self.clear()
        self.depth += 1

    def post_run_cell(self, *_: Any) -> None:
        # Clamped: an empty cell ends without starting, and a cell that loaded us started before.
        self.depth = max(0, self.depth - 1)

    def clear(self) -> None:
        for ref in self.results:
            result = ref()
            if result is not None:
                result.shown_live = result.hide_once = False
        self.results.clear()


_shells: weakref.WeakKeyDictionary[Any, _Marks] = weakref.WeakKeyDictionary()


def mark(shell: Any, result: ShownOnce, *, shown_live: bool = False, hide_once: bool = False) -> None:
    result.shown_live = shown_live
    result.hide_once = hide_once
    marks = register(shell)
    if marks is not None and (shown_live or hide_once):
        marks.add(result)


def register(shell: Any) -> _Marks | None:
    """Follow ``shell``'s cells (once); None for a shell without cell events."""
    events = getattr(shell, "events", None)
    if events is None:
        return None
    marks = _shells.get(shell)
    if marks is None:
        marks = _shells[shell] = _Marks()
        events.register("pre_run_cell", marks.pre_run_cell)
        events.register("post_run_cell", marks.post_run_cell)
    return marks


def unregister(shell: Any) -> None:
    marks = _shells.pop(shell, None)
    if marks is not None:
        marks.clear()
        shell.events.unregister("pre_run_cell", marks.pre_run_cell)
        shell.events.unregister("post_run_cell", marks.post_run_cell)
