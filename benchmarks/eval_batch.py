"""Throughput of ``%%agent_eval``: rows/s of an evaluation against the concurrency bound.

Each row asks ``bench-agent`` on the local workspace with a fixed agent latency (``first_token_delay``
in the row's ``custom_inputs``, a few tokens, zero-paced workspace), then MLflow scores it. The bound
is what the concurrency allows: ``concurrency / latency`` rows/s, i.e. the evaluation cannot take less
than ``rows x latency / concurrency``. Concurrency is MLflow's predict pool
(``MLFLOW_GENAI_EVAL_MAX_WORKERS``). Measured the way a user runs it: ``evaluate()`` (the function under
``%%agent_eval``) on the embedded default, its runs in the local workspace's MLflow tracking server
(booted by a one-row warm-up, not timed), for two scorer sets:

* ``code``: ``latency_under:60`` only (no judge): the cost of our engine + MLflow's harness, traces
  and assessments written to the tracking server;
* ``judge``: plus ``safety`` through ``demo-judge`` (one judge call per row, on the same workspace);

and, as the baseline in the same run, the same questions through ``agent_magics.run.ask`` on a pool of
the same size with ``return_trace`` and no MLflow at all (``engine only``): what the agent and our
engine cost, so the rest is the evaluation harness (traces, assessments, runs written to the server).

Medians of several runs, interleaved. Run: ``.venv/bin/python -m benchmarks.eval_batch [--rows 60]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.report import fmt, table, write

LATENCY = 0.5
CONCURRENCY = 10
SCORER_SETS = {"code": ["latency_under:60"], "judge": ["latency_under:60", "safety"]}


def frame(rows: int) -> Any:
    import pandas as pd

    settings = {"first_token_delay": LATENCY, "tokens": 8, "tokens_per_second": 0}
    return pd.DataFrame(
        {"question": [f"Benchmark question {i}" for i in range(rows)], "custom_inputs": [settings] * rows}
    )


def engine_only(workspace: Any, rows: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from agent_magics.run import ask

    settings = frame(1).custom_inputs[0]
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        answers = list(
            pool.map(
                lambda i: ask("bench-agent", f"Benchmark question {i}", workspace=workspace, return_trace=True,
                              custom_inputs=settings),
                range(rows),
            )
        )  # fmt: skip
    assert all(a.ok for a in answers), "a row failed"


def run(rows: int, runs: int, log: Any = print) -> dict[str, Any]:
    for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        del os.environ[key]
    os.environ["DATABRICKS_CONFIG_FILE"] = "/nonexistent/databrickscfg"
    os.environ["MLFLOW_GENAI_EVAL_MAX_WORKERS"] = str(CONCURRENCY)
    store = tempfile.mkdtemp(prefix="agent-magics-eval-bench-")
    os.environ["AGENT_MAGICS_MLFLOW_DIR"] = store
    from agent_magics.evaluate import evaluate
    from agent_magics.transport.embedded import LocalWorkspace
    from agent_magics.transport.workspace import Workspace

    with LocalWorkspace(first_token_delay=0, tokens_per_second=0) as server:
        from databricks.sdk.config import Config

        config = Config(host=server.host, token=server.token, auth_type="pat")
        workspace = Workspace(host=server.host, config=config, label="bench", is_local=True)
        log("eval: warm-up (boots the MLflow tracking server) ...")
        evaluate(["bench-agent"], frame(1), scorers=["latency_under:60"], workspace=workspace)
        seconds: dict[str, list[float]] = {name: [] for name in [*SCORER_SETS, "engine only"]}
        for round_ in range(runs):
            started = time.monotonic()
            engine_only(workspace, rows)
            seconds["engine only"].append(time.monotonic() - started)
            log(f"eval: round {round_ + 1}, engine only: {rows} rows in {seconds['engine only'][-1]:.2f} s")
            for name, scorers in SCORER_SETS.items():
                started = time.monotonic()
                result = evaluate(["bench-agent"], frame(rows), scorers=scorers, workspace=workspace)
                took = time.monotonic() - started
                assert len(result.rows) == rows and all(r.ok for r in result.rows), "a row failed"
                seconds[name].append(took)
                log(f"eval: round {round_ + 1}, {name}: {rows} rows in {took:.2f} s")
    shutil.rmtree(store, ignore_errors=True)
    bound = rows * LATENCY / CONCURRENCY
    cases = []
    for name, taken in seconds.items():
        median = statistics.median(taken)
        cases.append(
            {
                "scorers": SCORER_SETS.get(name, ["(engine only: ask on a pool, no MLflow)"]),
                "seconds": taken,
                "median_seconds": median,
                "rows_per_second": rows / median,
                "bound_rows_per_second": rows / bound,
                "fraction_of_bound": bound / median,
            }
        )
    return {"rows": rows, "latency": LATENCY, "concurrency": CONCURRENCY, "bound_seconds": bound, "cases": cases}


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            ", ".join(case["scorers"]),
            fmt(case["median_seconds"], " s"),
            fmt(case["rows_per_second"]),
            fmt(case["bound_rows_per_second"]),
            fmt(case["fraction_of_bound"]),
        ]
        for case in result["cases"]
    ]
    title = (
        f"%%agent_eval: {result['rows']} rows, {result['latency'] * 1000:.0f} ms per answer, "
        f"concurrency {result['concurrency']} (bound {result['bound_seconds']:.1f} s)"
    )
    return table(title, ["scorers", "median", "rows/s", "bound rows/s", "fraction of bound"], rows)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    figures = []
    for case in result["cases"]:
        figures.append(
            {
                "figure": f"eval: {result['rows']} rows at {result['latency'] * 1000:.0f} ms, concurrency "
                f"{result['concurrency']}, {', '.join(case['scorers'])}: fraction of the bound",
                "value": case["fraction_of_bound"],
                "target": "-",
                "status": "reported",
            }
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(args.rows, args.runs)
    write("eval_batch", {"method": __doc__, **result})
    print(render(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
