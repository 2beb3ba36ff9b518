"""Ctrl-C (Kernel > Interrupt) in the middle of ``%%agent_eval``, in a real ipykernel: the cell ends
with an EvalResult holding the rows answered and scored before it, marked interrupted, and the runs
in the tracking store say so too. Two questions are quick, three would stream for a long time."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "first_hour"))
from kernel_helpers import Kernel, kernel_env

SETUP = """
%load_ext agent_magics
%config AgentMagics.view = 'text'
import pandas as pd
slow = {"tokens": 4000, "tokens_per_second": 50}
rows = pd.DataFrame({
    "question": ["quick one", "quick two", "slow three", "slow four", "slow five"],
    "custom_inputs": [{"tokens": 10}, {"tokens": 10}, slow, slow, slow],
})
"""
EXPERIMENT = "interrupt-test"
SCORERS = ["safety", "latency_under:600"]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def kernel(local_workspace: Any, tmp_path: Path, store: Path) -> Iterator[Kernel]:
    env = kernel_env(tmp_path / "kernel", local_workspace)
    env["AGENT_MAGICS_MLFLOW_DIR"] = str(store)
    started = Kernel(env)
    setup = started.run(SETUP)
    assert not setup.errors, setup.errors
    yield started
    started.stop()


def _scored(client: Any, experiment_id: str) -> int:
    """Traces of the experiment with a verdict from every scorer: the rows finished so far."""
    traces = client.search_traces(locations=[experiment_id])
    return sum({a.name for a in t.info.assessments or []} >= set(SCORERS) for t in traces)


def _wait_for_two_finished_rows(store: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        experiment = None
        if (store / "mlflow.db").exists():
            experiment = client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None and _scored(client, experiment.experiment_id) >= 2:
            return
        time.sleep(0.2)
    raise AssertionError("the two quick rows were never scored")


def test_ctrl_c_keeps_the_finished_rows(kernel: Kernel, store: Path) -> None:
    from mlflow import MlflowClient

    message_id = kernel.client.execute(
        f"%agent_eval bench-agent --data rows --scorers {','.join(SCORERS)} --judge demo-judge "
        f"--experiment {EXPERIMENT} --out ev"
    )
    _wait_for_two_finished_rows(store)
    kernel.manager.interrupt_kernel()
    errors = []
    while True:  # the cell's messages, up to its end
        msg = kernel.client.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != message_id:
            continue
        if msg["msg_type"] == "error":
            errors.append(msg["content"]["ename"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert errors == []  # Ctrl-C ends the evaluation, not the cell with a KeyboardInterrupt
    kept = kernel.value("[ev.interrupted, ev.planned, [r.question for r in ev.rows], ev.run_id]")
    interrupted, planned, questions, run_id = kept
    assert interrupted is True and planned == 5
    assert questions == ["quick one", "quick two"]  # the slow rows were stopped, not waited for
    assert kernel.value("ev.metrics") == {"safety": 1.0, "latency_under:600": 1.0}
    assert "interrupted: 2 of 5 rows finished" in kernel.value("ev.scorecard().text()")
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    parent = client.get_run(run_id)
    assert parent.info.status == "KILLED" and parent.data.tags["agent_magics.interrupted"] == "2 of 5 rows finished"
    assert kernel.value("len(ev.to_pandas())") == 2
    assert kernel.run("print('still alive')").stdout.strip() == "still alive"
