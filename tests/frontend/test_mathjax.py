"""MathJax runs after JupyterLab's sanitiser: agent text must not be typeset into links or styles.

A markdown cell with ``$x^2$`` in the same notebook is the control: it proves MathJax is loaded and
typesetting in this Lab, so "no MathJax container in the agent output" means it was skipped, not
that MathJax never ran.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

import pytest
from test_lab import (
    AGENT_TIMEOUT_MS,
    open_notebook,
    run_all,
    save_notebook,
    wait_cell_done,
)
from test_lab import notebook as notebook  # the fixture, shared

if TYPE_CHECKING:
    from conftest import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PAYLOAD = (
    r"Sign in at $\href{http://attacker.invalid/phish}{https://accounts.example.com}$"
    r" or $\style{color:red}{\text{urgent}}$"
)

# What MathJax would have made of the payload in the agent's outputs (cells 1 and 2).
JS_TYPESET = """(indexes) => indexes.map(i => {
  const area = window.jupyterapp.shell.currentWidget.content.widgets[i].node.querySelector('.jp-Cell-outputArea');
  return {
    math: area.querySelectorAll('mjx-container, .MathJax, .MathJax_Preview, mjx-assistive-mml').length,
    links: Array.from(area.querySelectorAll('a[href]')).map(a => a.href).filter(h => h.includes('attacker')),
    styled: Array.from(area.querySelectorAll('[style*="color:red"], [style*="color: red"]')).length,
    text: area.textContent,  // closed <details> too (MathJax typesets those as well)
  };
})"""
JS_CONTROL_TYPESET = """(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].node
  .querySelector('mjx-container, .MathJax') !== null"""


def _cells() -> list[tuple[str, str]]:
    result = (
        "from agent_magics.core.result import AgentResult\n"
        f"AgentResult(target='demo-agent', text={PAYLOAD!r}, status='failed', error={PAYLOAD!r})"
    )
    return [
        ("code", "%load_ext agent_magics"),
        ("code", f"%%agent demo-agent --custom-inputs {shlex.quote(json.dumps({'q': PAYLOAD}))}\nHello"),
        ("code", result),
        ("md", "Control: $x^2 + y^2$"),
    ]


def _check(page: Any) -> None:
    # The control is typeset: MathJax is active in this page.
    page.wait_for_function(JS_CONTROL_TYPESET, arg=3, timeout=60_000)
    page.wait_for_timeout(1500)  # MathJax typesets outputs asynchronously: give it the time it takes
    for index, seen in zip((1, 2), page.evaluate(JS_TYPESET, [1, 2]), strict=True):
        assert seen["links"] == [], (index, seen["links"])
        assert seen["math"] == 0, (index, seen)
        assert seen["styled"] == 0, (index, seen)
        assert r"\href{http://attacker.invalid/phish}" in seen["text"], (index, seen["text"][:300])


def test_agent_text_is_never_typeset(lab: LabServer, page: Any, notebook: Any, screenshot: Any) -> None:
    name = notebook(_cells())
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 1, timeout_ms=AGENT_TIMEOUT_MS)
    wait_cell_done(page, 2, timeout_ms=30_000)
    _check(page)  # the answer's custom outputs, the answer text and the error box
    screenshot(page, "mathjax-live")
    save_notebook(page, lab, name)
    lab.shutdown_kernels()
    open_notebook(page, lab, name)  # reopened: Lab renders the saved outputs (and the markdown) again
    _check(page)
    screenshot(page, "mathjax-reopened")
