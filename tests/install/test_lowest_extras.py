"""The [local] and [sql] extras at the lower bounds pyproject.toml states, on the built wheel.

``make test-lowest-extras`` builds a venv with every core, [local] and [sql] dependency pinned at its
lower bound (``.ci/lowest_constraints.py local sql``) and points ``AGENT_MAGICS_EXTRAS_PYTHON`` at it.
A kernel of that venv, with no workspace configured, starts the embedded local workspace from that
venv (so the demo agents run on the lowest mlflow-skinny, starlette, uvicorn, fastapi) and runs
``%agent_sql`` on the lowest DuckDB, sqlglot, pandas and pyarrow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_light_core import LightKernel, kernel_env  # this folder is on sys.path (pytest's prepend mode)

EXTRAS = os.environ.get("AGENT_MAGICS_EXTRAS_PYTHON", "")
EXTRAS = str(Path(EXTRAS).absolute()) if EXTRAS else ""
pytestmark = [
    pytest.mark.skipif(not EXTRAS, reason="set AGENT_MAGICS_EXTRAS_PYTHON (make test-lowest-extras)"),
    pytest.mark.timeout(300),
]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory) -> Iterator[LightKernel]:
    base = tmp_path_factory.mktemp("lowest-extras")
    started = LightKernel(base, kernel_env(base), python=EXTRAS)
    started.run("%load_ext agent_magics")
    yield started
    if started.process.poll() is None:
        started.shutdown()


def test_the_venv_holds_the_lower_bounds(kernel: LightKernel) -> None:
    versions = kernel.value(
        "{m: __import__('importlib.metadata').metadata.version(m) for m in "
        "('mlflow-skinny', 'starlette', 'uvicorn', 'fastapi', 'duckdb', 'sqlglot', 'pandas', 'pyarrow')}"
    )
    assert versions["duckdb"].startswith("1.1"), versions  # the bounds, not whatever resolved
    assert versions["sqlglot"].startswith("25."), versions


@pytest.mark.parametrize("target", ["demo-agent", "demo-chat-agent", "apps/demo-app"])
def test_the_embedded_workspace_answers_on_the_lowest_local_extra(kernel: LightKernel, target: str) -> None:
    kernel.run(f"_r = %agent {target} --quiet What is MLflow")
    result = kernel.value("[_r.status, _r.text, _r.error]")
    assert result[0] == "completed", result
    assert "MLflow" in result[1]


def test_a_trace_comes_back_on_the_lowest_mlflow(kernel: LightKernel) -> None:
    kernel.run("_r = %agent demo-agent --return-trace --quiet What is MLflow")
    spans = kernel.value("[_r.status, len(_r.trace.spans) if _r.trace else 0]")
    assert spans[0] == "completed" and spans[1] >= 2, spans


def test_agent_sql_runs_on_the_lowest_sql_extra(kernel: LightKernel) -> None:
    kernel.run("import pandas as pd; questions = pd.DataFrame({'q': ['What is MLflow?', \"What's Delta?\"]})")
    kernel.run("_df = %agent_sql SELECT q, ai_query('demo-agent', q) AS answer, id FROM questions, range(1)")
    rows = kernel.value("[list(_df.columns), len(_df), all(isinstance(a, str) and a for a in _df['answer'])]")
    assert rows == [["q", "answer", "id"], 2, True], rows


def test_the_kernel_exits_cleanly(kernel: LightKernel) -> None:
    code, printed = kernel.shutdown()
    assert code == 0, printed[-2000:]
    assert "Traceback" not in printed and "Fatal Python error" not in printed, printed[-2000:]
