"""``%%agent`` in Notebook 7 (the classic-looking notebook on JupyterLab's components), in Chromium.

The same helpers as the JupyterLab tests: Notebook 7 exposes its application as
``window.jupyterapp`` too (``--JupyterNotebookApp.expose_app_in_browser``), with the notebook panel
as the shell's current widget. One answer is watched while it streams (several growing partial
answers on screen, each a prefix of the final one) and then checked as the final, static view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from test_lab import (  # this folder is on sys.path (pytest's prepend import mode)
    AGENT_TIMEOUT_MS,
    JS_CELL_STATE,
    JS_KERNEL_STATUS,
    JS_RECORD_ANSWER,
    agent_cell,
    assert_streamed,
    normalise,
    run_all,
    wait_cell_done,
)

if TYPE_CHECKING:
    from conftest import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def open_in_notebook7(page: Any, server: LabServer, name: str) -> None:
    page.goto(f"{server.url}/notebooks/{name}")
    page.wait_for_function(
        "(name) => window.jupyterapp?.shell?.currentWidget?.context?.path === name"
        " && window.jupyterapp.shell.currentWidget.content.widgets.length > 0",
        arg=name,
        timeout=60_000,
    )
    page.wait_for_function(f"() => ({JS_KERNEL_STATUS})() === 'idle'", timeout=60_000)


@pytest.mark.parametrize("view", ["display", "stream"])
def test_answer_streams_then_shows_final_in_notebook7(
    notebook7: LabServer, page: Any, screenshot: Any, view: str
) -> None:
    from agent_magics.local.agents import bench_tokens

    tokens, rate = 300, 60
    name = f"streaming-{view}.ipynb"
    cell = agent_cell("bench-agent", "Stream slowly, please.", tokens=tokens, tokens_per_second=rate)
    notebook7.write_notebook(
        name, [("code", "%load_ext agent_magics"), ("code", cell.replace("\n", f" --view {view}\n", 1))]
    )
    open_in_notebook7(page, notebook7, name)
    page.evaluate(JS_RECORD_ANSWER, 1)
    run_all(page)
    page.wait_for_function(
        f"() => {{ const s = ({JS_CELL_STATE})(1); return s.live && s.answer.split(' ').length > 120; }}",
        timeout=AGENT_TIMEOUT_MS,
    )
    screenshot(page, f"notebook7-streaming-live-{view}")
    state = wait_cell_done(page, 1)
    samples: list[dict[str, Any]] = page.evaluate("() => window.__amSamples")
    page.evaluate("() => window.__amObserver.disconnect()")
    screenshot(page, f"notebook7-streaming-final-{view}")

    live, _ = assert_streamed(state, samples, normalise("".join(bench_tokens(tokens, 50))))
    if view == "stream":  # the anywidget script patched the block being written, and missed nothing
        assert sum(s["tail"] for s in live) >= 5 and not any(s["stale"] for s in samples), samples[-3:]
    # The final view is the static one: its header numbers and the collapsed question are there.
    final = page.evaluate(
        """() => {
          const area = window.jupyterapp.shell.currentWidget.content.widgets[1].node
            .querySelector('.jp-Cell-outputArea');
          return {total: area.querySelector('.am-metric-total') !== null,
                  question: area.querySelector('details.am-question, .am-question') !== null};
        }"""
    )
    assert final["total"] and final["question"], final
