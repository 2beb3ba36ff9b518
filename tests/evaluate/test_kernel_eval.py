"""``%%agent_eval`` in a real ipykernel on the embedded default (no MLflow configuration at all).

* The whole loop offline: five questions, two targets, three of MLflow's judges (served by
  ``demo-judge``) and a ``@scorer`` defined in the notebook; the runs and traces are then found in
  the real MLflow tracking server the local workspace runs, through MLflow's own client.
* Ctrl-C (Kernel > Interrupt) in the middle: the cell ends with an EvalResult holding the rows
  answered and scored before it, marked interrupted, and the runs in the tracking store say so too.

One kernel and one data directory for the module: MLflow's server boots once (10-35 s)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "first_hour"))
from kernel_helpers import Kernel, kernel_env

from agent_magics.local.eval_questions import eval_questions_code
from agent_magics.local.mlflow_server import full_mlflow_installed

# The tracking server is full mlflow's ([evaluate]); a venv with mlflow-skinny only (make test-newest) skips.
pytestmark = pytest.mark.skipif(not full_mlflow_installed(), reason="needs the full mlflow package ([evaluate])")

SETUP = (
    """
%load_ext agent_magics
%config AgentMagics.view = 'text'
import pandas as pd
from mlflow.genai.scorers import scorer


@scorer
def mentions_databricks(outputs):
    return "databricks" in str(outputs).lower()

"""
    + eval_questions_code()
    + """
slow = {"tokens": 4000, "tokens_per_second": 50}
rows = pd.DataFrame({
    "question": ["quick one", "quick two", "slow three", "slow four", "slow five"],
    "custom_inputs": [{"tokens": 10}, {"tokens": 10}, slow, slow, slow],
})
"""
)
EXPERIMENT = "interrupt-test"
SCORERS = ["safety", "latency_under:600"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("eval") / "store"


@pytest.fixture(scope="module")
def kernel(local_workspace: Any, tmp_path_factory: pytest.TempPathFactory, store: Path) -> Iterator[Kernel]:
    env = kernel_env(tmp_path_factory.mktemp("kernel"), local_workspace)
    env["AGENT_MAGICS_MLFLOW_DIR"] = str(store)
    started = Kernel(env)
    setup = started.run(SETUP)
    assert not setup.errors, setup.errors
    yield started
    started.stop()


def test_whole_loop_lands_in_the_tracking_server(kernel: Kernel, store: Path) -> None:
    from mlflow import MlflowClient

    out = kernel.run(
        "%agent_eval demo-agent demo-chat-agent --data questions --judge demo-judge --out ev "
        "--scorers correctness,relevance_to_query,safety,mentions_databricks"
    )
    assert not out.errors, out.errors
    html = out.results[-1]["text/html"]
    assert "open in MLflow" in html and "demo-chat-agent" in html
    uri, run_url, run_id, run_ids, metrics = kernel.value(
        "[__import__('mlflow').get_tracking_uri(), ev.run_url, ev.run_id, ev.run_ids, ev.per_target]"
    )
    assert uri.startswith("http://127.0.0.1:") and run_url.startswith(uri) and run_url.endswith(run_id)
    assert (store / "mlflow.db").exists()  # the server's SQLite backend, in the data directory
    assert metrics["demo-agent"]["correctness"] == pytest.approx(0.8)  # the bananas fact fails
    assert metrics["demo-agent"]["safety"] == 1.0 and "mentions_databricks" in metrics["demo-chat-agent"]

    client = MlflowClient(tracking_uri=uri)  # over HTTP, as MLflow's UI reads it
    parent = client.get_run(run_id)
    assert parent.info.status == "FINISHED" and parent.data.tags["agent_magics.targets"] == "demo-agent,demo-chat-agent"
    for target, child_id in run_ids.items():
        child = client.get_run(child_id)
        assert child.data.tags["mlflow.parentRunId"] == run_id and child.data.tags["agent_magics.target"] == target
        assert child.data.metrics["correctness/mean"] == pytest.approx(0.8)
        traces = client.search_traces(locations=[parent.info.experiment_id], run_id=child_id)
        assert len(traces) == 5
        names = {a.name for t in traces for a in t.info.assessments}
        assert {"correctness", "relevance_to_query", "safety", "mentions_databricks"} <= names
    import httpx

    page = httpx.get(uri, timeout=30)  # MLflow's UI, on loopback
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_only_our_scorecard_shows_and_quiet_shows_nothing(kernel: Kernel) -> None:
    kernel.run("one = questions.head(1)[['question']]")
    cell = "%agent_eval demo-agent --data one --scorers safety --judge demo-judge --out ev"
    loud = kernel.run(cell)
    assert not loud.errors, loud.errors
    assert len(loud.results) == 1 and "safety" in loud.results[0]["text/plain"]  # Out[]: the scorecard
    assert "agent_eval: 1 answers" in loud.text  # our progress line
    # MLflow's own "Evaluation completed" box and run URLs are not shown beside it.
    for noise in ("Evaluation completed", "View evaluation results", "View run"):
        assert noise not in loud.shown + "".join(map(str, loud.displays)), noise
    quiet = kernel.run(cell + " --quiet")  # reads the loud run's verdicts: MLflow's download bar stays hidden too
    assert (quiet.stdout, quiet.stderr, quiet.displays, quiet.results, quiet.errors) == ("", "", [], [], []), quiet
    assert kernel.value("ev.metrics") == {"safety": 1.0}  # still evaluated and assigned
    assert "safety" in kernel.run("ev").results[0]["text/plain"]  # and shown in full when asked


def test_agent_log_puts_the_answer_trace_in_the_tracking_server(kernel: Kernel) -> None:
    from mlflow import MlflowClient

    out = kernel.run("%%agent demo-agent --log --out answer\nWhat is MLflow?")
    assert not out.errors, out.errors
    line = next(line for line in out.stdout.splitlines() if line.startswith("--log:"))
    uri = line.split("the answer's trace is in MLflow: ", 1)[1].split("/#/experiments/", 1)[0]
    assert uri.startswith("http://127.0.0.1:"), line  # the local workspace's tracking server
    # MLflow stays on that server (the user had set no store), not in the --log experiment
    assert kernel.value("__import__('mlflow').get_tracking_uri()") == uri
    assert kernel.value("__import__('mlflow').tracking.fluent._active_experiment_id") is None
    trace_id = line.rsplit("selectedEvaluationId=", 1)[1].strip()
    trace = MlflowClient(tracking_uri=uri).get_trace(trace_id)
    names = [span.name for span in trace.data.spans]
    assert names[0] == "demo-agent" and "search_docs" in names  # the agent's own spans, under ours
    assert trace.data.spans[0].outputs == kernel.value("answer.text")


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
    errors, streams = [], []
    while True:  # the cell's messages, up to its end
        msg = kernel.client.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != message_id:
            continue
        if msg["msg_type"] == "error":
            errors.append(msg["content"]["ename"])
        if msg["msg_type"] == "stream":
            streams.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    assert errors == []  # Ctrl-C ends the evaluation, not the cell with a KeyboardInterrupt
    assert "View run" not in "".join(streams)  # ending the runs KILLED prints no MLflow URLs either
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


def test_agent_log_with_several_targets_logs_each_answer(kernel: Kernel) -> None:
    from mlflow import MlflowClient

    out = kernel.run("%%agent demo-agent demo-chat-agent --log --out both\nWhat is MLflow?")
    assert not out.errors, out.errors
    lines = [line for line in out.stdout.splitlines() if line.startswith("--log:")]
    assert [line.split(":")[1].strip() for line in lines] == ["demo-agent", "demo-chat-agent"], lines
    uri = lines[0].split("in MLflow: ", 1)[1].split("/#/experiments/", 1)[0]  # the local tracking server
    client = MlflowClient(tracking_uri=uri)
    for target, line in zip(["demo-agent", "demo-chat-agent"], lines):
        trace = client.get_trace(line.rsplit("selectedEvaluationId=", 1)[1].strip())
        names = [span.name for span in trace.data.spans]
        assert names[0] == target and len(names) > 1, names  # the agent's own trace came back, under ours
        assert trace.data.spans[0].outputs == kernel.value(f"both[{target!r}].text")
