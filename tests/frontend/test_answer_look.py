"""What a reader sees of an answer in JupyterLab 4 (Debian Chromium): computed styles, not markup.

* a fenced code block is a shaded, padded, monospace box with its language and coloured tokens,
  in the light and the dark theme; tables are left-aligned and bordered; quotes have a bar;
* the header of a real ``%%agent`` answer carries the tokens in/out, time to first token, tokens/s
  and duration, each with a tooltip saying what it counts; the question sent sits collapsed above
  the answer, and a ``--continue`` turn says its number;
* the same answer exported with ``nbconvert --to html`` looks the same (the styles travel inline);
* in the stream view, the block being written (inside its widget) already looks as it will once finished.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
import pytest
from test_lab import AGENT_TIMEOUT_MS, cells, open_notebook, run_all, wait_cell_done
from test_lab import notebook as notebook  # the fixture, shared

if TYPE_CHECKING:
    from conftest import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

MARKDOWN = """Here is the code:

```python
def greet(name):
    # say hello
    return "hello " + name
```

| city | temp |
|------|------|
| Paris | 21 |
| Oslo | 4 |

> A quoted line.

Inline `code` too.
"""

SHOW_MARKDOWN = f"""
from agent_magics.core.result import AgentResult
_md = {MARKDOWN!r}
AgentResult(target="demo", text=_md, output=[{{"type": "message", "id": "m1", "role": "assistant",
            "content": [{{"type": "output_text", "text": _md}}]}}])
"""

# Computed styles of the first answer in the output area of a cell (or of the document: nbconvert).
JS_LOOK = """(root) => {
  const scope = root ?? document;
  const answer = scope.querySelector('.am-answer');
  const pre = answer.querySelector('pre');
  const box = pre.parentElement;
  const code = pre.querySelector('code');
  const style = (el) => getComputedStyle(el);
  const colours = new Set(Array.from(code.querySelectorAll('span')).map(s => style(s).color));
  const label = box.firstElementChild === pre ? '' : box.firstElementChild.textContent;
  const td = answer.querySelector('td'), th = answer.querySelector('th');
  const quote = answer.querySelector('blockquote');
  const inline = answer.querySelector('p code');
  return {
    boxBackground: style(box).backgroundColor, pageBackground: style(document.body).backgroundColor,
    prePadding: parseFloat(style(pre).paddingLeft), preFont: style(pre).fontFamily, codeFont: style(code).fontFamily,
    boxBorder: parseFloat(style(box).borderTopWidth), label, tokenColours: colours.size, codeColour: style(code).color,
    keywordColour: style(code.querySelector('span')).color, codeBackground: style(code).backgroundColor,
    tdAlign: style(td).textAlign, thAlign: style(th).textAlign, tdBorder: parseFloat(style(td).borderLeftWidth),
    quoteBorder: parseFloat(style(quote).borderLeftWidth), inlineFont: style(inline).fontFamily,
    inlineBackground: style(inline).backgroundColor,
  };
}"""
JS_OUTPUT_AREA = (
    "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].node.querySelector('.jp-Cell-outputArea')"
)
TRANSPARENT = ("rgba(0, 0, 0, 0)", "transparent")


def look(page: Any, index: int | None = None) -> dict[str, Any]:
    if index is None:
        return page.evaluate(JS_LOOK, None)
    area = page.evaluate_handle(JS_OUTPUT_AREA, index)
    return page.evaluate(JS_LOOK, area)


def assert_code_table_quote(found: dict[str, Any]) -> None:
    assert found["boxBackground"] not in TRANSPARENT, found
    assert found["boxBackground"] != found["pageBackground"], found  # shaded against the page
    assert found["codeBackground"] in TRANSPARENT, found  # one shade for the whole box, not per line
    assert found["prePadding"] >= 6, found
    assert found["boxBorder"] >= 1, found
    assert re.search(r"mono|menlo|consolas", found["preFont"], re.I), found["preFont"]
    assert re.search(r"mono|menlo|consolas", found["inlineFont"], re.I), found["inlineFont"]
    assert found["inlineBackground"] not in TRANSPARENT, found
    assert found["label"] == "python"
    assert found["tokenColours"] >= 3, found  # keywords, strings, comments... in colours of their own
    assert found["tdAlign"] == "left" and found["thAlign"] == "left", found  # JupyterLab's own CSS right-aligns
    assert found["tdBorder"] >= 1, found
    assert found["quoteBorder"] >= 3, found


def test_code_tables_and_quotes_in_light_and_dark(lab: LabServer, page: Any, notebook: Any, screenshot: Any) -> None:
    name = notebook([("code", "%load_ext agent_magics"), ("code", SHOW_MARKDOWN)])
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 1, timeout_ms=60_000)
    light = look(page, 1)
    assert_code_table_quote(light)
    screenshot(page, "answer-look-light")

    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(300)  # the theme's stylesheet applied
    dark = look(page, 1)
    assert_code_table_quote(dark)
    assert dark["boxBackground"] != light["boxBackground"], (light, dark)  # the theme's own colours
    assert dark["keywordColour"] != light["keywordColour"], (light, dark)
    screenshot(page, "answer-look-dark")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")


# The stream view driven by hand in the kernel (the real widget, the real frontend): the markdown
# above, a few characters at a time, pausing while the code block is the block being written.
STREAM_MARKDOWN = f"""
import time
from agent_magics.core.events import Reduction, TextDelta, finish, reduce_event
from agent_magics.core.result import AgentResult
from agent_magics.view.live import make_view
_md, _view, _state = {MARKDOWN!r}, make_view("stream"), Reduction()
_view.start("demo")
_pause = _md.index("return") + 8  # "return" shown, the fenced block still open: the tail, rendered live
for _at in range(0, len(_md), 6):
    _event = TextDelta("m1", _md[_at : _at + 6])
    _view.on_event(reduce_event(_state, _event), _event)
    _view.flush()
    time.sleep(4 if _at <= _pause < _at + 6 else 0.02)
finish(_state)
_view.finish(AgentResult.from_reduction("demo", _state))
"""


def test_the_block_being_written_looks_like_the_finished_one_in_the_stream_view(
    lab: LabServer, page: Any, notebook: Any
) -> None:
    """While a code block streams in the stream view's widget it is already the shaded, padded,
    labelled, coloured box it will be once finished (the widget carries the same HTML and classes)."""
    name = notebook([("code", "%load_ext agent_magics"), ("code", STREAM_MARKDOWN)])
    open_notebook(page, lab, name)
    run_all(page)
    page.wait_for_function(
        "(i) => { const a = window.jupyterapp.shell.currentWidget.content.widgets[i].node"
        ".querySelector('.jp-Cell-outputArea .am-live-tail');"
        " return a && a.querySelector('pre code span') && a.textContent.includes('return'); }",  # the pause
        arg=1,
        timeout=60_000,
    )
    tail = page.evaluate_handle(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].node.querySelector('.am-live-tail')", 1
    )
    live = page.evaluate(JS_LOOK_CODE, tail)
    wait_cell_done(page, 1, timeout_ms=60_000)
    # Each finished block is an output of its own: the one holding the code block, now static.
    block = page.evaluate_handle(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].node"
        ".querySelector('.jp-Cell-outputArea pre').closest('.agent-magics-result').parentElement",
        1,
    )
    final = page.evaluate(JS_LOOK_CODE, block)
    assert page.evaluate("(b) => b.closest('.am-live-tail') === null", block)  # static HTML, not the widget
    assert live["label"] == "python" and live["tokenColours"] >= 3, live
    for key in ("boxBackground", "prePadding", "preFont", "boxBorder", "keywordColour"):
        assert live[key] == final[key], (key, live, final)


# JS_LOOK for a code block only (the live tail holds the block being written, not the table).
JS_LOOK_CODE = (
    JS_LOOK.replace(
        "const td = answer.querySelector('td'), th = answer.querySelector('th');",
        "const td = document.body, th = document.body;",
    )
    .replace("const quote = answer.querySelector('blockquote');", "const quote = document.body;")
    .replace("const inline = answer.querySelector('p code');", "const inline = document.body;")
)


def test_header_numbers_and_the_question_asked(lab: LabServer, page: Any, notebook: Any, screenshot: Any) -> None:
    name = notebook(
        [
            ("code", "%load_ext agent_magics\nwho = 'Databricks'"),
            ("code", "%%agent demo-agent\nWhat does {who} do?"),
            ("code", "%%agent demo-agent --continue\nAnd MLflow?"),
        ]
    )
    open_notebook(page, lab, name)
    run_all(page)
    wait_cell_done(page, 2, timeout_ms=AGENT_TIMEOUT_MS)
    area = cells(page).nth(1).locator(".jp-Cell-outputArea")
    metrics = {
        kind: (area.locator(f".am-header .am-metric-{kind}").first.inner_text(),
               area.locator(f".am-header .am-metric-{kind}").first.get_attribute("title"))
        for kind in ("tokens", "first-token", "rate", "total")
    }  # fmt: skip
    assert re.fullmatch(r"[\d,]+ in / [\d,]+ out tokens", metrics["tokens"][0]), metrics
    assert re.fullmatch(r"first token [\d.]+ s", metrics["first-token"][0]), metrics
    assert re.fullmatch(r"[\d,]+ tokens/s", metrics["rate"][0]), metrics
    assert re.fullmatch(r"[\d.]+ s|\d+ min \d+ s", metrics["total"][0]), metrics
    for text, title in metrics.values():  # each says what it counts
        assert title and len(title) > 20, (text, title)
    assert "usage" in metrics["tokens"][1]

    question = area.locator("details.am-question")
    assert question.get_attribute("open") is None  # collapsed
    summary = question.locator("summary").inner_text()
    assert "What does Databricks do?" in summary and "turn" not in summary  # filled in: {who} -> Databricks
    answer_top = area.locator(".am-answer").first.bounding_box()
    assert answer_top is not None and question.bounding_box()["y"] < answer_top["y"]  # above the answer

    second = cells(page).nth(2).locator(".jp-Cell-outputArea details.am-question summary").inner_text()
    assert "turn 2" in second and "And MLflow?" in second, second
    screenshot(page, "header-numbers")


def test_nbconvert_export_looks_the_same(tmp_path: Path, page: Any) -> None:
    """Run the notebook headless (nbclient), export it with nbconvert, and look at it in Chromium."""
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext agent_magics"), nbformat.v4.new_code_cell(SHOW_MARKDOWN)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    body, _ = HTMLExporter().from_notebook_node(nb)
    path = tmp_path / "export.html"
    path.write_text(body)
    page.route(re.compile(r"^https?://"), lambda route: route.abort())  # offline: no CDN for the export
    page.goto(path.as_uri())
    assert_code_table_quote(look(page))


def test_a_reopened_untrusted_notebook_keeps_the_look(lab: LabServer, page: Any, tmp_path: Path) -> None:
    """A saved notebook opened again (or someone else's) is untrusted: JupyterLab then sanitises its
    HTML outputs, and its sanitiser keeps only the CSS values it recognises (no ``var()``). Every
    themed declaration has a plain one before it, so the look survives in both themes."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%load_ext agent_magics"), nbformat.v4.new_code_cell(SHOW_MARKDOWN)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    name = "reopened-untrusted.ipynb"
    nbformat.write(nb, lab.root / name)  # not signed: untrusted when opened
    open_notebook(page, lab, name)
    page.wait_for_function(f"() => ({JS_OUTPUT_AREA})(1)?.querySelector('.am-answer pre') != null", timeout=30_000)
    trusted = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.widgets[1].model.trusted")
    assert trusted is False
    assert_code_table_quote(look(page, 1))
