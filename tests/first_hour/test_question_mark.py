"""A trailing "?" on an %agent / %agent_sql line is part of the question; "%agent?" alone is help."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kernel_helpers import Kernel, kernel_env

from agent_magics.magic.transformer import keep_question_marks


def test_question_mark_reaches_the_agent(kernel: Any) -> None:
    out = kernel.run("%agent demo-agent --out ans What is MLflow?")
    assert not out.errors, out.errors
    assert "not found" not in out.shown, out.shown
    assert kernel.value("ans.input[-1]['content']") == "What is MLflow?"
    assert kernel.value("ans.ok") is True


def test_assigned_line_keeps_its_question_mark(kernel: Any) -> None:
    out = kernel.run("r = %agent demo-agent --quiet Is it open source?")
    assert not out.errors and "not found" not in out.shown, out.shown
    assert kernel.value("r.input[-1]['content']") == "Is it open source?"


def test_agent_sql_line_keeps_its_question_mark(kernel: Any) -> None:
    out = kernel.run("%agent_sql --quiet --out df SELECT ai_query('demo-agent', 'What is MLflow?') AS a")
    assert not out.errors, out.errors
    out = kernel.run("%agent_sql --quiet --out df2 SELECT 'why?' AS q, ai_query('demo-agent', 'Why?') AS a -- really?")
    assert not out.errors and "not found" not in out.shown, out.shown
    assert kernel.value("df2['q'].tolist()") == ["why?"]


@pytest.mark.parametrize("code", ["%agent?", "%%agent?", "%agent_sql?"])
def test_magic_name_alone_still_shows_help(kernel: Any, code: str) -> None:
    out = kernel.run(code)
    assert not out.errors, out.errors
    assert out.pages and "--quiet" in out.pages[0], out.shown[:300]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["%agent demo What?\n"], ["get_ipython().run_line_magic('agent', 'demo What?')\n"]),
        (["  x = %agent demo Why?"], ["  x = get_ipython().run_line_magic('agent', 'demo Why?')"]),
        (["%agent_sql SELECT 1 -- why?  "], ["get_ipython().run_line_magic('agent_sql', 'SELECT 1 -- why?')"]),
        (["%agent?\n"], ["%agent?\n"]),
        (["%agent demo no question\n"], ["%agent demo no question\n"]),
        (["%agentx demo Hi?\n"], ["%agentx demo Hi?\n"]),
        (["%%agent demo\n", "%agent x What?\n"], ["%%agent demo\n", "%agent x What?\n"]),
        (["print(1)\n", "%agent d Q?\n"], ["print(1)\n", "get_ipython().run_line_magic('agent', 'd Q?')\n"]),
    ],
)
def test_transformer_rewrites_only_agent_lines_ending_in_a_question_mark(lines: list[str], expected: list[str]) -> None:
    assert keep_question_marks(lines) == expected


def test_question_mark_before_the_extension_is_loaded(local_workspace: Any, tmp_path: Path) -> None:
    """With the startup file's lazy registration, the very first cell may be such a line."""
    env = kernel_env(tmp_path, local_workspace)
    del env["AGENT_MAGICS_NO_AUTOLOAD"]
    startup = Path(env["IPYTHONDIR"]) / "profile_default" / "startup"
    startup.mkdir(parents=True)
    source = Path(__file__).resolve().parents[2] / "jupyter-config" / "ipython-startup" / "50-agent_magics.py"
    (startup / source.name).write_text(source.read_text())
    kernel = Kernel(env)
    try:
        out = kernel.run("%agent demo-agent --quiet --view text --out ans What is MLflow?")
        assert not out.errors and "not found" not in out.shown, out.shown
        assert kernel.value("ans.input[-1]['content']") == "What is MLflow?"
    finally:
        kernel.stop()
