"""How smooth the live view is, seen from the frontend's socket: gaps, rate and re-sent text.

One kernel, ``bench-agent`` on the embedded local workspace, paced at a fixed token rate for the
whole answer (40 and 200 tokens/s). The client keeps the arrival time and content of every output
message of the cell (``kernel.run(record=True)``) and computes:

* *visible updates*: messages that carry answer text (an ``.am-answer`` fragment in a display's
  ``text/html`` or a widget's ``value``); messages arriving within ``FRAME`` of each other are one
  update (a finished block and the new tail below it come as two messages, painted in one frame);
* *gap p90*: the 90th percentile of the time between visible updates, from the first to the last
  (the whole answer: the text arrives at the same pace all along); target <= 250 ms;
* *updates/s*: visible updates over that span, and the most in any one-second window (<= 20);
* *re-sent*: answer characters that messages carried beyond the answer itself (tags stripped), as a
  multiple of the answer: 0 if every character went out once; target <= 1 (sent at most twice);
  for the stream view (``--view stream``) a patch counts what it appends;
* *iopub bytes*: every iopub message of the cell, serialised (reported, no target).

``--baseline-code DIR`` (``benchmarks.run``) runs the same cases with the ``agent_magics`` package
found in DIR first on the kernel's path (e.g. ``git archive`` of an older commit), side by side.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from .kernel import ROOT, BenchKernel
from .report import check, fmt, median, table
from .streaming import FIRST_WORD, SETUP, cell

NEW_METHODS = {"agent_stream"}  # not in older code: left out of --baseline-code runs
FRAME = 0.015  # seconds: messages closer than this are painted as one update
_TAG = re.compile(r"<[^>]+>")
ANSWER = {"answer": "__import__('json').dumps([_bench.status, len(_bench.text)])"}
WHERE = {"where": "__import__('json').dumps(__import__('agent_magics').__file__)"}


@dataclass(frozen=True)
class Case:
    name: str
    tokens: int
    tokens_per_second: float
    methods: tuple[str, ...] = ("agent", "agent_stream", "agent_widget")

    def custom_inputs(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "tokens_per_second": self.tokens_per_second, "first_token_delay": 0}


def answer_html(kind: str, content: bytes) -> str:
    """The answer HTML a message carries (display data, a widget's value, a stream-view patch), or ""."""
    if kind in ("display_data", "update_display_data", "execute_result"):
        if b"am-answer" not in content:
            return ""
        return str(json.loads(content).get("data", {}).get("text/html", ""))
    if kind in ("comm_msg", "comm_open"):
        state = (json.loads(content).get("data") or {}).get("state") or {}
        if isinstance(state.get("patch"), list) and len(state["patch"]) == 3:
            return str(state["patch"][2])  # the stream view's tail: what the patch appends
        fragment = str(state.get("value") or state.get("html") or "")
        return fragment if "am-answer" in fragment else ""
    return ""


def visible_chars(fragment: str) -> int:
    return len(html.unescape(_TAG.sub("", fragment)))


def figures(records: list[tuple[float, str, bytes]], answer_chars: int) -> dict[str, Any]:
    frames: list[float] = []
    sent_chars = 0
    for at, kind, content in records:
        fragment = answer_html(kind, content)
        if not fragment:
            continue
        sent_chars += visible_chars(fragment)
        if not frames or at - frames[-1] > FRAME:
            frames.append(at)
    gaps = sorted(b - a for a, b in itertools.pairwise(frames))
    span = frames[-1] - frames[0] if len(frames) > 1 else 0.0
    busiest = max((sum(1 for t in frames if start <= t < start + 1.0) for start in frames), default=0)
    return {
        "visible_updates": len(frames),
        "gap_p50_ms": gaps[len(gaps) // 2] * 1e3 if gaps else None,
        "gap_p90_ms": gaps[min(len(gaps) - 1, int(len(gaps) * 0.9))] * 1e3 if gaps else None,
        "gap_max_ms": gaps[-1] * 1e3 if gaps else None,
        "updates_per_s": (len(frames) - 1) / span if span else None,
        "busiest_second": busiest,
        "resent_over_answer": (sent_chars - answer_chars) / answer_chars if answer_chars else None,
    }


def run(cases: list[Case], runs: int, log: Any = print, code: str | None = None) -> dict[str, Any]:
    extra = {"PYTHONPATH": f"{code}:{ROOT}"} if code else {}  # that agent_magics first on the path
    results: dict[str, Any] = {}
    with BenchKernel(extra) as kernel:
        kernel.run(SETUP)
        warm = {"tokens": 200, "tokens_per_second": 0, "first_token_delay": 0}
        for method in ("agent",) if code else ("agent", "agent_stream"):  # imports (anywidget) before timing
            kernel.run(cell(method, warm))
        where = kernel.run("", expressions=WHERE).expressions["where"]
        log(f"  live updates: agent_magics from {where}")
        for case in cases:
            methods = tuple(m for m in case.methods if not (code and m in NEW_METHODS))
            per_method: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
            for index in range(runs):
                for method in methods[index % len(methods) :] + methods[: index % len(methods)]:
                    ex = kernel.run(
                        cell(method, case.custom_inputs()), marker=FIRST_WORD, expressions=ANSWER, record=True
                    )
                    status, chars = ex.expressions["answer"]
                    if status != "completed":
                        raise RuntimeError(f"%%agent ended {status} in case {case.name}")
                    row = figures(ex.records, chars)
                    row.update(iopub_bytes=ex.bytes, answer_chars=chars, wall_s=ex.wall)
                    per_method[method].append(row)
                log(f"  {case.name}: round {index + 1}/{runs} done")
            results[case.name] = {
                "case": asdict(case),
                "code": where,
                "methods": {
                    method: {"runs": rows, **{k: median(r[k] for r in rows) for k in rows[0] if k != "runs"}}
                    for method, rows in per_method.items()
                },
            }
    return results


COLUMNS = (
    ("gap p90 ms", "gap_p90_ms"),
    ("gap p50 ms", "gap_p50_ms"),
    ("gap max ms", "gap_max_ms"),
    ("updates/s", "updates_per_s"),
    ("busiest s", "busiest_second"),
    ("re-sent x", "resent_over_answer"),
    ("iopub KB", "iopub_bytes"),
)


def render(results: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    header = ["case", "method", "code", *(title for title, _ in COLUMNS)]
    rows = []
    for name, case in results.items():
        for method, m in case["methods"].items():
            sources = [("today", (baseline or {}).get(name, {}).get("methods", {}).get(method)), ("new", m)]
            for label, figures_ in sources:
                if figures_ is None:
                    continue
                values = [fmt(figures_[key] / 1000 if key == "iopub_bytes" else figures_[key]) for _, key in COLUMNS]
                rows.append([name, method, label if baseline else "", *values])
    return table("Live view smoothness at the frontend's socket (medians)", header, rows)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for name, case in results.items():
        for method, m in case["methods"].items():
            label = f"{name}, {method}"
            found.append(_target(f"{label}: gap between visible updates, p90", m["gap_p90_ms"], 250, "ms"))
            found.append(_target(f"{label}: updates in the busiest second", m["busiest_second"], 20, ""))
            found.append(_target(f"{label}: text re-sent / answer", m["resent_over_answer"], 1.0, "x"))
            found.append(
                {"figure": f"{label}: iopub bytes", "value": m["iopub_bytes"], "target": "-", "status": "reported"}
            )
    return found


def _target(what: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    return {"figure": what, "value": value, "target": f"<= {limit} {unit}".rstrip(), "status": check(value, limit)}
