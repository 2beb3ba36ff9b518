"""``%%agent demo-agent demo-chat-agent`` in JupyterLab 4 in Chromium: two columns stream side by side.

The notebook's first cell starts a paced local workspace inside the kernel (0.5 s before the first
word, then 20 words a second, so both answers stream for a few seconds) and points the kernel at
it. A ``MutationObserver`` samples the cell's columns at each paint: what a person saw, in order.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
from test_lab import AGENT_TIMEOUT_MS, cells, open_notebook, run_all, wait_cell_done

if TYPE_CHECKING:
    from conftest import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

SETUP = """import os
from agent_magics.transport.embedded import LocalWorkspace
paced = LocalWorkspace(first_token_delay=0.5, tokens_per_second=20).start()
os.environ.update(paced.env(auth="oauth"))
%load_ext agent_magics"""

JS_RECORD_COLUMNS = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const samples = [];
  const record = () => {
    const area = cell.node.querySelector('.jp-Cell-outputArea');
    if (!area) return;
    const cols = Array.from(area.querySelectorAll('.am-compare-column')).map(c => {
      const r = c.getBoundingClientRect();
      return {
        x: r.x, y: r.y, w: r.width, h: r.height,
        header: c.querySelector('.am-header')?.textContent ?? '',
        answer: Array.from(c.querySelectorAll('.am-answer')).map(e => e.textContent).join(' ').trim(),
        final: c.querySelector('.am-figures') !== null,
      };
    });
    samples.push({t: performance.now(), widgets: area.querySelector('.jupyter-widgets') !== null, cols});
  };
  let scheduled = false;
  const onMutation = () => {
    if (!scheduled) { scheduled = true; requestAnimationFrame(() => { scheduled = false; record(); }); }
  };
  window.__amColumns = samples;
  window.__amColumnsObserver = new MutationObserver(onMutation);
  window.__amColumnsObserver.observe(cell.node, {subtree: true, childList: true, characterData: true});
}"""

JS_COLUMNS_NOW = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const area = cell.node.querySelector('.jp-Cell-outputArea').getBoundingClientRect();
  return Array.from(cell.node.querySelectorAll('.jp-Cell-outputArea .am-compare-column')).map(c => {
    const r = c.getBoundingClientRect();
    return {x: r.x, y: r.y, w: r.width, h: r.height, areaRight: area.right};
  });
}"""


def side_by_side(cols: list[dict[str, Any]]) -> bool:
    a, b = cols
    return abs(a["y"] - b["y"]) < 4 and b["x"] >= a["x"] + a["w"] - 1 and a["w"] > 100 and b["w"] > 100


@pytest.mark.parametrize("view", ["display", "widget"])
def test_two_columns_stream_side_by_side_then_both_final(lab: LabServer, page: Any, screenshot: Any, view: str) -> None:
    name = f"compare_{view}.ipynb"
    lab.write_notebook(
        name,
        [
            ("code", SETUP),
            ("code", f"%%agent demo-agent demo-chat-agent --view {view}\nWhat is MLflow? Explain in detail."),
        ],
    )
    try:
        open_notebook(page, lab, name)
        page.evaluate(JS_RECORD_COLUMNS, 1)
        run_all(page)
        page.wait_for_function(  # mid-stream, both columns with text: a picture for people
            """() => (window.__amColumns || []).some(s => s.cols.length === 2
                     && s.cols.every(c => c.answer.length > 0 && !c.final))""",
            timeout=AGENT_TIMEOUT_MS,
        )
        screenshot(page, f"compare-{view}-streaming")
        wait_cell_done(page, 1)
        samples: list[dict[str, Any]] = page.evaluate("() => window.__amColumns")
        page.evaluate("() => window.__amColumnsObserver.disconnect()")

        both = [
            s
            for s in samples
            if len(s["cols"]) == 2
            and all(c["answer"] and not c["final"] and "streaming" in c["header"] for c in s["cols"])
        ]
        assert both, f"never two columns streaming at once: {[len(s['cols']) for s in samples][:20]}"
        assert all(side_by_side(s["cols"]) for s in both), both[0]["cols"]
        growing = [len(s["cols"][0]["answer"]) + len(s["cols"][1]["answer"]) for s in both]
        assert len(set(growing)) >= 3, growing  # several visible states while both streamed
        if view == "widget":
            assert all(s["widgets"] for s in both)

        final = samples[-1]
        assert len(final["cols"]) == 2 and not final["widgets"], final
        for column, target in zip(final["cols"], ["demo-agent", "demo-chat-agent"]):
            assert column["final"] and target in column["header"] and "completed" in column["header"], column
            assert "MLflow" in column["answer"]
        output = cells(page).nth(1).locator(".jp-Cell-outputArea")
        assert len(re.findall(r"first token [\d.]+ ?\w+", output.inner_text())) == 2, output.inner_text()[:500]
        diff = output.locator("details.am-diff")
        assert diff.count() == 1 and diff.get_attribute("open") is None  # the diff, collapsed
        screenshot(page, f"compare-{view}-final")
        print(f"\n{view}: {len(both)} painted states with both columns streaming, of {len(samples)}")

        # A narrow output area stacks the columns instead of squeezing them.
        page.set_viewport_size({"width": 560, "height": 1000})
        page.wait_for_function(
            f"() => {{ const c = ({JS_COLUMNS_NOW})(1); return c.length === 2 && c[1].y >= c[0].y + c[0].h - 1; }}",
            timeout=10_000,
        )
        stacked = page.evaluate(JS_COLUMNS_NOW, 1)
        assert abs(stacked[0]["x"] - stacked[1]["x"]) < 4, stacked
        assert all(c["x"] + c["w"] <= c["areaRight"] + 1 for c in stacked), stacked  # not clipped
        screenshot(page, f"compare-{view}-narrow")
    finally:
        lab.shutdown_kernels()
