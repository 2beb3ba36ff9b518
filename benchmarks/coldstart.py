"""Cold start: a fresh kernel per run, ``%load_ext`` and the first ``%%agent`` cell to its first token,
against the page's code (``import databricks_openai`` + its client + the streaming loop) to its first token.

Scenarios, interleaved round by round (each run a new kernel process):

* ``agent``: the workspace is the one this harness started, given to the kernel by environment
  variables (OAuth M2M), as a configured user would have it; ``%load_ext agent_magics`` in one cell,
  then ``%%agent bench-agent`` in the next;
* ``page``: the same environment; one cell with the page's serving example (``DatabricksOpenAI()``,
  ``responses.create(..., stream=True)``, ``for chunk in ...: print(chunk)``);
* ``agent_embedded``: no workspace configured: the first ``%%agent`` cell starts the embedded local
  workspace (its start-up is also measured on its own, from this process); for this cell, also the
  first iopub message that shows anything (the "starting the local demo workspace…" line) and the
  first answer word, both from sending the ``%%agent`` cell.

First token = from sending the cell to the client receiving the first iopub message that carries the
answer's first word (the user sees it then). ``agent`` counts both of its cells: the ``%load_ext`` cell
(sent to idle) plus the ``%%agent`` cell to its first token. ``%load_ext`` is also timed inside the
kernel (``time.perf_counter`` around ``run_line_magic``), without the message round trip.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agent_magics.transport.embedded import LocalWorkspace

from .kernel import BenchKernel
from .report import check, fmt, median, paired_ratio, table
from .streaming import FIRST_WORD

CUSTOM_INPUTS = {"tokens": 50, "tokens_per_second": 0, "first_token_delay": 0}
QUESTION = "What does Databricks do?"

LOAD_EXT = """
import time as _time
_t0 = _time.perf_counter()
get_ipython().run_line_magic("load_ext", "agent_magics")
_load_ext_s = _time.perf_counter() - _t0
"""
AGENT_CELL = f"%%agent bench-agent --custom-inputs '{json.dumps(CUSTOM_INPUTS)}'\n{QUESTION}"
# The page's serving example, custom_inputs through extra_body as the page shows, plus one line that
# notes when the first text chunk is in the kernel.
PAGE_CELL = f"""
from databricks_openai import DatabricksOpenAI

input_msgs = [{{"role": "user", "content": "{QUESTION}"}}]
endpoint = "bench-agent"
client = DatabricksOpenAI()
streaming_response = client.responses.create(
    model=endpoint, input=input_msgs, stream=True, extra_body={{"custom_inputs": {json.dumps(CUSTOM_INPUTS)}}}
)
_first = None
for chunk in streaming_response:
    if _first is None and chunk.type == "response.output_text.delta":
        _first = __import__("time").monotonic()
    print(chunk)
"""
HEAVY = ("databricks_openai", "databricks.sdk", "openai", "ipywidgets", "mlflow", "markdown_it", "nh3", "pandas")
LOADED = {"loaded": f"__import__('json').dumps([m for m in {HEAVY!r} if m in __import__('sys').modules])"}


def _agent(env: dict[str, str] | None) -> dict[str, Any]:
    with BenchKernel(env=env) as kernel:
        load = kernel.run(LOAD_EXT, expressions={"inside": "__import__('json').dumps(_load_ext_s)"})
        first = kernel.run(AGENT_CELL, marker=FIRST_WORD, expressions=LOADED, timeout=180)
        return {
            "kernel_start_s": kernel.started_in,
            "load_ext_s": load.expressions["inside"],
            "load_ext_cell_s": load.wall,
            "agent_cell_first_token_s": first.marker_at - first.sent if first.marker_at else None,
            "agent_cell_first_output_s": first.first_output_at - first.sent if first.first_output_at else None,
            "agent_cell_s": first.wall,
            "first_token_s": load.wall + (first.marker_at - first.sent) if first.marker_at else None,
            "modules_loaded": first.expressions["loaded"],
        }


def _page(env: dict[str, str]) -> dict[str, Any]:
    with BenchKernel(env=env) as kernel:
        ex = kernel.run(
            PAGE_CELL, marker=FIRST_WORD, expressions={"first": "__import__('json').dumps(_first)"}, timeout=180
        )
        chunk_at = ex.expressions["first"]
        return {
            "kernel_start_s": kernel.started_in,
            "first_token_s": ex.marker_at - ex.sent if ex.marker_at else None,
            "first_chunk_in_kernel_s": chunk_at - ex.sent if chunk_at else None,
            "cell_s": ex.wall,
        }


def workspace_startup(runs: int) -> list[float]:
    """Seconds for the embedded local workspace to start (what a no-config first cell waits for)."""
    times = []
    for _ in range(runs):
        t0 = time.monotonic()
        with LocalWorkspace():
            times.append(time.monotonic() - t0)
    return times


def run(runs: int, log: Any = print) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {"agent": [], "page": [], "agent_embedded": []}
    with LocalWorkspace(first_token_delay=0, tokens_per_second=0) as workspace:
        env = workspace.env("oauth")
        # One request first, so that the server's own first-request costs are not charged to a scenario.
        _agent(env)
        for index in range(runs):
            order = [("agent", env), ("page", env), ("agent_embedded", None)]
            for name, kernel_env in order[index % 3 :] + order[: index % 3]:
                rows[name].append(_page(env) if name == "page" else _agent(kernel_env))
            log(f"  cold start: round {index + 1}/{runs} done")
    startup = workspace_startup(runs)
    return summarise(rows, startup)


def summarise(rows: dict[str, list[dict[str, Any]]], startup: list[float]) -> dict[str, Any]:
    agent, page, embedded = rows["agent"], rows["page"], rows["agent_embedded"]
    return {
        "runs": rows,
        "workspace_startup_s": startup,
        "load_ext_ms": median(r["load_ext_s"] * 1e3 for r in agent + embedded),
        "load_ext_cell_ms": median(r["load_ext_cell_s"] * 1e3 for r in agent + embedded),
        "agent_first_token_s": median(r["first_token_s"] for r in agent),
        "page_first_token_s": median(r["first_token_s"] for r in page),
        "page_first_chunk_in_kernel_s": median(r["first_chunk_in_kernel_s"] for r in page),
        "embedded_first_token_s": median(r["first_token_s"] for r in embedded),
        "embedded_cell_first_output_s": median(r["agent_cell_first_output_s"] for r in embedded),
        "embedded_cell_first_token_s": median(r["agent_cell_first_token_s"] for r in embedded),
        "embedded_workspace_startup_s": median(startup),
        "page_over_agent": paired_ratio([r["first_token_s"] for r in page], [r["first_token_s"] for r in agent]),
        "kernel_start_s": median(r["kernel_start_s"] for r in agent + page + embedded),
        "agent_modules_loaded": agent[0]["modules_loaded"] if agent else None,
    }


def render(result: dict[str, Any]) -> str:
    figure = {
        "%load_ext agent_magics (inside the kernel)": fmt(result["load_ext_ms"], "ms"),
        "%load_ext cell, sent to idle": fmt(result["load_ext_cell_ms"], "ms"),
        "agent: %load_ext cell + %%agent cell to first token": fmt(result["agent_first_token_s"], "s"),
        "page: databricks_openai cell to first token": fmt(result["page_first_token_s"], "s"),
        "page: ... to its first chunk in the kernel (no print flush)": fmt(result["page_first_chunk_in_kernel_s"], "s"),
        "page / agent first token (median of per-round ratios)": fmt(result["page_over_agent"], "x"),
        "no workspace configured: %load_ext + first %%agent": fmt(result["embedded_first_token_s"], "s"),
        "  first %%agent cell: first output (the start-up line)": fmt(result["embedded_cell_first_output_s"], "s"),
        "  first %%agent cell: first answer text": fmt(result["embedded_cell_first_token_s"], "s"),
        "  of which the embedded workspace start-up (alone)": fmt(result["embedded_workspace_startup_s"], "s"),
        "fresh kernel start-up (for scale)": fmt(result["kernel_start_s"], "s"),
        "heavy modules after the first %%agent": ", ".join(result["agent_modules_loaded"] or []) or "-",
    }
    rows = [[name, value] for name, value in figure.items()]
    return table("Cold start (fresh kernel per run, medians)", ["figure", "value"], rows)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "figure": "%load_ext agent_magics",
            "value": result["load_ext_ms"],
            "target": "<= 50 ms",
            "status": check(result["load_ext_ms"], 50),
        },
        {
            "figure": "no workspace: first %%agent cell shows something",
            "value": result["embedded_cell_first_output_s"],
            "target": "<= 0.3 s",
            "status": check(result["embedded_cell_first_output_s"], 0.3),
        },
        {
            "figure": "no workspace: first %%agent cell's first answer text",
            "value": result["embedded_cell_first_token_s"],
            "target": "<= 2.5 s",
            "status": check(result["embedded_cell_first_token_s"], 2.5),
        },
        {
            "figure": "cold first token: page's code / %%agent",
            "value": result["page_over_agent"],
            "target": ">= 3 x",
            "status": check(result["page_over_agent"], 3, at_least=True),
        },
    ]
