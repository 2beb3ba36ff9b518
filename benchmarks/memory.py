"""Memory: how much a 1 MB streamed answer grows the kernel (RSS), and tracemalloc's view of it.

One kernel, ``%%agent bench-agent`` with the automatic (display) view, one token per delta as a model
sends them. A warm-up answer first (imports, caches, the workspace), then ``gc.collect()`` and the
kernel's RSS (psutil, from outside), the 1 MB answer (kept in ``--out``, as a user keeps it),
``gc.collect()`` and RSS again. RSS is also sampled every 20 ms during the cell for the peak. A
second run, inside ``tracemalloc``, gives the Python-level peak and what stays allocated.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from .kernel import BenchKernel
from .report import check, fmt, median, table
from .streaming import SETUP

TOKENS_PER_MB = 134_700  # bench-agent's text is ~7.43 bytes a token
WARM_UP_TOKENS = 20_000


def _agent_line(tokens: int, out: str) -> str:
    inputs = {"tokens": tokens, "tokens_per_second": 0, "first_token_delay": 0}
    return f"bench-agent --out {out} --custom-inputs '{json.dumps(inputs)}'"


TRACED = """
import gc, json, time, tracemalloc
gc.collect()
tracemalloc.start()
_before = tracemalloc.get_traced_memory()[0]
get_ipython().run_cell_magic("agent", {line!r}, "memory")
time.sleep(0.5)  # the iopub thread sends the last display messages; their bytes are not the answer's
gc.collect()
_now, _peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
_traced = json.dumps({{"retained": _now - _before, "peak": _peak - _before}})
"""


class _PeakSampler:
    """Samples a process's RSS from a thread until stopped; keeps the maximum."""

    def __init__(self, kernel: BenchKernel, period: float = 0.02) -> None:
        self._kernel, self._period = kernel, period
        self._stop = threading.Event()
        self.peak = kernel.rss()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self._period):
            self.peak = max(self.peak, self._kernel.rss())

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run(runs: int, log: Any = print, megabytes: float = 1.0) -> dict[str, Any]:
    tokens = int(TOKENS_PER_MB * megabytes)
    rows = []
    for index in range(runs):
        with BenchKernel() as kernel:
            kernel.run(SETUP)
            kernel.run(f"%%agent {_agent_line(WARM_UP_TOKENS, '_warm')}\nwarm up")
            kernel.run("import gc; gc.collect()")
            before = kernel.rss()
            with _PeakSampler(kernel) as sampler:
                ex = kernel.run(
                    f"%%agent {_agent_line(tokens, '_mem')}\nmemory",
                    expressions={"answer": "__import__('json').dumps([_mem.status, len(_mem.text.encode())])"},
                    timeout=300,
                )
            kernel.run("gc.collect()")
            after = kernel.rss()
            status, answer = ex.expressions["answer"]
            if status != "completed":
                raise RuntimeError(f"the 1 MB answer ended {status}")
            kernel.run("del _mem; _ = __ = ___ = None; Out.clear(); gc.collect()")
            traced = kernel.run(
                TRACED.format(line=_agent_line(tokens, "_mem")),
                expressions={"traced": "_traced"},
                timeout=600,
            ).expressions["traced"]
            rows.append(
                {
                    "answer_bytes": answer,
                    "rss_growth": after - before,
                    "rss_peak_growth": sampler.peak - before,
                    "tracemalloc_retained": traced["retained"],
                    "tracemalloc_peak": traced["peak"],
                    "wall_s": ex.wall,
                }
            )
        log(f"  memory: run {index + 1}/{runs} done")
    answer = median(r["answer_bytes"] for r in rows)
    assert answer

    def ratio(key: str) -> float | None:
        return median(r[key] / r["answer_bytes"] for r in rows)

    return {
        "runs": rows,
        "answer_bytes": answer,
        "tokens": tokens,
        "rss_growth_over_answer": ratio("rss_growth"),
        "rss_peak_growth_over_answer": ratio("rss_peak_growth"),
        "tracemalloc_retained_over_answer": ratio("tracemalloc_retained"),
        "tracemalloc_peak_over_answer": ratio("tracemalloc_peak"),
    }


def render(result: dict[str, Any]) -> str:
    mb = result["answer_bytes"] / 1e6
    rows = [
        ["answer", fmt(mb, "MB"), ""],
        ["RSS growth after the cell (gc'd, result kept)", fmt(result["rss_growth_over_answer"], "x"), ""],
        ["RSS peak growth during the cell", fmt(result["rss_peak_growth_over_answer"], "x"), ""],
        ["tracemalloc: retained after the cell", fmt(result["tracemalloc_retained_over_answer"], "x"), ""],
        ["tracemalloc: peak during the cell", fmt(result["tracemalloc_peak_over_answer"], "x"), ""],
    ]
    title = "Memory of a streamed answer (medians, as multiples of the answer size)"
    return table(title, ["figure", "value", ""], rows)


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    value = result["rss_growth_over_answer"]
    figure = f"kernel RSS growth / {result['answer_bytes'] / 1e6:.2g} MB answer"
    return [{"figure": figure, "value": value, "target": "<= 3 x", "status": check(value, 3)}]
