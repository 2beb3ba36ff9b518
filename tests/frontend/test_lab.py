"""``%%agent`` in JupyterLab 4, in Debian Chromium: what a person sees is what is tested.

Every notebook here runs against the embedded local workspace (the kernel has no Databricks
configuration). Tests wait on conditions in the page (kernel status, cell execution counts, the
output DOM) with bounded timeouts; the streaming test records the answer on every DOM mutation of
the cell with a ``MutationObserver``, so it sees each live update and does not depend on timing.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import nbformat
import pytest

if TYPE_CHECKING:  # only for hints: importing conftest by name is fragile with several conftest.py
    from conftest import LabServer, PageLog

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

AGENT_TIMEOUT_MS = 90_000  # first %%agent in a kernel starts the local workspace (~10 s on 2 cores)
WIDGET_ERRORS = ("model not found", "Error displaying widget")
UPDATE_SCREENSHOT = os.environ.get("AGENT_MAGICS_UPDATE_SCREENSHOT") == "1"

# JavaScript run in the page. window.jupyterapp exists because the server runs with
# --LabApp.expose_app_in_browser; it gives the kernel status and cell models without screen-scraping.
JS_KERNEL_STATUS = """() => {
  const panel = window.jupyterapp?.shell?.currentWidget;
  return panel?.sessionContext?.session?.kernel?.status ?? null;
}"""
JS_CELL_STATE = """(index) => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cell = panel.content.widgets[index];
  const area = cell.node.querySelector('.jp-Cell-outputArea');
  return {
    count: cell.model.executionCount ?? null,
    text: area ? area.innerText : '',
    answer: area ? Array.from(area.querySelectorAll('.am-answer')).map(e => e.textContent).join(' ') : '',
    live: area ? area.querySelector('.jupyter-widgets, .am-live') !== null : false,
    errors: area ? Array.from(area.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')).map(e => e.innerText) : [],
  };
}"""
# Runs a command without awaiting it: commands.execute('notebook:run-all-cells') resolves only
# when every cell has finished, which would block the test while it should be watching.
JS_RUN = "(command) => { window.jupyterapp.commands.execute(command); }"
JS_RECORD_ANSWER = """(index) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const samples = [];
  let last = null;
  const record = () => {
    const area = cell.node.querySelector('.jp-Cell-outputArea');
    if (!area) return;
    const answer = Array.from(area.querySelectorAll('.am-answer')).map(e => e.textContent).join(' ');
    const live = area.querySelector('.jupyter-widgets, .am-live') !== null;
    const header = area.querySelector('.am-header')?.textContent ?? '';
    const tail = area.querySelector('.am-live-tail') !== null;  // the stream view's patched block
    const stale = area.querySelector('.am-live-tail[data-stale]') !== null;
    const key = live + '|' + tail + '|' + stale + '|' + answer + '|' + header;
    if (key !== last) { last = key; samples.push({t: performance.now(), live, tail, stale, answer, header}); }
  };
  // Sampled when the browser next paints, not on every DOM mutation: one update may take two
  // messages (an output becomes a finished block, the rest of the text moves to a new one below),
  // and what a person sees is the state after both, in the same frame.
  let scheduled = false;
  const onMutation = () => {
    if (!scheduled) { scheduled = true; requestAnimationFrame(() => { scheduled = false; record(); }); }
  };
  window.__amSamples = samples;
  window.__amObserver = new MutationObserver(onMutation);
  window.__amObserver.observe(cell.node, {subtree: true, childList: true, characterData: true});
}"""
# Everything in our rendered result that could run script, load something or escape its box.
# Links are listed apart: JupyterLab rewrites relative hrefs to /files/... on its own origin, so a
# link is only dangerous when its resolved URL has a non-http(s) scheme.
JS_DANGEROUS_DOM = """(index) => {
  const results = window.jupyterapp.shell.currentWidget.content.widgets[index].node
    .querySelectorAll('.jp-Cell-outputArea .agent-magics-result');
  const found = [], links = [];
  if (results.length === 0) found.push('no .agent-magics-result output at all');
  for (const el of Array.from(results).flatMap(r => [r, ...r.querySelectorAll('*')])) {
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed', 'form', 'input', 'button', 'meta', 'style', 'link',
         'base', 'frame', 'img', 'image', 'video', 'audio', 'source', 'svg'].includes(tag))
      found.push('<' + tag + '>');
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase(), value = attr.value.replace(/\\s/g, '').toLowerCase();
      if (name.startsWith('on')) found.push(tag + '[' + name + ']');
      if (['src', 'action', 'formaction', 'xlink:href', 'srcdoc', 'data', 'srcset', 'background']
          .includes(name)) found.push(tag + '[' + name + '=' + attr.value + ']');
      if (name === 'style' && /url\\(|expression|position:(fixed|absolute|sticky)|behavior/.test(value))
        found.push(tag + '[style=' + attr.value + ']');
    }
    if (tag === 'a' && el.hasAttribute('href')) {
      links.push(el.href);
      if (!['http:', 'https:', 'mailto:'].includes(el.protocol)) found.push('a[href=' + el.href + ']');
    }
    const position = getComputedStyle(el).position;
    if (position === 'fixed' || position === 'sticky') found.push(tag + ' position:' + position);
  }
  if (getComputedStyle(document.body).display === 'none') found.push('body display:none');
  return {found, links};
}"""


# -- helpers --------------------------------------------------------------------------------------
def open_notebook(page: Any, lab: LabServer, name: str) -> None:
    """Open ``name`` and wait until its kernel is idle (started and connected)."""
    # ?reset: start from an empty workspace, not with the notebooks of earlier tests reopened in tabs.
    page.goto(f"{lab.url}/lab/tree/{name}?reset")
    wait_notebook_shown(page, name)
    page.wait_for_function(f"() => ({JS_KERNEL_STATUS})() === 'idle'", timeout=60_000)


def wait_notebook_shown(page: Any, name: str) -> None:
    page.wait_for_function(
        "(name) => window.jupyterapp?.shell?.currentWidget?.context?.path === name"
        " && window.jupyterapp.shell.currentWidget.content.widgets.length > 0",
        arg=name,
        timeout=60_000,
    )


def cells(page: Any) -> Any:
    """Locator of the cells of the notebook in the current tab."""
    panel_id = page.evaluate("() => window.jupyterapp.shell.currentWidget.id")
    return page.locator(f"[id='{panel_id}'] .jp-Notebook .jp-Cell")


def run_all(page: Any) -> None:
    page.evaluate(JS_RUN, "notebook:run-all-cells")


def cell_state(page: Any, index: int) -> dict[str, Any]:
    return page.evaluate(JS_CELL_STATE, index)


def wait_cell_done(page: Any, index: int, timeout_ms: int = AGENT_TIMEOUT_MS) -> dict[str, Any]:
    """Wait until cell ``index`` has an execution count (its execute_reply arrived) and return its state."""
    page.wait_for_function(
        f"(i) => ({JS_CELL_STATE})(i).count !== null && ({JS_KERNEL_STATUS})() === 'idle'",
        arg=index,
        timeout=timeout_ms,
    )
    state = cell_state(page, index)
    assert not state["errors"] or all("Warning" in e for e in state["errors"]), state["errors"]
    return state


def save_notebook(page: Any, lab: LabServer, name: str) -> nbformat.NotebookNode:
    """File > Save, then read what the server wrote."""
    before = (lab.root / name).stat().st_mtime_ns
    page.evaluate(JS_RUN, "docmanager:save")
    deadline = time.monotonic() + 30
    while (lab.root / name).stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(0.05)
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)
    return nbformat.read(lab.root / name, as_version=4)


def expand(page: Any, index: int, summary_text: str | re.Pattern[str]) -> Any:
    """Click the first ``<summary>`` in cell ``index``'s output containing ``summary_text``; returns its <details>."""
    area = cells(page).nth(index).locator(".jp-Cell-outputArea")
    summary = area.locator("details > summary", has_text=summary_text).first
    details = summary.locator("xpath=..")
    assert details.get_attribute("open") is None, f"{summary_text!r} is expanded before the click"
    summary.click()
    page.wait_for_function("(el) => el.open", arg=details.element_handle(), timeout=5_000)
    return details


def agent_cell(target: str, question: str, **custom_inputs: Any) -> str:
    """A ``%%agent`` cell; ``custom_inputs`` go in as shell-quoted JSON."""
    options = f" --custom-inputs {shlex.quote(json.dumps(custom_inputs))}" if custom_inputs else ""
    return f"%%agent {target}{options}\n{question}"


def normalise(text: str) -> str:
    return " ".join(text.split())


def assert_streamed(state: dict[str, Any], samples: list[dict[str, Any]], expected: str) -> tuple[list[Any], list[int]]:
    """The cell ended static with the whole answer, after several growing prefixes of it were on screen."""
    assert not state["live"], "the live view is still there after the cell finished"
    assert normalise(samples[-1]["answer"]) == expected, "the final answer is not the whole stream"
    assert "completed" in samples[-1]["header"]
    live = [s for s in samples if s["live"] and s["answer"].strip()]
    lengths = [len(normalise(s["answer"])) for s in live]
    assert len(live) >= 5, f"only {len(live)} intermediate states: {lengths}"
    assert lengths == sorted(lengths), lengths
    assert lengths[0] < len(expected) // 2, f"first visible state already {lengths[0]} of {len(expected)} chars"
    for sample in live:
        assert expected.startswith(normalise(sample["answer"])), sample["answer"][-80:]
    return live, lengths


@pytest.fixture
def notebook(lab: LabServer, page: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Write a notebook into the server's root; shut its kernels down afterwards (frees CPU for the next test)."""

    def write(cells: list[tuple[str, str]]) -> str:
        name = re.sub(r"\W+", "_", request.node.name) + ".ipynb"
        lab.write_notebook(name, cells)
        return name

    yield write
    try:
        lab.shutdown_kernels()
    except Exception:
        pass


# -- tests ----------------------------------------------------------------------------------------
def test_smoke_print(lab: LabServer, page: Any, notebook: Any, page_log: PageLog) -> None:
    name = notebook([("code", "print(1+1)")])
    open_notebook(page, lab, name)
    run_all(page)
    state = wait_cell_done(page, 0, timeout_ms=30_000)
    assert state["text"].strip() == "2"
    assert not page_log.dialogs and not page_log.page_errors, (page_log.dialogs, page_log.page_errors)


def test_answer_streams_incrementally(lab: LabServer, page: Any, notebook: Any, screenshot: Any) -> None:
    from agent_magics.local.agents import bench_tokens

    tokens, rate = 300, 60
    name = notebook(
        [
            ("code", "%load_ext agent_magics"),
            ("code", agent_cell("bench-agent", "Stream slowly, please.", tokens=tokens, tokens_per_second=rate)),
        ]
    )
    open_notebook(page, lab, name)
    page.evaluate(JS_RECORD_ANSWER, 1)
    started = page.evaluate("() => performance.now()")
    run_all(page)
    page.wait_for_function(  # mid-stream: a picture of the live view, for people to look at
        f"() => {{ const s = ({JS_CELL_STATE})(1); return s.live && s.answer.split(' ').length > 120; }}",
        timeout=AGENT_TIMEOUT_MS,
    )
    screenshot(page, "streaming-live")
    state = wait_cell_done(page, 1)
    samples: list[dict[str, Any]] = page.evaluate("() => window.__amSamples")
    page.evaluate("() => window.__amObserver.disconnect()")

    expected = normalise("".join(bench_tokens(tokens, 50)))
    live, lengths = assert_streamed(state, samples, expected)
    assert any("streaming" in s["header"] for s in live)
    first, last = (live[0]["t"] - started) / 1000, (live[-1]["t"] - started) / 1000
    print(
        f"\nstreaming: {len(live)} distinct live states from {first:.1f} s to {last:.1f} s after Run All "
        f"({len(live) / max(last - first, 1e-3):.1f}/s); lengths {lengths[:4]}...{lengths[-2:]} of {len(expected)}"
    )
    screenshot(page, "streaming-final")


def test_stream_view_patches_the_block_being_written_then_leaves_static_outputs(
    lab: LabServer, page: Any, notebook: Any, page_log: PageLog
) -> None:
    """``--view stream``: the anywidget script in the page applies the patches (growing prefixes of
    the answer, never stale), and the saved notebook holds only static outputs."""
    from agent_magics.local.agents import bench_tokens

    tokens, rate = 300, 60
    cell = agent_cell("bench-agent", "Stream slowly, please.", tokens=tokens, tokens_per_second=rate)
    name = notebook([("code", "%load_ext agent_magics"), ("code", cell.replace("\n", " --view stream\n", 1))])
    open_notebook(page, lab, name)
    page.evaluate(JS_RECORD_ANSWER, 1)
    run_all(page)
    state = wait_cell_done(page, 1)
    samples: list[dict[str, Any]] = page.evaluate("() => window.__amSamples")
    page.evaluate("() => window.__amObserver.disconnect()")

    live, lengths = assert_streamed(state, samples, normalise("".join(bench_tokens(tokens, 50))))
    patched = [s for s in live if s["tail"]]
    assert len(patched) >= 5, f"the widget showed the tail in only {len(patched)} states"
    assert not any(s["stale"] for s in samples), "a widget missed a patch"
    assert not any(e in state["text"] for e in WIDGET_ERRORS), state["text"][:300]
    assert not page_log.page_errors, page_log.page_errors
    saved = save_notebook(page, lab, name)
    kinds = [set(o.get("data", {})) for o in saved.cells[1].outputs]
    assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds
    widget_state = saved.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert not widget_state.get("state"), f"widget state saved: {list(widget_state.get('state', {}))[:5]}"
    print(f"\nstream view: {len(live)} live states, {len(patched)} with the patched tail; lengths {lengths[-3:]}")


def test_tool_calls_and_trace_render_and_expand(lab: LabServer, page: Any, notebook: Any, screenshot: Any) -> None:
    name = notebook(
        [
            ("code", "%load_ext agent_magics"),
            ("code", "%%agent demo-agent --return-trace\nWhat does Databricks do?"),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    state = wait_cell_done(page, 1)
    assert not state["live"]
    assert "Databricks is a data and AI platform" in state["text"]
    if UPDATE_SCREENSHOT:  # the README's picture: refreshed on request, not on every run
        readme_screenshot(page, 1, REPO / "docs" / "screenshot.png")

    tool = expand(page, 1, "search_docs")
    assert tool.locator("pre").first.is_visible()
    assert "What does Databricks do?" in tool.inner_text()  # the tool's arguments
    # The trace panel: a header line, then one <details> row per span, every row closed (the trace
    # panel's own tests are in test_trace_panel.py). Expand the tool's span and check its inputs show.
    text = cell_state(page, 1)["text"]
    assert re.search(r"Trace tr-\w+ · [\d.]+ \S+ · \d+ spans", text), text[-800:]
    span = expand(page, 1, re.compile(r"TOOL\s+search_docs"))
    assert "inputs" in span.inner_text() and "What does Databricks do?" in span.inner_text()
    cells(page).nth(1).screenshot(path=str(screenshot.directory / "tool-calls-and-trace-cell.png"))


def readme_screenshot(page: Any, index: int, path: Path) -> None:
    """The cell in its default state, whole: a viewport tall enough that Lab's scroller shows it all."""
    size = page.viewport_size
    page.set_viewport_size({"width": 1100, "height": 2400})
    try:
        page.evaluate("() => document.activeElement?.blur()")  # no focus ring / cursor in the picture
        cell = cells(page).nth(index)
        cell.scroll_into_view_if_needed()
        box = cell.bounding_box()
        assert box is not None
        path.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(path), clip=box)
    finally:
        page.set_viewport_size(size)


def test_output_survives_reload_and_kernel_restart(
    lab: LabServer, browser: Any, page: Any, notebook: Any, screenshot: Any
) -> None:
    name = notebook(
        [
            ("code", "%load_ext agent_magics"),
            ("code", "%%agent demo-agent --return-trace\nWhat is MLflow?"),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    first = wait_cell_done(page, 1)
    answer = "MLflow"
    assert answer in first["text"] and not first["live"]
    saved = save_notebook(page, lab, name)

    # What the file keeps: the static bundle, no widget views, no widget state.
    outputs = saved.cells[1].outputs
    kinds = [set(o.get("data", {})) for o in outputs]
    assert any({"text/html", "text/plain"} <= k for k in kinds), kinds
    assert not any("application/vnd.jupyter.widget-view+json" in k for k in kinds), kinds
    widget_state = saved.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    assert not widget_state.get("state"), f"widget state saved: {list(widget_state.get('state', {}))[:5]}"

    # 1. Page reload, same kernel.
    page.reload()
    wait_notebook_shown(page, name)
    page.wait_for_function("() => document.querySelectorAll('.jp-Cell-outputArea .agent-magics-result').length > 0")
    text = cell_state(page, 1)["text"]
    assert answer in text and not any(e in text for e in WIDGET_ERRORS), text[:300]
    screenshot(page, "after-reload")

    # 2. Kernel shut down (as after a restart: no widget models anywhere), notebook reopened.
    page.close()
    lab.shutdown_kernels()
    assert lab.api("GET", "/api/kernels") == []
    reopened = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        open_notebook(reopened, lab, name)
        reopened.wait_for_selector(".jp-Cell-outputArea .agent-magics-result", timeout=30_000)
        state = cell_state(reopened, 1)
        assert answer in state["text"] and not state["live"]
        page_text = reopened.inner_text(".jp-NotebookPanel")
        assert not any(e in page_text for e in WIDGET_ERRORS), page_text[:500]
        expand(reopened, 1, "search_docs")  # static <details> still work without the kernel's help
        screenshot(reopened, "after-kernel-restart")
    finally:
        reopened.context.close()


def test_interrupt_keeps_partial_answer_marked_interrupted(
    lab: LabServer, page: Any, notebook: Any, screenshot: Any
) -> None:
    name = notebook(
        [
            ("code", "%load_ext agent_magics"),
            ("code", agent_cell("bench-agent", "A long answer, please.", tokens=3000, tokens_per_second=40)),
            ("code", "result = _\nprint(result.status, len(result.text))"),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    # Wait until a partial answer is on screen in the live widget, then Kernel > Interrupt Kernel.
    page.wait_for_function(
        f"() => {{ const s = ({JS_CELL_STATE})(1); return s.live && s.answer.split(' ').length > 20; }}",
        timeout=AGENT_TIMEOUT_MS,
    )
    page.get_by_role("menuitem", name="Kernel", exact=True).click()
    clicked = time.monotonic()
    page.locator(".lm-Menu-item[data-command='kernelmenu:interrupt']").click()
    state = wait_cell_done(page, 1, timeout_ms=30_000)
    stopped = time.monotonic() - clicked

    assert not state["live"], "the live widget was not replaced after the interrupt"
    assert "interrupted" in state["text"].lower(), state["text"][:300]
    partial = normalise(state["answer"])
    assert partial.startswith("Lakehouse") and len(partial.split()) > 20, partial[:200]  # kept
    assert "KeyboardInterrupt" not in state["text"]
    # Run All stops at the interrupted cell (as JupyterLab does for any interrupted cell) or goes on;
    # either way the kernel is usable: run the check cell explicitly.
    cells(page).nth(2).click()
    page.keyboard.press("Shift+Enter")
    after = wait_cell_done(page, 2, timeout_ms=30_000)
    status, chars = after["text"].split()[:2]
    assert status == "interrupted" and 0 < int(chars) < 3000 * 5, after["text"]
    print(f"\ninterrupt: cell finished {stopped:.2f} s after the click; {chars} chars kept")
    assert stopped < 5, f"interrupt took {stopped:.1f} s"
    screenshot(page, "interrupted")


def test_hostile_output_runs_nothing_and_loads_nothing(
    lab: LabServer, page: Any, notebook: Any, page_log: PageLog, screenshot: Any
) -> None:
    from agent_magics.local.hostile import EXFIL_ORIGIN, PAYLOADS

    name = notebook(
        [
            ("code", "%load_ext agent_magics"),
            (
                "code",
                agent_cell("hostile-agent --return-trace", "Show me everything.", q="<img src=x onerror=alert(1)>"),
            ),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    state = wait_cell_done(page, 1)
    assert not state["live"]

    # Open every <details> (tool calls, custom outputs, the trace and its spans): hidden content is
    # rendered too, and an ontoggle handler that survived sanitising would fire now.
    opened = page.evaluate(
        """() => { const all = document.querySelectorAll('.jp-Cell-outputArea details');
                   all.forEach(d => { d.open = true; }); return all.length; }"""
    )
    assert opened >= 3, opened
    # Let late effects (image loads, timers, toggle events) happen; the assertions below are on
    # what was recorded, not on the wait.
    page.wait_for_timeout(1000)
    screenshot(page, "hostile-expanded")

    origin = urlsplit(lab.url)
    foreign = [
        url
        for url in page_log.requests + page_log.websockets
        if (urlsplit(url).hostname, urlsplit(url).port) != (origin.hostname, origin.port)
    ]
    assert page_log.dialogs == [], page_log.dialogs
    assert foreign == [], foreign
    assert not any(EXFIL_ORIGIN in url for url in page_log.requests)
    assert page.evaluate("() => window.__xss === undefined")
    dom = page.evaluate(JS_DANGEROUS_DOM, 1)
    assert dom["found"] == [], dom["found"]
    assert not any(EXFIL_ORIGIN in link for link in dom["links"]), dom["links"]

    # Still readable as text: every payload's marker is visible in the output.
    text = state["text"] + page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[1].node"
        ".querySelector('.jp-Cell-outputArea').innerText"
    )
    markers = sorted({m for p in PAYLOADS for m in re.findall(r"xss-[a-z-]+", p)})
    markers += ["a harmless link", "innocent looking link", "remote image", "exfil-html.png", "styled", "overlay"]
    missing = [m for m in markers if m not in text]
    assert not missing, f"payload text lost: {missing}"
    print(
        f"\nhostile: {len(PAYLOADS)} payloads, {len(markers)} markers readable, {opened} <details> opened, "
        f"{len(page_log.requests)} requests + {len(page_log.websockets)} websockets, all to {lab.url}; "
        f"links left in the answer: {dom['links']}"
    )
    # The saved notebook carries the same sanitised HTML (no live widget leftovers).
    saved = save_notebook(page, lab, name)
    html = "".join(o.get("data", {}).get("text/html", "") for o in saved.cells[1].outputs)
    assert "<script" not in html.lower(), json.dumps(html)[:500]
    assert not re.search(r"<[a-z][^>]*\son[a-z]+\s*=", html, re.IGNORECASE), "an on* handler was saved"
