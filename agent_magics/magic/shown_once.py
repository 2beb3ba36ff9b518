"""A result's "already shown" marks last until the user runs another cell.

A magic marks its result ``shown_live`` (its live view showed the answer, so the cell's Out[] is
one summary line) or ``hide_once`` (``--quiet``: no Out[] at all). Both are meant for the Out[] of
the cell that ran the magic. A result that is assigned instead (``r = %agent --quiet demo-agent
Hi``) never meets that Out[], and ``r`` in a later cell must show the whole result, so the marks
are cleared when the next cell the user runs starts (a cell that a cell runs, ``run_cell`` or
``%rerun``, does not count: it is not stored in the history). Marks made outside any cell (a
widget callback) go the same way. Only an Out[] obeys a mark: ``display(r)`` shows the whole
result even in the magic's own cell (``core.result.ShownOnce``).
"""

from __future__ import annotations

import weakref
from typing import Any

from agent_magics.core.result import ShownOnce


class _Marks:
    """One shell's marked results, held weakly."""

    def __init__(self) -> None:
        self.results: list[weakref.ref[ShownOnce]] = []

    def add(self, result: ShownOnce) -> None:
        self.results.append(weakref.ref(result))

    def pre_run_cell(self, info: Any = None) -> None:
        # A cell the user ran is stored in the history; one that a cell runs is not
        # (get_ipython().run_cell and %rerun default to store_history=False), so it ends nothing.
        if getattr(info, "store_history", True):
            self.clear()

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
    return marks


def unregister(shell: Any) -> None:
    marks = _shells.pop(shell, None)
    if marks is not None:
        marks.clear()
        shell.events.unregister("pre_run_cell", marks.pre_run_cell)
