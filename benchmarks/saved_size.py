"""Saved size: the bytes a notebook keeps per answer with a trace, and the trace panel's render time.

A notebook is run in a real kernel with nbclient (the embedded local workspace, no workspace
configured): ``%%agent demo-agent --return-trace`` (a real MLflow trace, 4 spans), then the same
answer with traces of 5,000 and 50,000 spans, shown the way a finished answer is (the result's
static HTML + text bundle). Those big traces are the demo-agent's own trace with its tool and model
spans repeated under the root (real content, ids and times made unique), since no demo agent makes
thousands of spans. *Saved bytes* are a cell's outputs as nbformat writes them (JSON, indent 1),
UTF-8 encoded. ``--baseline REF`` runs the same notebook once more on the code of a git commit
(``git archive`` into a temporary directory, first on ``PYTHONPATH``), for today's figures.

*Render time* is measured in this process: ``trace_to_html`` on parsed traces of 5,000 and 50,000
spans, against ``parse_trace`` of the same trace in the same round (the parse is O(spans), the panel
is bounded), as a median of per-round ratios.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

from .kernel import ROOT, kernel_env
from .report import check, fmt, median, paired_ratio, table, write

SIZES = (5_000, 50_000)
TARGET_BYTES = 1_000_000  # a 5,000-span answer saves at most 1 MB

# Builds a trace of n spans from the demo-agent's real one: the root, then its children repeated.
GROW = """
import copy, json
def grow(trace, n):
    trace = copy.deepcopy(trace)
    spans = trace["data"]["spans"]
    root = next(s for s in spans if not s.get("parent_span_id"))
    children = [s for s in spans if s is not root]
    grown, i = [root], 0
    while len(grown) < n:
        for child in children:
            clone = copy.deepcopy(child)
            i += 1
            clone["span_id"] = f"{i:016x}"
            if clone.get("parent_span_id") != root["span_id"]:
                clone["parent_span_id"] = root["span_id"]
            clone["start_time_unix_nano"] = int(root["start_time_unix_nano"]) + i * 1000
            clone["end_time_unix_nano"] = int(root["start_time_unix_nano"]) + i * 1000 + 800
            grown.append(clone)
            if len(grown) == n:
                break
    trace["data"]["spans"] = grown
    return trace
"""


def _cells() -> list[str]:
    shown = (
        "AgentResult(target=r.target, text=r.text, output=r.output, status=r.status,"
        " trace_dict=grow(r.trace_dict, {n}))"
    )
    return [
        "%load_ext agent_magics",
        "%%agent demo-agent --return-trace --out r\nWhat does Databricks do?",
        GROW + "from agent_magics.core.result import AgentResult\nprint(len(r.trace_dict['data']['spans']))",
        *(shown.format(n=n) for n in SIZES),
    ]


def saved_bytes(outputs: list[Any]) -> int:
    return len(json.dumps(outputs, indent=1, ensure_ascii=False).encode())


def run_notebook(source: Path | None = None, timeout: int = 600) -> dict[str, Any]:
    """Run the notebook (on ``source``'s code when given) and measure each answer's saved bytes."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src) for src in _cells()]
    env = kernel_env({"PYTHONPATH": str(source)} if source else None)
    with tempfile.TemporaryDirectory(prefix="am-saved-") as home:
        env.update(IPYTHONDIR=str(Path(home) / "ipython"))
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": home}})
        started = time.monotonic()
        client.execute(env=env)
    answer = nb.cells[1].outputs
    assert any("text/html" in o.get("data", {}) for o in answer), "the demo-agent answer has no HTML output"
    figures = {"demo-agent --return-trace answer": saved_bytes(answer)}
    for n, cell in zip(SIZES, nb.cells[3:], strict=True):
        figures[f"answer with a {n:,}-span trace"] = saved_bytes(cell.outputs)
    whole = len(nbformat.writes(nb).encode())
    return {"saved_bytes": figures, "notebook_bytes": whole, "wall_s": time.monotonic() - started}


def extract(ref: str, into: Path) -> Path:
    """The agent_magics package of commit ``ref``, unpacked under ``into``."""
    archive = subprocess.run(["git", "archive", ref, "agent_magics"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into


def render_times(runs: int) -> dict[str, Any]:
    """trace_to_html against parse_trace on the same grown trace, interleaved round by round."""
    from agent_magics.core.trace import parse_trace
    from agent_magics.view.trace_html import trace_to_html

    base = json.loads((ROOT / "tests" / "fixtures" / "traces" / "v3_agent.json").read_text())
    namespace: dict[str, Any] = {}
    exec(GROW, namespace)
    out = {}
    for n in SIZES:
        data = namespace["grow"](base, n)
        parses, renders = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            trace = parse_trace(data)
            t1 = time.perf_counter()
            trace_to_html(trace)
            t2 = time.perf_counter()
            parses.append(t1 - t0)
            renders.append(t2 - t1)
        out[f"{n:,} spans"] = {
            "render_ms": median(renders) * 1000,
            "parse_ms": median(parses) * 1000,
            "render_to_parse": paired_ratio(renders, parses),
        }
    return out


def run(runs: int, log: Any = print, baseline: str | None = None) -> dict[str, Any]:
    log("saved size: the notebook on this code ...")
    result: dict[str, Any] = {"current": run_notebook()}
    if baseline:
        log(f"saved size: the notebook on {baseline} ...")
        with tempfile.TemporaryDirectory(prefix="am-baseline-") as tmp:
            result["baseline"] = {"ref": baseline, **run_notebook(extract(baseline, Path(tmp)))}
    log("saved size: render times ...")
    result["render"] = render_times(runs)
    return result


def render(result: dict[str, Any]) -> str:
    before = result.get("baseline", {}).get("saved_bytes", {})
    rows = [
        [name, fmt(before.get(name), "B"), fmt(value, "B")] for name, value in result["current"]["saved_bytes"].items()
    ]
    head = ["answer", f"before ({result['baseline']['ref']})" if before else "before", "now"]
    lines = [table("Saved bytes per answer", head, rows)]
    times = [[k, fmt(v["render_ms"], "ms"), fmt(v["parse_ms"], "ms"), fmt(v["render_to_parse"])]
             for k, v in result["render"].items()]  # fmt: skip
    lines.append(table("Trace panel render time", ["trace", "render", "parse", "render / parse"], times))
    return "\n\n".join(lines)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    saved = result["current"]["saved_bytes"]
    five = saved["answer with a 5,000-span trace"]
    fifty = saved["answer with a 50,000-span trace"]
    render_ratio = result["render"]["50,000 spans"]["render_to_parse"]
    return [
        {"figure": "saved bytes: demo-agent --return-trace answer", "value": saved["demo-agent --return-trace answer"],
         "target": "-", "status": "reported"},
        {"figure": "saved bytes: answer with a 5,000-span trace", "value": five, "target": "<= 1 MB",
         "status": check(five, TARGET_BYTES)},
        {"figure": "saved bytes: answer with a 50,000-span trace", "value": fifty, "target": "<= 1 MB",
         "status": check(fifty, TARGET_BYTES)},
        {"figure": "trace panel render / parse time, 50,000 spans", "value": render_ratio, "target": "<= 1",
         "status": check(render_ratio, 1.0)},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", help="a git ref whose code is measured too (today's figures)")
    args = parser.parse_args(argv)
    result = run(args.runs, baseline=args.baseline)
    write("saved_size", {"method": __doc__, **result})
    print(render(result))
    for t in targets(result):
        print(f"{t['figure']}: {fmt(t['value'])} (target {t['target']}: {t['status']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
