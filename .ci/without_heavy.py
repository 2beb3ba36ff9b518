"""pytest plugin for the newest leg: leave out the tests that need the heavy [databricks-openai] extra.

``PYTHONPATH=.ci pytest -p without_heavy ...``. When ``databricks_openai`` cannot be imported, a
test is deselected if its own code or a fixture it uses imports it (read from the source, so a new
test needs no list kept up to date). With the package installed, nothing is left out.
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any

HEAVY = "databricks_openai"


def _uses_heavy(function: Any, cache: dict[Any, bool]) -> bool:
    if function not in cache:
        try:
            cache[function] = HEAVY in inspect.getsource(function)
        except (OSError, TypeError):
            cache[function] = False
    return cache[function]


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if importlib.util.find_spec(HEAVY) is not None:
        return
    cache: dict[Any, bool] = {}
    kept, left_out = [], []
    for item in items:
        functions = [getattr(item, "function", None)]
        for defs in getattr(item, "_fixtureinfo", None).name2fixturedefs.values():
            functions += [d.func for d in defs]
        (left_out if any(f is not None and _uses_heavy(f, cache) for f in functions) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
        print(f"\nwithout_heavy: {len(left_out)} tests need {HEAVY} (the [databricks-openai] extra): left out")
