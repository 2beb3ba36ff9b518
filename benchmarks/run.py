"""``make bench``: every benchmark, a table each, JSON in ``benchmarks/results/``.

    .venv/bin/python -m benchmarks.run                 # everything (~10 min on 2 cores)
    .venv/bin/python -m benchmarks.run --only coldstart memory --runs 5
    .venv/bin/python -m benchmarks.run --quick         # a smoke run; writes results/*-quick.json

Suites: ``streaming`` (streaming.py), ``coldstart`` (coldstart.py), ``memory`` (memory.py),
``saved`` (saved_size.py: saved bytes per answer with a trace, the trace panel's render time) and
``batch`` (``benchmarks/sql_batch.py``, another engineer's, run as it is when present). The last
table lists every figure that has a target and whether it is met. Not part of the test suite: the
figures depend on the machine, and the runs take minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import coldstart, live_updates, memory, saved_size, streaming
from .report import RESULTS, check, fmt, table, write

SUITES = ("live", "streaming", "coldstart", "memory", "saved", "batch", "spark", "eval")
BATCH = Path(__file__).resolve().parent / "sql_batch.py"
PYSPARK_PYTHON = Path(__file__).resolve().parents[1] / ".venv-pyspark" / "bin" / "python"


def streaming_cases(quick: bool) -> list[streaming.Case]:
    if quick:
        return [
            streaming.Case("5k tokens, full speed", 5000, 0),
            streaming.Case("1k tokens, 200 tok/s", 1000, 200),
        ]
    return [
        streaming.Case("5k tokens, full speed", 5000, 0, methods=("agent", "agent_client", "raw", "naive")),
        streaming.Case("100 KB, full speed", 13_500, 0, methods=("agent", "agent_widget", "raw")),
        # paced: the wall time is the pace's, so the slow per-token widget baseline runs once
        streaming.Case(
            "5k tokens, 200 tok/s", 5000, 200, methods=("agent", "agent_widget", "raw", "naive"), most={"naive": 1}
        ),
        streaming.Case("100 KB, 200 tok/s", 13_500, 200, methods=("agent", "agent_widget"), runs=1),
    ]


def live_cases(quick: bool) -> list[live_updates.Case]:
    if quick:
        return [
            live_updates.Case("300 tokens, 40 tok/s", 300, 40),
            live_updates.Case("1k tokens, 200 tok/s", 1000, 200),
        ]
    return [live_updates.Case("1k tokens, 40 tok/s", 1000, 40), live_updates.Case("5k tokens, 200 tok/s", 5000, 200)]


def run_batch(log: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Run sql_batch.py at the target's concurrency; its own table and JSON are its output."""
    if not BATCH.exists():
        log("batch: benchmarks/sql_batch.py is not there (another engineer writes it): skipped")
        return None, [{"figure": "batch: fraction of ideal throughput", "value": None, "target": ">= 0.8",
                       "status": "n/a (benchmarks/sql_batch.py missing)"}]  # fmt: skip
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-m", "benchmarks.sql_batch", "--concurrency", "8"]
    done = subprocess.run(command, cwd=BATCH.parents[1], env=env, timeout=900, check=False)
    path = RESULTS / "sql_batch.json"
    if done.returncode != 0 or not path.exists():
        status = f"n/a (sql_batch.py exited with {done.returncode})"
        return None, [{"figure": "batch: fraction of ideal throughput", "value": None, "target": ">= 0.8",
                       "status": status}]  # fmt: skip
    report = json.loads(path.read_text())
    measured = report.get("target", {}).get("measured", {})
    return report, [
        {
            "figure": f"batch: 1,000 rows at 50 ms, concurrency 8, {name}: fraction of ideal",
            "value": value,
            "target": ">= 0.8",
            "status": check(value, 0.8, at_least=True),
        }
        for name, value in measured.items()
    ]


def run_spark_batch(log: Any) -> list[dict[str, Any]]:
    """spark_batch.py in the pyspark venv (make bench builds it): Spark local[2] beside the local engine."""
    figure = "spark: 1,000 rows on local[2] through register_ai_query: fraction of ideal"
    if not PYSPARK_PYTHON.exists():
        log("spark: .venv-pyspark is not there (make test-pyspark or make bench builds it): skipped")
        return [{"figure": figure, "value": None, "target": ">= 0.8", "status": "n/a (no .venv-pyspark)"}]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [str(PYSPARK_PYTHON), "-m", "benchmarks.spark_batch"]
    done = subprocess.run(command, cwd=BATCH.parents[1], env=env, timeout=900, check=False)
    path = RESULTS / "spark_batch.json"
    if done.returncode != 0 or not path.exists():
        status = f"n/a (spark_batch.py exited with {done.returncode})"
        return [{"figure": figure, "value": None, "target": ">= 0.8", "status": status}]
    report = json.loads(path.read_text())
    figures = [{"figure": figure, "value": report["target"]["measured"], "target": ">= 0.8",
                "status": check(report["target"]["measured"], 0.8, at_least=True)}]  # fmt: skip
    local = next((e for e in report["engines"] if e["engine"] == "local"), None)
    if local is not None:
        figures.append({"figure": "spark: the local DuckDB engine in the same run, fraction of ideal",
                        "value": local["fraction_of_ideal"], "target": "-", "status": "reported"})  # fmt: skip
    return figures


def compile_package() -> None:
    """Byte-compile agent_magics first, as ``pip install`` does for a user's copy.

    An editable checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's default) would
    otherwise compile every module from source in every fresh kernel and server process: 40 ms of
    ``%load_ext``'s 66 ms and ~0.3 s of the local workspace's start-up, costs no user has.
    """
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "agent_magics"), quiet=1, force=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="agent_magics benchmarks")
    parser.add_argument("--only", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument("--runs", type=int, default=3, help="rounds per comparison (medians)")
    parser.add_argument("--quick", action="store_true", help="one round, small sizes (a smoke run)")
    parser.add_argument(
        "--baseline-code",
        metavar="DIR",
        help="also run the live suite with the agent_magics package in DIR (e.g. an older commit), side by side",
    )
    args = parser.parse_args(argv)
    compile_package()
    runs = 1 if args.quick else args.runs
    suffix = "-quick" if args.quick else ""
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {message}", flush=True)

    targets: list[dict[str, Any]] = []
    if "live" in args.only:
        live_runs = 1 if args.quick else 2
        baseline = None
        if args.baseline_code:
            log(f"live view smoothness, baseline code in {args.baseline_code} ...")
            baseline = live_updates.run(live_cases(args.quick), live_runs, log, code=args.baseline_code)
            write(f"live-baseline{suffix}", {"method": live_updates.__doc__, "cases": baseline})
        log("live view smoothness ...")
        result = live_updates.run(live_cases(args.quick), live_runs, log)
        write(f"live{suffix}", {"method": live_updates.__doc__, "cases": result, "baseline": baseline})
        print(live_updates.render(result, baseline), flush=True)
        targets += live_updates.targets(result)
    if "streaming" in args.only:
        log("streaming through a kernel ...")
        result = streaming.run(streaming_cases(args.quick), runs, log)
        write(f"streaming{suffix}", {"method": streaming.__doc__, "cases": result})
        print(streaming.render(result), flush=True)
        targets += streaming.targets(result)
    if "coldstart" in args.only:
        log("cold start ...")
        result = coldstart.run(runs, log)
        write(f"coldstart{suffix}", {"method": coldstart.__doc__, **result})
        print(coldstart.render(result), flush=True)
        targets += coldstart.targets(result)
    if "memory" in args.only:
        log("memory ...")
        result = memory.run(1, log, megabytes=0.25 if args.quick else 1.0)
        write(f"memory{suffix}", {"method": memory.__doc__, **result})
        print(memory.render(result), flush=True)
        targets += memory.targets(result)
    if "saved" in args.only:
        log("saved size of answers with traces ...")
        result = saved_size.run(runs, log)
        write(f"saved_size{suffix}", {"method": saved_size.__doc__, **result})
        print(saved_size.render(result), flush=True)
        targets += saved_size.targets(result)
    if "batch" in args.only and not args.quick:
        log("batch (%agent_sql, benchmarks/sql_batch.py) ...")
        _, found = run_batch(log)
        targets += found
    if "spark" in args.only and not args.quick:
        log("spark (register_ai_query on local[2], benchmarks/spark_batch.py) ...")
        targets += run_spark_batch(log)

    if "eval" in args.only and not args.quick:
        log("eval (%%agent_eval, benchmarks/eval_batch.py) ...")
        from . import eval_batch

        result = eval_batch.run(60, runs, log)
        write("eval_batch", {"method": eval_batch.__doc__, **result})
        print(eval_batch.render(result), flush=True)
        targets += eval_batch.targets(result)

    rows = [[t["figure"], fmt(t["value"]), t["target"], t["status"]] for t in targets]
    print(table("Targets", ["figure", "value", "target", "status"], rows))
    path = write(f"summary{suffix}", {"targets": targets, "elapsed_s": time.monotonic() - started})
    log(f"done; JSON in {path.parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
