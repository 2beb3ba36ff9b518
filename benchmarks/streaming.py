"""Streaming through a real kernel: ``%%agent`` against the page's raw loop and a naive widget.

One kernel (no workspace configured, so ``%%agent`` starts the embedded local workspace, and the
baselines talk to that same server) runs every method of every case, rotating the order each round
so that drift and order effects fall on all methods alike. Per cell the client counts iopub
messages and serialised bytes; the kernel's CPU time comes from psutil.

* ``agent``: ``%%agent bench-agent`` with its automatic view (``detect_mode`` picks the display
  view in any kernel; the probe records which view ran) and its default transport (plain REST:
  ``client_library`` is pinned to ``openai`` although the kernel imports databricks_openai for the
  raw loop, as in a kernel without it); ``agent_client``: the same with ``--via client``;
  ``agent_widget``: the same with ``--view widget`` (one ipywidgets output, replaced at the end);
* ``raw``: the page's loop, ``for chunk in client.responses.create(..., stream=True): print(chunk)``
  with ``DatabricksOpenAI`` (databricks-openai) over the same workspace;
* ``naive``: the same stream, ``ipywidgets.HTML.value = text_so_far`` on every text delta.

First update: the kernel notes ``time.monotonic()`` when the first text delta comes out of the
engine (``probe.py``; the baselines note it in their loop), and the client notes when the first
iopub message carrying the first answer word arrives. Both are CLOCK_MONOTONIC, so the difference is
the delay from the chunk being in the kernel to the update reaching the frontend's socket.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .kernel import BenchKernel, Execution
from .report import check, fmt, median, paired_ratio, table

METHODS = ("agent", "raw", "naive")
# %%agent by default (REST unless DatabricksOpenAI, the display view), --via client, --view widget
AGENT_METHODS = ("agent", "agent_client", "agent_widget", "agent_stream")
FIRST_WORD = b"Lakehouse"  # bench-agent's first token (agents.bench_tokens), found in the first update
QUESTION = "benchmark"


@dataclass(frozen=True)
class Case:
    name: str
    tokens: int
    tokens_per_second: float  # 0: as fast as the server can
    methods: tuple[str, ...] = METHODS
    runs: int | None = None  # rounds; None: the suite's default
    most: dict[str, int] = field(default_factory=dict)  # fewer rounds for some methods (slow baselines)

    def custom_inputs(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "tokens_per_second": self.tokens_per_second, "first_token_delay": 0}


SETUP = """
%load_ext agent_magics
# databricks_openai is imported below for the raw loop; %%agent's "auto" would then switch to it.
# Pin the path a user without databricks_openai gets (the default).
%config AgentMagics.client_library = "openai"
"""

SETUP_BASELINES = """
import time
import ipywidgets
from IPython.display import display
from databricks.sdk import WorkspaceClient
from databricks_openai import DatabricksOpenAI
from agent_magics.transport.embedded import shared_workspace
from benchmarks import probe

_ws = shared_workspace()  # the embedded workspace %%agent started
client = DatabricksOpenAI(
    workspace_client=WorkspaceClient(
        host=_ws.host, client_id=_ws.client_id, client_secret=_ws.client_secret, auth_type="oauth-m2m"
    )
)
probe.install()
"""


def cell(method: str, custom_inputs: dict[str, Any]) -> str:
    ci = json.dumps(custom_inputs)
    if method in AGENT_METHODS:
        extra = {
            "agent_client": " --via client",
            "agent_widget": " --view widget",
            "agent_stream": " --view stream",
        }.get(method, "")
        return f"%%agent bench-agent{extra} --out _bench --custom-inputs '{ci}'\n{QUESTION}"
    create = (
        f'client.responses.create(model="bench-agent", input=[{{"role": "user", "content": "{QUESTION}"}}], '
        f'stream=True, extra_body={{"custom_inputs": {ci}}})'
    )
    if method == "raw":  # the page's loop, plus one check to note the first text chunk
        return f"""
_first = None
for chunk in {create}:
    if _first is None and chunk.type == "response.output_text.delta":
        _first = time.monotonic()
    print(chunk)
probe.state["first_chunk"] = _first
"""
    if method == "naive":
        return f"""
_first, _text, _html = None, "", ipywidgets.HTML()
display(_html)
for chunk in {create}:
    if chunk.type == "response.output_text.delta":
        if _first is None:
            _first = time.monotonic()
        _text += chunk.delta
        _html.value = _text
_html.close()
probe.state["first_chunk"] = _first
"""
    raise ValueError(method)


PROBE = {"probe": "__import__('benchmarks.probe').probe.take()"}
ANSWER = {"answer": "__import__('json').dumps([_bench.status, len(_bench.text.encode())])"}


def measure(kernel: BenchKernel, method: str, case: Case) -> dict[str, Any]:
    kernel.run("", expressions=PROBE)  # clear the notes
    expressions = {**PROBE, **ANSWER} if method in AGENT_METHODS else PROBE
    ex: Execution = kernel.run(cell(method, case.custom_inputs()), marker=FIRST_WORD, expressions=expressions)
    notes = ex.expressions["probe"]
    first_chunk = notes["first_chunk"]
    row: dict[str, Any] = {
        "wall_s": ex.wall,
        "kernel_cpu_s": ex.cpu,
        "iopub_messages": ex.messages,
        "iopub_limited": ex.limited,
        "iopub_bytes": ex.bytes,
        "iopub_bytes_by_type": ex.bytes_by_type,
        "first_update_s": ex.marker_at - first_chunk if ex.marker_at and first_chunk else None,
        "cell_to_first_update_s": ex.marker_at - ex.sent if ex.marker_at else None,
        "view": notes["view"],
    }
    if method in AGENT_METHODS:
        status, answer_bytes = ex.expressions["answer"]
        if status != "completed":
            raise RuntimeError(f"%%agent ended {status} in case {case.name}")
        row.update(answer_bytes=answer_bytes, updates=notes["updates"])
    elif method == "raw":
        row["updates"] = ex.messages.get("stream", 0)
    else:
        row["updates"] = ex.messages.get("comm_msg", 0)
    return row


def run(cases: list[Case], runs: int, log: Any = print) -> dict[str, Any]:
    with BenchKernel() as kernel:
        kernel.run(SETUP)
        warm = {"tokens": 200, "tokens_per_second": 0, "first_token_delay": 0}
        kernel.run(cell("agent", warm))  # starts the embedded workspace, imports the client path
        kernel.run(SETUP_BASELINES)
        for method in (*METHODS, "agent_client", "agent_widget"):  # imports and first-call costs out of the runs
            kernel.run(cell(method, warm))
        results: dict[str, Any] = {}
        for case in cases:
            rounds = case.runs or runs
            per_method: dict[str, list[dict[str, Any]]] = {m: [] for m in case.methods}
            for index in range(rounds):
                order = case.methods[index % len(case.methods) :] + case.methods[: index % len(case.methods)]
                for method in order:
                    if index < case.most.get(method, rounds):
                        per_method[method].append(measure(kernel, method, case))
                log(f"  {case.name}: round {index + 1}/{rounds} done")
            results[case.name] = summarise(case, per_method)
    return results


def summarise(case: Case, per_method: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    answer_bytes = median(r["answer_bytes"] for r in per_method["agent"])
    assert answer_bytes
    out: dict[str, Any] = {"case": asdict(case), "answer_bytes": answer_bytes, "methods": {}}
    for method, rows in per_method.items():
        wall = median(r["wall_s"] for r in rows)
        out["methods"][method] = {
            "runs": rows,
            "wall_s": wall,
            "kernel_cpu_per_token_us": median(r["kernel_cpu_s"] / case.tokens * 1e6 for r in rows),
            "iopub_messages_per_s": median(r["iopub_limited"] / r["wall_s"] for r in rows),
            # Per second of answer, an answer shorter than a second counting as one: the target is
            # about what a frontend renders in a second, and 6 updates in 0.24 s are 6, not "25/s".
            "updates_per_s": median(r["updates"] / max(r["wall_s"], 1.0) for r in rows),
            "bytes_over_answer": median(r["iopub_bytes"] / answer_bytes for r in rows),
            "first_update_ms": median(r["first_update_s"] * 1e3 for r in rows if r["first_update_s"] is not None),
        }
    if "raw" in per_method:
        raw_walls = [r["wall_s"] for r in per_method["raw"]]
        for method, rows in per_method.items():
            out["methods"][method]["wall_vs_raw"] = paired_ratio([r["wall_s"] for r in rows], raw_walls)
    return out


def render(results: dict[str, Any]) -> str:
    header = ["case", "answer", "method", "runs", "wall s", "x raw", "CPU µs/tok", "iopub msg/s", "updates/s",
              "bytes/answer", "1st update ms"]  # fmt: skip
    rows = []
    for name, case in results.items():
        for method, m in case["methods"].items():
            first = method == next(iter(case["methods"]))
            rows.append(
                [
                    name if first else "",
                    fmt(case["answer_bytes"] / 1000, "KB") if first else "",
                    method,
                    len(m["runs"]),
                    fmt(m["wall_s"]),
                    fmt(m.get("wall_vs_raw")),
                    fmt(m["kernel_cpu_per_token_us"]),
                    fmt(m["iopub_messages_per_s"]),
                    fmt(m["updates_per_s"]),
                    fmt(m["bytes_over_answer"]),
                    fmt(m["first_update_ms"]),
                ]
            )
    return table("Streaming through a kernel (medians; x raw = median of per-round ratios)", header, rows)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every streaming figure that has a target, for the summary table."""
    found = []
    for name, case in results.items():
        agent = case["methods"]["agent"]
        if "raw" in case["methods"]:
            found.append(_target(f"{name}: wall vs raw loop", agent["wall_vs_raw"], 1.05, "x"))
            if "agent_client" in case["methods"]:
                value = case["methods"]["agent_client"]["wall_vs_raw"]
                found.append(_target(f"{name}: wall vs raw loop (--via client)", value, 1.05, "x"))
        found.append(_target(f"{name}: live view updates/s", agent["updates_per_s"], 20, "/s"))
        found.append(_target(f"{name}: iopub msg/s (Jupyter Server limit)", agent["iopub_messages_per_s"], 1000, "/s"))
        found.append(_target(f"{name}: first update after first chunk", agent["first_update_ms"], 20, "ms"))
        # Reported, no target: a message's ~0.65 KB envelope is what slow streams pay,
        # a few KB/s; the smoothness targets are in live_updates.py.
        found.append({"figure": f"{name}: iopub bytes / answer bytes", "value": agent["bytes_over_answer"],
                      "target": "-", "status": "reported"})  # fmt: skip
    return found


def _target(what: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    return {"figure": what, "value": value, "target": f"<= {limit} {unit}", "status": check(value, limit)}
