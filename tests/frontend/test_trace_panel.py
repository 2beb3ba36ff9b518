"""The trace panel in JupyterLab, in Chromium: what a reader sees, measured in the page.

A real ``%%agent demo-agent --return-trace`` answer (its MLflow trace from the local workspace):
the time axis's ticks sit at quarters of the track, each span's bar starts where its start offset
says (bounding boxes against the offsets the kernel computes from the trace), the root span is one
collapsed line with the tool and model spans visible beside it, a click opens a span's details,
and they hold no ``null`` field. The same is checked again on an untrusted copy of the saved
notebook, which JupyterLab passes through its HTML sanitiser, and in the dark theme.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest
from test_lab import cells, open_notebook, run_all, save_notebook, wait_cell_done
from test_lab import notebook as notebook  # the fixture, shared

if TYPE_CHECKING:
    from conftest import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

# The start offset and duration of each span, in the panel's row order, as fractions of the trace.
OFFSETS = """import json
_t = r.trace
_total = _t.end_time_ns - _t.start_time_ns
print(json.dumps([[s.name, (s.start_ns - _t.start_time_ns) / _total, (s.end_ns - s.start_ns) / _total]
                  for root in _t.roots for s in root.walk()]))"""

# Geometry and computed styles of the panel in cell ``index`` (null: the page's first panel).
JS_PANEL = """(index) => {
  const cell = index === null ? null : window.jupyterapp.shell.currentWidget.content.widgets[index];
  const panel = (cell ? cell.node : document).querySelector('.am-trace');
  if (!panel) return null;
  const box = (el) => { const r = el.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; };
  const axis = panel.querySelector('.am-trace-axis');
  const ticks = Array.from(axis.querySelectorAll('.am-trace-tick'));
  const rows = Array.from(panel.querySelectorAll('details.am-span')).map(d => {
    const bar = d.querySelector('summary .am-trace-bar');
    const track = bar ? bar.parentElement : null;
    return {
      name: d.querySelector('.am-span-name').textContent,
      open: d.open,
      summary: box(d.querySelector('summary')),
      track: track ? box(track) : null,
      bar: bar ? box(bar) : null,
      barColour: bar ? getComputedStyle(bar).backgroundColor : null,
      badge: d.querySelector('summary .am-span-type')?.textContent ?? null,
    };
  });
  const pre = panel.querySelector('pre');
  return {
    mathjaxIgnored: panel.classList.contains('mathjax_ignore') && panel.classList.contains('tex2jax_ignore'),
    axisTrack: box(ticks[0].parentElement),
    ticks: ticks.map(t => ({box: box(t), text: t.firstChild.textContent, border: getComputedStyle(t).borderLeftStyle})),
    rows,
    header: panel.querySelector('.am-trace-header').textContent,
    preBackground: pre ? getComputedStyle(pre).backgroundColor : null,
    layoutColour2: getComputedStyle(document.body).getPropertyValue('--jp-layout-color2').trim(),
    panelBorder: getComputedStyle(panel).borderTopColor,
    trusted: cell ? cell.model.trusted : null,
  };
}"""


def _cells() -> list[tuple[str, str]]:
    return [
        ("code", "%load_ext agent_magics"),
        ("code", "%%agent demo-agent --return-trace --out r\nWhat does Databricks do?"),
        ("code", OFFSETS),
    ]


def panel(page: Any, index: int = 1) -> dict[str, Any]:
    page.wait_for_function(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].node.querySelector('.am-trace') !== null",
        arg=index,
        timeout=30_000,
    )
    return page.evaluate(JS_PANEL, index)


def check_geometry(seen: dict[str, Any], offsets: list[list[Any]]) -> None:
    """The axis's quarters, the bars' offsets and widths, the rows' alignment and the collapsed root."""
    assert seen["mathjaxIgnored"]
    track = seen["axisTrack"]
    assert track["w"] > 200, track
    for i, tick in enumerate(seen["ticks"]):  # 0, 1/4, 1/2, 3/4 of the track, each with a tick line
        assert tick["box"]["x"] - track["x"] == pytest.approx(track["w"] * i / 4, abs=1.5), (i, tick, track)
        assert tick["border"] == "solid"
    assert seen["ticks"][0]["text"] == "0"
    rows = seen["rows"]
    assert [r["name"] for r in rows] == [name for name, _, _ in offsets]
    for row, (name, start, width) in zip(rows, offsets, strict=True):
        bar, row_track = row["bar"], row["track"]
        assert row_track["x"] == pytest.approx(track["x"], abs=1.0), name  # every row on the axis's scale
        assert row_track["w"] == pytest.approx(track["w"], abs=1.0), name
        assert bar["x"] - row_track["x"] == pytest.approx(start * row_track["w"], abs=1.5), (name, bar, start)
        assert bar["w"] == pytest.approx(max(width * row_track["w"], 2), abs=1.5), (name, bar, width)
        assert row["barColour"] not in ("rgba(0, 0, 0, 0)", "transparent"), name
        assert bar["h"] >= 8
    # The root is one closed line, and the tool and model spans are on screen beside it.
    assert not any(r["open"] for r in rows)
    heights = [r["summary"]["h"] for r in rows]
    assert max(heights) < 30, heights
    assert {r["badge"] for r in rows} >= {"AGENT", "TOOL", "CHAT_MODEL"}
    assert all(r["summary"]["h"] > 0 for r in rows)


def open_root_and_check_details(page: Any, index: int = 1) -> str:
    """Click the root row; its details open under it and show the request without null fields."""
    area = cells(page).nth(index).locator(".jp-Cell-outputArea")
    root = area.locator("details.am-span").first
    assert root.get_attribute("open") is None
    root.locator(":scope > summary").click()
    page.wait_for_function("(el) => el.open", arg=root.element_handle(), timeout=5_000)
    details = root.inner_text()
    assert "What does Databricks do?" in details
    assert "null" not in details and "tool_choice" not in details
    assert "tool call" in details.lower() and "search_docs" in details
    return details


def test_trace_panel_reads_like_the_mlflow_trace_ui(lab: LabServer, page: Any, notebook: Any, screenshot: Any) -> None:
    name = notebook(_cells())
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 1)
    offsets = json.loads(wait_cell_done(page, 2, timeout_ms=30_000)["text"].strip())
    assert len(offsets) >= 3

    live = panel(page)
    check_geometry(live, offsets)
    assert "spans" in live["header"] and "OK" in live["header"]
    cells(page).nth(1).screenshot(path=str(screenshot.directory / "trace-panel-live.png"))
    open_root_and_check_details(page)
    # Live outputs are trusted, so the themed colours apply: a <pre> takes --jp-layout-color2.
    assert panel(page)["preBackground"] not in (None, "rgba(0, 0, 0, 0)")
    cells(page).nth(1).screenshot(path=str(screenshot.directory / "trace-panel-root-open.png"))

    # Dark theme: the themed backgrounds follow the theme's variables.
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function(
        "() => document.body.dataset.jpThemeName === 'JupyterLab Dark'"
        " && getComputedStyle(document.body).getPropertyValue('--jp-layout-color2').trim() !== ''",
        timeout=30_000,
    )
    page.wait_for_timeout(500)
    dark = panel(page)
    check_geometry({**dark, "rows": [{**r, "open": False} for r in dark["rows"]]}, offsets)
    assert dark["preBackground"] == _rgb(page, dark["layoutColour2"]), dark
    cells(page).nth(1).screenshot(path=str(screenshot.directory / "trace-panel-dark.png"))
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")

    # An untrusted copy of the saved notebook: JupyterLab sanitises the HTML; the panel holds.
    saved = save_notebook(page, lab, name)
    lab.shutdown_kernels()
    untrusted = name.replace(".ipynb", "-copy.ipynb")
    # The server trusts a notebook whose exact content it signed: a changed copy is untrusted.
    saved.metadata["agent_magics_test"] = "an untrusted copy"
    nbformat.write(saved, lab.root / untrusted)
    open_notebook(page, lab, untrusted)
    reopened = panel(page)
    assert reopened["trusted"] is False
    check_geometry(reopened, offsets)
    open_root_and_check_details(page)
    assert panel(page)["preBackground"] not in (None, "rgba(0, 0, 0, 0)")  # the plain fallback
    cells(page).nth(1).screenshot(path=str(screenshot.directory / "trace-panel-untrusted.png"))


def test_nbconvert_html_export_shows_the_same_panel(
    lab: LabServer, page: Any, notebook: Any, tmp_path: Any, screenshot: Any
) -> None:
    """The styling travels with the output: an ``nbconvert --to html`` export lays the panel out alike."""
    from nbconvert import HTMLExporter

    name = notebook(_cells())
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 1)
    offsets = json.loads(wait_cell_done(page, 2, timeout_ms=30_000)["text"].strip())
    saved = save_notebook(page, lab, name)
    lab.shutdown_kernels()
    body, _ = HTMLExporter().from_notebook_node(saved)
    export = tmp_path / "export.html"
    export.write_text(body, encoding="utf-8")
    page.goto(export.as_uri())
    page.wait_for_selector(".am-trace")
    seen = page.evaluate(JS_PANEL, None)
    check_geometry(seen, offsets)
    root = page.locator("details.am-span").first
    root.locator(":scope > summary").click()
    details = root.inner_text()
    assert "What does Databricks do?" in details and "null" not in details
    page.locator(".am-trace").screenshot(path=str(screenshot.directory / "trace-panel-nbconvert.png"))


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"


def test_failed_spans_and_token_usage_stand_out(lab: LabServer, page: Any, notebook: Any, screenshot: Any) -> None:
    """A trace with a failed tool span and one with token usage, displayed as ``Trace`` objects."""
    show = "import json\nfrom agent_magics.core.trace import parse_trace\nparse_trace(json.load(open({path!r})))"
    name = notebook(
        [
            ("code", show.format(path=str(FIXTURES / "v3_agent.json"))),
            ("code", show.format(path=str(FIXTURES / "v3_hex_ids.json"))),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 1, timeout_ms=60_000)
    failed = cells(page).nth(0).locator("details.am-span", has_text="weather")
    tint = failed.evaluate("(d) => getComputedStyle(d).backgroundColor")
    assert tint == "rgba(229, 83, 75, 0.1)", tint
    colour = failed.locator(":scope > summary").locator("text=ERROR").evaluate("(e) => getComputedStyle(e).color")
    assert colour == "rgb(229, 83, 75)", colour
    failed.locator(":scope > summary").click()
    error = failed.locator(".am-trace-error")
    assert "ConnectionError: weather service unreachable" in error.inner_text()
    assert error.evaluate("(e) => getComputedStyle(e).borderLeftColor") == "rgb(229, 83, 75)"
    assert "1 error" in cells(page).nth(0).locator(".am-trace-header").inner_text()
    assert "5 tokens (3 in · 2 out)" in cells(page).nth(1).locator(".am-trace-header").inner_text()
    llm = cells(page).nth(1).locator("details.am-span", has_text="llm").locator(":scope > summary")
    assert "5 tok" in llm.inner_text()
    cells(page).nth(0).screenshot(path=str(screenshot.directory / "trace-panel-error.png"))


MATH = r"Sign in at $\href{http://attacker.invalid/phish}{https://accounts.example.com}$"


def test_mathjax_skips_the_trace_panel(lab: LabServer, page: Any, notebook: Any) -> None:
    """Agent text in a span's inputs and outputs is never typeset (a markdown cell is the control)."""
    name = notebook(
        [
            ("code", "%load_ext agent_magics"),
            ("code", f"%%agent demo-agent --return-trace\n{MATH}"),
            ("md", "Control: $x^2 + y^2$"),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 1)
    panel(page)
    for row in cells(page).nth(1).locator("details.am-span").all():  # every span's details shown
        row.locator(":scope > summary").click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[2].node.querySelector('mjx-container') !== null",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)  # MathJax typesets outputs asynchronously
    seen = page.evaluate(
        """() => {
          const trace = window.jupyterapp.shell.currentWidget.content.widgets[1].node.querySelector('.am-trace');
          return {math: trace.querySelectorAll('mjx-container, .MathJax').length,
                  links: trace.querySelectorAll('a[href]').length, text: trace.innerText};
        }"""
    )
    assert seen["math"] == 0 and seen["links"] == 0, seen
    assert r"$\href{http://attacker.invalid/phish}" in seen["text"]


def _rgb(page: Any, colour: str) -> str:
    """A CSS colour as the browser computes it (``rgb(...)``)."""
    return page.evaluate(
        "(c) => { const e = document.createElement('div'); e.style.backgroundColor = c; document.body.append(e);"
        " const v = getComputedStyle(e).backgroundColor; e.remove(); return v; }",
        colour,
    )
