"""Statistics, the printed tables and the JSON files of the benchmarks."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def paired_ratio(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> float | None:
    """Median of per-round ratios: each round was measured back to back, so drift cancels."""
    return median(a / b for a, b in zip(numerators, denominators) if a is not None and b)


def check(value: float | None, limit: float, *, at_least: bool = False) -> str:
    if value is None:
        return "n/a"
    return "met" if (value >= limit if at_least else value <= limit) else "NOT MET"


def fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".rstrip()


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells[1:]]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write(name: str, payload: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` atomically (a reader never sees half a file)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path
