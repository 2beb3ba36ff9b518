"""ai_query on Spark local[2] through ``register_ai_query``, beside the local DuckDB engine: 1,000 rows.

Both engines ask the same fixed-latency loopback endpoint (``sql_batch.py``'s stub: every invocation
answers after exactly 50 ms), with the same bound on requests in flight: Spark runs 2 tasks at once
(local[2], the rows in 2 partitions) with ``concurrency`` per task, the local engine runs
``2 x concurrency``. Ideal = rows x 50 ms / (requests in flight); target: at least 0.8 of it on Spark.
Spark's session start and its Python workers' first imports are paid in a warm-up run, not timed
(workers are reused, as on a cluster). Medians of several interleaved runs.

Run with the pyspark venv (plain pyspark + Java): ``.venv-pyspark/bin/python -m benchmarks.spark_batch``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LATENCY = 0.05
TASKS = 2
TARGET = 0.8
RESULTS = Path(__file__).resolve().parent / "results" / "spark_batch.json"
SPARK_SQL = "SELECT id, ai_query('stub', concat('Benchmark question ', id)) AS answer FROM range(0, {rows}, 1, 2)"
LOCAL_SQL = "SELECT id, ai_query('stub', concat('Benchmark question ', id)) AS answer FROM range(0, {rows})"


def spark_run(spark: Any, rows: int) -> float:
    started = time.perf_counter()
    frame = spark.sql(SPARK_SQL.format(rows=rows)).toPandas()
    elapsed = time.perf_counter() - started
    _check(frame, rows)
    return elapsed


def spark_overhead(spark: Any, rows: int) -> float:
    """The same query with a pandas UDF that asks nothing: what Spark itself costs per statement."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    def echo(endpoint, request):
        return "Answer to " + request

    echo.__annotations__ = {"endpoint": pd.Series, "request": pd.Series, "return": pd.Series}  # real types

    spark.udf.register("echo_query", pandas_udf(echo, "string"))
    started = time.perf_counter()
    spark.sql(SPARK_SQL.format(rows=rows).replace("ai_query(", "echo_query(")).toPandas()
    return time.perf_counter() - started


def local_run(invoker: Any, rows: int, concurrency: int) -> float:
    from agent_magics.sql.local_engine import LocalOptions, run_local

    started = time.perf_counter()
    frame = run_local(LOCAL_SQL.format(rows=rows), {}, invoker, LocalOptions(concurrency=concurrency))
    elapsed = time.perf_counter() - started
    _check(frame, rows)
    return elapsed


def _check(frame: Any, rows: int) -> None:
    assert len(frame) == rows, f"{len(frame)} rows, not {rows}"
    ordered = frame.sort_values("id")
    expected = [f"Answer to Benchmark question {i}" for i in range(rows)]
    assert ordered["answer"].tolist() == expected, "a row got another row's answer, or none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="requests in flight per Spark task (default 4: 8 in all, the local engine's default)",
    )
    args = parser.parse_args()

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from databricks.sdk.config import Config
    from pyspark.sql import SparkSession

    from agent_magics.sql import register_ai_query
    from agent_magics.sql.invocations import WorkspaceInvoker
    from agent_magics.transport.workspace import Workspace
    from benchmarks.sql_batch import stub_endpoint

    bound = TASKS * args.concurrency
    with stub_endpoint() as host:
        started = time.perf_counter()
        spark = (SparkSession.builder.master(f"local[{TASKS}]").config("spark.ui.enabled", "false")
                 .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
                 .getOrCreate())  # fmt: skip
        spark.sparkContext.setLogLevel("ERROR")
        session_start = time.perf_counter() - started
        register_ai_query(spark, host=host, token="dapi-stub", concurrency=args.concurrency)
        workspace = Workspace(host=host, config=Config(host=host, token="dapi-stub", auth_type="pat"), label="stub")
        invoker = WorkspaceInvoker(workspace, retries=3)
        started = time.perf_counter()
        spark_run(spark, 100)  # warm-up: Python workers start, import, connect
        warm_up = time.perf_counter() - started
        local_run(invoker, 100, bound)
        spark_overhead(spark, 100)
        overhead = statistics.median(spark_overhead(spark, args.rows) for _ in range(3))
        walls: dict[str, list[float]] = {"spark": [], "local": []}
        for round_ in range(args.runs):
            order = ("spark", "local") if round_ % 2 == 0 else ("local", "spark")
            for name in order:
                if name == "spark":
                    walls[name].append(spark_run(spark, args.rows))
                else:
                    walls[name].append(local_run(invoker, args.rows, bound))
        spark.stop()
        workspace.close()

    ideal = args.rows * LATENCY / bound
    methods = {
        "spark": f"Spark local[{TASKS}] + register_ai_query, {args.concurrency} per task ({bound} in flight)",
        "local": f"%agent_sql local engine (DuckDB), concurrency {bound}",
    }
    rows = []
    for name, times in walls.items():
        wall = statistics.median(times)
        rows.append({
            "engine": name, "method": methods[name], "wall_s": round(wall, 3), "runs_s": [round(t, 3) for t in times],
            "ideal_s": round(ideal, 3), "fraction_of_ideal": round(ideal / wall, 3),
            "rows_per_s": round(args.rows / wall, 1),
        })  # fmt: skip
    measured = next(r["fraction_of_ideal"] for r in rows if r["engine"] == "spark")
    report = {
        "benchmark": "spark_batch",
        "rows": args.rows,
        "latency_s": LATENCY,
        "in_flight": bound,
        "runs": args.runs,
        "spark_session_start_s": round(session_start, 2),
        "spark_warm_up_s": round(warm_up, 2),
        "spark_statement_overhead_s": round(overhead, 3),  # the same query, a UDF that asks nothing
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "engines": rows,
        "target": {"fraction_of_ideal_on_spark": TARGET, "measured": measured, "met": measured >= TARGET},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{args.rows:,} rows, {LATENCY * 1000:.0f} ms per request, {bound} in flight, median of {args.runs} runs "
          f"(Spark session start {session_start:.1f} s, warm-up {warm_up:.1f} s, not timed; the same statement with a "
          f"UDF that asks nothing: {overhead:.2f} s)")  # fmt: skip
    print(f"{'method':<72} {'wall s':>7} {'ideal s':>8} {'of ideal':>9} {'rows/s':>7}")
    for row in rows:
        print(f"{row['method']:<72} {row['wall_s']:>7.2f} {row['ideal_s']:>8.2f} {row['fraction_of_ideal']:>9.2f} "
              f"{row['rows_per_s']:>7.1f}")  # fmt: skip
    print(f"target >= {TARGET} of ideal on Spark: {measured:.2f} -> {'met' if measured >= TARGET else 'NOT met'}")
    print(f"written: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
