"""Every demo notebook runs top to bottom on the local workspace, and what it saves is right.

Each ``notebooks/*.ipynb`` is executed with nbclient in a real kernel whose environment has no
Databricks configuration (so the embedded local workspace is used). The executed copies go to a
temporary directory (and to ``test-artifacts/notebooks/`` for inspection), never over the
sources. Then: no errors; every ``%%agent`` cell kept its answer as static HTML outputs (a header
whose text/plain is the whole result, then the answer's blocks, tools and trace), no widget view and
no widget state; no secret of the workspace anywhere in the saved JSON; nbconvert's HTML and
Markdown exports show the answers and the trace, never a widget repr.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
ARTIFACTS = REPO / "test-artifacts" / "notebooks"
CELL_TIMEOUT = 180  # seconds per cell: the first %%agent starts the local workspace
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# Token-shaped strings: Databricks PATs (dapi + hex), OAuth client secrets (dose + hex), bearer headers.
TOKEN_PATTERNS = [re.compile(r"dapi[0-9a-f]{8,}"), re.compile(r"dose[0-9a-f]{8,}"), re.compile(r"Bearer\s")]
# What a widget leaves in an export: its text/plain repr, or a rendered widget view.
WIDGET_REPRS = ("HTML(value=", "VBox(children=", "HBox(children=", "Output(outputs=", f'<script type="{WIDGET_VIEW}"')

# Run in the kernel after the notebook, outside it: the secrets this kernel used, to look for them.
SECRETS_PROBE = """
import json as _json
_secrets = []
try:
    from agent_magics.transport.embedded import shared_workspace as _sw
    _ws = _sw()
    _secrets += [_ws.token, _ws.client_secret]
except Exception as _exc:
    _secrets.append("probe-failed: " + repr(_exc))
try:
    from agent_magics.transport import workspace as _w
    for _workspace in list(_w._workspaces.values()):
        _auth = _workspace.auth_headers().get("Authorization", "")
        _secrets.append(_auth.split(" ", 1)[-1])
except Exception as _exc:
    _secrets.append("probe-failed: " + repr(_exc))
print(_json.dumps(_secrets))
"""


def kernel_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JUPYTER", "IPYTHON"))}
    env.pop("AGENT_MAGICS_TARGET", None)
    for name, sub in [("IPYTHONDIR", "ipython"), ("JUPYTER_RUNTIME_DIR", "runtime")]:
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(base / sub)
    env["DATABRICKS_CONFIG_FILE"] = str(base / "no-such-databrickscfg")
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["AGENT_MAGICS_MLFLOW_DIR"] = str(base / "mlflow")  # evaluate.ipynb's runs: not in ~/.cache
    return env


@dataclass
class Executed:
    name: str
    nb: nbformat.NotebookNode
    path: Path
    seconds: float
    secrets: list[str] = field(default_factory=list)
    timings: list[float] = field(default_factory=list)  # seconds per cell

    @property
    def text(self) -> str:
        return self.path.read_text()

    def agent_cells(self) -> list[nbformat.NotebookNode]:
        """Code cells that ran ``%%agent`` with a visible answer (not --quiet, not --list)."""
        return [
            c
            for c in self.nb.cells
            if c.cell_type == "code"
            and c.source.lstrip().startswith("%%agent")
            and not re.search(r"--(quiet|list|help)\b", c.source.splitlines()[0])
        ]


def execute(source: Path, workdir: Path) -> Executed:
    from nbclient import NotebookClient

    nb = nbformat.read(source, as_version=4)
    workdir.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        allow_errors=True,  # keep going, so one test reports every failing cell
    )
    started = time.monotonic()
    timings: list[float] = []
    # The steps of NotebookClient.execute(), spelled out to keep the kernel for the secrets probe.
    with client.setup_kernel(env=kernel_env(workdir)):
        info = client.wait_for_reply(client.kc.kernel_info())
        nb.metadata["language_info"] = info["content"]["language_info"]
        for index, cell in enumerate(nb.cells):
            t0 = time.monotonic()
            client.execute_cell(cell, index)
            timings.append(time.monotonic() - t0)
        client.set_widgets_metadata()
        # Ask the same kernel which secrets it used; this cell is not part of the notebook.
        nb.cells.append(nbformat.v4.new_code_cell(SECRETS_PROBE))
        client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
        probe = nb.cells.pop()
        secrets = json.loads(probe.outputs[-1]["text"].strip().splitlines()[-1])
    seconds = time.monotonic() - started
    path = workdir / source.name
    nbformat.write(nb, path)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / source.name)
    return Executed(source.stem, nb, path, seconds, secrets, timings)


@pytest.fixture(scope="module")
def run_notebook(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Execute a notebook once per test module, however many tests look at it."""
    cache: dict[Path, Executed] = {}

    def run(source: Path) -> Executed:
        if source not in cache:
            cache[source] = execute(source, tmp_path_factory.mktemp(source.stem))
        return cache[source]

    return run


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def executed(request: pytest.FixtureRequest, run_notebook: Any) -> Executed:
    return run_notebook(request.param)


def _generator() -> Any:
    """notebooks/make_notebooks.py, imported by path (it is a script, not part of the package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", REPO / "notebooks" / "make_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REGENERATE = "regenerate them: .venv/bin/python notebooks/make_notebooks.py --execute"
# Run-to-run noise a reader does not care about, on top of the generator's scrub: numbers (durations,
# token counts, timestamps), hex / uuid identifiers (trace, request and response ids), padding.
_NOISE = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "UUID"),
    (re.compile(r"\b(tr|resp|msg|call|fc|chatcmpl|run|req)[-_][0-9A-Za-z]{6,}"), r"\1-ID"),
    (re.compile(r"\b[0-9a-f]{16,}\b"), "HEX"),
    (re.compile(r"\d+(\.\d+)?"), "N"),
    (re.compile(r"[ \t]+"), " "),  # a table's column widths follow its numbers' widths
]


def _shown(cell: Any, scrub_text: Any) -> list[str]:
    """What a code cell shows, as text a reader would compare: one entry per output, noise masked."""
    shown: list[str] = []
    previous = None
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            if previous is not None and previous.output_type == "stream" and previous.name == output.name:
                shown.pop()  # where a stream is split into outputs depends on timing: compare the whole text
                text = previous.text + output.text
                output = nbformat.from_dict({**output, "text": text})
            else:
                text = output.text
        elif output.output_type == "error":
            text = f"{output.ename}: {output.evalue}"
        else:
            text = output.get("data", {}).get("text/plain", "<" + ",".join(sorted(output.get("data", {}))) + ">")
        text = scrub_text(text)
        for pattern, replacement in _NOISE:
            text = pattern.sub(replacement, text)
        shown.append(f"{output.output_type}: {text}")
        previous = output
    return shown


def test_committed_notebooks_are_the_generators_and_hold_no_volatile_values() -> None:
    generator = _generator()
    assert sorted(NOTEBOOKS) == sorted(REPO / "notebooks" / f"{n}.ipynb" for n in generator.NOTEBOOKS)
    for name, cells in generator.NOTEBOOKS.items():
        committed = nbformat.read(REPO / "notebooks" / f"{name}.ipynb", as_version=4)
        assert [c.source for c in committed.cells] == [src for _, src in cells], f"{name}: {REGENERATE}"
        text = json.dumps(committed.dict())
        assert not re.search(r"127\.0\.0\.1:\d", text), f"{name} keeps a loopback port: {REGENERATE}"
        assert generator.scrub(nbformat.from_dict(committed.dict())) == committed, f"{name}: {REGENERATE}"
        assert any(c.outputs for c in committed.cells if c.cell_type == "code"), f"{name} has no outputs"


def test_committed_outputs_are_what_the_code_shows_today(executed: Executed) -> None:
    """The notebook a reader opens shows what running it shows now (stale outputs were the bug)."""
    generator = _generator()
    committed = nbformat.read(REPO / "notebooks" / f"{executed.name}.ipynb", as_version=4)
    stale = []
    for index, (old, new) in enumerate(zip(committed.cells, executed.nb.cells)):
        if new.cell_type == "code" and _shown(old, generator.scrub_text) != _shown(new, generator.scrub_text):
            stale.append(f"cell {index} {new.source[:50]!r}")
    assert not stale, f"{executed.name}: outputs differ from a fresh run in {stale}; {REGENERATE}"


def test_no_start_up_line_is_saved(executed: Executed) -> None:
    """The cold start's "starting the local demo workspace…" is replaced by the banner, never saved."""
    assert "starting the local demo workspace" not in executed.text


@pytest.fixture
def agent_sql_notebook(run_notebook: Any) -> Executed:
    return run_notebook(REPO / "notebooks" / "agent_sql.ipynb")


def test_agent_sql_notebook_shows_answers_and_errors_not_dict_reprs(agent_sql_notebook: Executed) -> None:
    cells = [c for c in agent_sql_notebook.nb.cells if c.cell_type == "code" and "%%agent_sql" in c.source]
    assert len(cells) == 3
    for cell in cells:
        frames = [o for o in cell.outputs if o.output_type == "execute_result" and "text/html" in o.data]
        assert len(frames) == 1, cell.source[:60]
        html = frames[0].data["text/html"]
        assert "MLflow" in html and "{&#x27;result" not in html and "{'result" not in html, html[:400]
    checked = cells[1].outputs[-1].data["text/html"]
    assert checked.count("errorMessage: fault-500: HTTP 500") == 3
    struct = next(c for c in agent_sql_notebook.nb.cells if "checked.loc[0, 'broken']" in c.source)
    assert "'errorMessage': 'fault-500: HTTP 500" in struct.outputs[0].data["text/plain"]  # the data: a struct


def answer_words(plain: str) -> list[str]:
    """A few words of the answer, from the text/plain bundle (line 1 is the header; tool lines start with ⚙)."""
    lines = [line for line in plain.splitlines()[1:] if line.strip() and not line.startswith(("⚙", "!", "["))]
    return re.findall(r"[A-Za-z]{4,}", lines[0])[:5] if lines else []


def test_there_are_notebooks() -> None:
    assert any(p.name == "quickstart.ipynb" for p in NOTEBOOKS)


def test_runs_without_errors(executed: Executed) -> None:
    problems = []
    for index, cell in enumerate(executed.nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                problems.append(f"cell {index}: {output.ename}: {output.evalue}")
            elif (
                output.output_type == "stream"
                and output.name == "stderr"
                and re.search(r"Traceback|Error\b|UsageError", output.text)
            ):
                problems.append(f"cell {index} stderr: {output.text[:300]}")
    assert not problems, "\n".join(problems)
    slowest = sorted(enumerate(executed.timings), key=lambda t: -t[1])[:3]
    print(
        f"\n{executed.name}: {len(executed.nb.cells)} cells in {executed.seconds:.1f} s; slowest "
        + ", ".join(f"cell {i} {t:.1f} s" for i, t in slowest)
    )


def test_agent_cells_keep_static_answers(executed: Executed) -> None:
    cells = executed.agent_cells()
    if not cells:
        pytest.skip(f"{executed.name} has no %%agent cell with a visible answer")
    for cell in cells:
        bundles = [o for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
        mimes = [set(o.data) for o in bundles]
        assert not any(WIDGET_VIEW in m for m in mimes), f"widget view left in: {cell.source[:80]}"
        results = [o for o in bundles if "agent-magics-result" in o.data.get("text/html", "")]
        assert results, f"no static result for {cell.source[:80]!r}, got {mimes}"
        # The first output is the header (final status; the whole result as compact text/plain),
        # the others the answer's blocks, tool calls, custom outputs and trace, as they streamed.
        head = results[0].data
        html, plain = "".join(o.data["text/html"] for o in results), head.get("text/plain", "")
        assert "completed" in head["text/html"] and plain.strip(), cell.source[:80]
        assert all(o.output_type == "execute_result" or "text/plain" not in o.data for o in results[1:])
        # The answer itself is there: the text/plain answer's first words are in the HTML too.
        words = answer_words(plain)
        assert words, f"no answer text in text/plain: {plain[:300]}"
        assert all(w in html for w in words), (words, html[:300])
        if "--return-trace" in cell.source.splitlines()[0]:
            assert "Trace" in html and "span" in html, "trace not rendered"


def test_no_output_references_widget_state(executed: Executed) -> None:
    state = executed.nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    views = [
        o.data[WIDGET_VIEW].get("model_id")
        for c in executed.nb.cells
        for o in c.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {})
    ]
    assert not views, f"{len(views)} outputs are widget views (models {views[:3]}...)"
    size = len(json.dumps(state))
    print(f"\n{executed.name}: {len(state)} closed widget models in the metadata ({size:,} bytes)")


def test_no_dead_widget_state_saved(executed: Executed) -> None:
    """nbclient keeps the state of closed widgets (it ignores comm_close); the display view makes none."""
    state = executed.nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    assert not state, f"{len(state)} closed widget models ({len(json.dumps(state)):,} bytes) saved"


def test_no_secrets_in_saved_notebook(executed: Executed) -> None:
    text = executed.text
    for pattern in TOKEN_PATTERNS:
        match = pattern.search(text)
        assert match is None, (
            f"token-like string in {executed.name}: ...{text[max(match.start() - 40, 0) : match.end() + 8]}"
        )
    if not executed.agent_cells():
        return
    failed = [s for s in executed.secrets if s.startswith("probe-failed")]
    assert not failed, failed
    secrets = [s for s in executed.secrets if len(s) >= 16]
    assert len(secrets) >= 3, f"the probe found only {len(secrets)} secrets"  # PAT, client secret, OAuth token
    assert not [s for s in secrets if s in text], "a workspace secret is in the saved notebook"


@pytest.fixture
def quickstart(run_notebook: Any) -> Executed:
    return run_notebook(REPO / "notebooks" / "quickstart.ipynb")


@pytest.mark.parametrize("exporter_name", ["html", "markdown"])
def test_exports_show_answer_and_trace(quickstart: Executed, exporter_name: str) -> None:
    from nbconvert import HTMLExporter, MarkdownExporter

    exporter = HTMLExporter() if exporter_name == "html" else MarkdownExporter()
    body, _ = exporter.from_notebook_node(quickstart.nb)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"quickstart.{'html' if exporter_name == 'html' else 'md'}").write_text(body)
    leftovers = [r for r in WIDGET_REPRS if r in body]
    assert not leftovers, f"widget reprs in the {exporter_name} export: {leftovers}"
    assert "agent-magics-result" in body  # the static HTML bundle was chosen, not text/plain
    for cell in quickstart.agent_cells():
        plain = next(
            o.data["text/plain"]
            for o in cell.outputs
            if "agent-magics-result" in o.data.get("text/html", "") and "text/plain" in o.data
        )
        words = answer_words(plain)
        assert words and all(w in body for w in words), (words, cell.source[:80])
    traced = [c for c in quickstart.agent_cells() if "--return-trace" in c.source.splitlines()[0]]
    assert traced, "the quickstart should ask for a trace"
    assert re.search(r"<b>Trace</b>", body) and "predict_stream" in body, "the trace is not in the export"
    assert "<details" in body and "<summary" in body
