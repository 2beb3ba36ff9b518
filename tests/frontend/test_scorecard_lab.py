"""The ``%%agent_eval`` scorecard in JupyterLab 4, in Debian Chromium: what a person sees.

A notebook evaluates ``demo-agent`` on three questions (one expects a fact no answer has) on the
embedded default; the cell's output is the static scorecard (no widget left), pass rates and rows
with the failing row first, and its "open in MLflow" link opens the run in MLflow's own UI, served
by the tracking server the local workspace runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_lab import cell_state, notebook, open_notebook, run_all, wait_cell_done

__all__ = ["notebook"]  # the fixture, shared with test_lab.py

pytestmark = [pytest.mark.browser, pytest.mark.timeout(480)]
EVAL_TIMEOUT_MS = 300_000  # the local workspace, then MLflow's server boots (10-35 s), then 3 rows

JS_SCORECARD = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const card = cell.node.querySelector('.agent-magics-scorecard');
  if (!card) return null;
  const tables = card.querySelectorAll('table');
  const rows = Array.from(tables[1].querySelectorAll('tbody tr'));
  const link = card.querySelector('a');
  return {
    summary: tables[0].innerText,
    rows: rows.map(r => ({cls: r.className, text: r.innerText})),
    link: link ? link.getAttribute('href') : null,
    linkText: link ? link.innerText : null,
    widgets: cell.node.querySelectorAll('.jupyter-widgets').length,
    scripts: card.querySelectorAll('script, img, iframe').length,
  };
}"""


def test_scorecard_shows_and_links_to_the_run(
    lab: Any, page: Any, notebook: Any, screenshot: Any, tmp_path: Path
) -> None:
    setup = f"""import os, pandas as pd
os.environ["AGENT_MAGICS_MLFLOW_DIR"] = {str(tmp_path / "mlflow")!r}
questions = pd.DataFrame({{
    "question": ["What is MLflow?", "What does Databricks do?", "What is MLflow? <b>bold?</b>"],
    "expected_facts": [["MLflow is an open-source platform"], ["Databricks is a data and AI platform"],
                       ["bananas ripen on the moon"]],
}})"""
    name = notebook(
        [
            ("code", "%load_ext agent_magics"),
            ("code", setup),
            ("code", "%agent_eval demo-agent --data questions --scorers correctness,safety --out ev"),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 2, timeout_ms=EVAL_TIMEOUT_MS)
    card = page.evaluate(JS_SCORECARD, 2)
    assert card is not None, cell_state(page, 2)["text"][:2000]
    screenshot(page, "scorecard")
    assert "67%" in card["summary"] and "(2/3)" in card["summary"]  # correctness: the bananas row fails
    assert "100%" in card["summary"]  # safety
    assert len(card["rows"]) == 3 and card["rows"][0]["cls"] == "am-fail" and "bananas" in card["rows"][0]["text"]
    assert "<b>bold?</b>" in card["rows"][0]["text"]  # the question shown as text, not markup
    assert card["widgets"] == 0 and card["scripts"] == 0
    assert card["linkText"] == "open in MLflow" and card["link"].startswith("http://127.0.0.1:")

    ui = page.context.new_page()
    ui.goto(card["link"])
    ui.wait_for_function("() => document.title.includes('MLflow')", timeout=60_000)
    ui.wait_for_function("() => document.body.innerText.includes('agent_eval demo-agent')", timeout=60_000)
    screenshot(ui, "scorecard-run-in-mlflow")
    ui.close()
