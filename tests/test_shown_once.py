"""A result shown live or hidden by --quiet is shown so only as the value of its own cell; from the
next cell the user runs on it displays in full. Through IPython's own cell loop (``run_cell`` with
``store_history=True``, as the kernel runs a frontend's cells)."""

from __future__ import annotations

from typing import Any

import pytest

QUIET = "%agent demo-agent --quiet What is MLflow"


def test_a_mark_lasts_through_its_cell_and_ends_when_the_next_starts(shell: Any) -> None:
    shell.run_cell(f"r = {QUIET}", store_history=True)
    result = shell.user_ns["r"]
    assert result.hide_once  # its own cell has ended, but nothing has shown it: still marked
    shell.run_cell("pass", store_history=True)
    assert not result.hide_once and not result.shown_live
    assert "text/html" in result._repr_mimebundle_()


def test_a_cell_run_by_the_cell_does_not_end_the_mark(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    shell.run_cell(f'r = {QUIET}\nget_ipython().run_cell("x = 1")\nget_ipython().run_cell("")\nr', store_history=True)
    assert "MLflow" not in capsys.readouterr().out  # --quiet: still no Out[] after the inner cell
    shell.run_cell("r", store_history=True)
    assert "MLflow" in capsys.readouterr().out  # the next cell shows it


def test_a_mark_made_outside_any_cell_ends_when_the_next_cell_starts(shell: Any) -> None:
    result = shell.run_line_magic("agent", "demo-agent What is MLflow")  # as from a widget's callback
    assert result.shown_live
    shell.run_cell("pass", store_history=True)
    assert not result.shown_live


def test_marks_do_not_keep_results_alive(shell: Any) -> None:
    import gc
    import weakref

    ref = weakref.ref(shell.run_line_magic("agent", "demo-agent --quiet What is MLflow"))
    gc.collect()
    assert ref() is None
