"""Rows the agent did not answer, through the Python API against the local workspace: each row is
counted once (MLflow's own retries and its trace check are not rows), says why it failed, and
fails every scorer (MLflow still runs the scorers on it, and a latency check would pass it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agent_magics.evaluate import evaluate

TWO = pd.DataFrame({"question": ["What is MLflow?", "What is Databricks?"]})


class Recorder:
    """Stands in for the progress display: keeps the last counts it read and the closing line."""

    def __init__(self) -> None:
        self.closed = ""

    def tick(self, read: Any, force: bool = False) -> None:
        tally, _ = read()
        assert tally.done <= tally.submitted, (tally.done, tally.submitted)

    def close(self, line: str) -> None:
        self.closed = line


def _counts(progress: Recorder) -> str:
    return progress.closed.split(" · ", 2)[0] + " · " + progress.closed.split(" · ", 2)[1]


def test_a_misspelt_target_fails_each_row_saying_why(shell: Any, mlflow_store: Path) -> None:
    progress = Recorder()
    result = evaluate(["demo-agnet"], TWO, scorers=["latency_under:60"], progress=progress)
    frame = result.to_pandas()
    assert list(frame.ok) == [False, False]
    assert all("demo-agent" in error for error in frame.error), list(frame.error)  # "did you mean"
    assert result.metrics == {"latency_under:60": 0.0}  # not "2/2 passed" for rows never answered
    assert _counts(progress) == "agent_eval: 2 answers · 2 failed", progress.closed


def test_a_row_mlflow_retries_is_counted_once(
    shell: Any,
    mlflow_store: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_GENAI_EVAL_MAX_RETRIES", "1")  # one retry of a rate-limited row: short
    progress = Recorder()
    result = evaluate(["fault-429-always"], TWO[:1], scorers=["latency_under:60"], progress=progress)
    assert [row.ok for row in result.rows] == [False] and "429" in (result.rows[0].error or "")
    assert _counts(progress) == "agent_eval: 1 answers · 1 failed", progress.closed


def test_mlflow_trace_check_is_not_a_row(
    shell: Any,
    mlflow_store: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION", "false")  # the user's own choice, kept
    progress = Recorder()
    result = evaluate(["demo-agent"], TWO, scorers=["latency_under:60"], progress=progress)
    assert [row.ok for row in result.rows] == [True, True]
    assert _counts(progress) == "agent_eval: 2 answers · 0 failed", progress.closed
    failing = Recorder()  # and a first row that fails does not abort the evaluation
    result = evaluate(["demo-agnet"], TWO, scorers=["latency_under:60"], progress=failing)
    assert [row.ok for row in result.rows] == [False, False]
    assert _counts(failing) == "agent_eval: 2 answers · 2 failed", failing.closed


def test_an_evaluation_that_fails_ends_its_progress_line(
    shell: Any, mlflow_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.genai

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("the tracking store went away")

    monkeypatch.setattr(mlflow.genai, "evaluate", broken)  # stands in for a store that fails mid-run
    progress = Recorder()
    with pytest.raises(RuntimeError, match="tracking store"):
        evaluate(["demo-agent"], TWO, scorers=["latency_under:60"], progress=progress)
    assert progress.closed.startswith("agent_eval: failed after 0 answers"), progress.closed


def test_a_scorer_that_raises_says_why_on_its_rows(shell: Any, mlflow_store: Path) -> None:
    """MLflow keeps a raising scorer's message beside a value of None: it reaches the row, the
    scorecard (an "error" cell with the reason, a count in the header) and to_pandas()."""
    from mlflow.genai.scorers import scorer

    @scorer
    def judge_down(outputs: Any) -> bool:
        raise RuntimeError("the judge endpoint answered 503")

    result = evaluate(
        ["demo-agent"], TWO, scorers=["judge_down", "latency_under:60"], namespace={"judge_down": judge_down}
    )
    assert [row.ok for row in result.rows] == [True, True]  # the agent answered: only the scorer failed
    assert all("503" in row.scorer_errors.get("judge_down", "") for row in result.rows), result.rows
    assert result.metrics == {"judge_down": 0.0, "latency_under:60": 1.0}
    frame = result.to_pandas()
    assert all("503" in str(error) for error in frame["judge_down/error"])
    assert frame["latency_under:60/error"].isna().all()
    card = result.scorecard()
    assert "judge_down=error" in card.text() and "2 scorer errors" in card.text()
    html = card.html()
    assert "scorer error: " in html and "503" in html and ">error<" in html


def test_mlflow_points_back_at_the_users_store_and_experiment_afterwards(shell: Any, mlflow_store: Path) -> None:
    import mlflow

    mine = mlflow.set_experiment("my own experiment").experiment_id
    uri = mlflow.get_tracking_uri()
    result = evaluate(["demo-agent"], TWO[:1], scorers=["latency_under:60"], experiment="agent_magics eval here")
    assert result.rows[0].ok
    assert mlflow.get_tracking_uri() == uri
    with mlflow.start_run() as run:  # the user's next run goes where it went before the evaluation
        pass
    assert run.info.experiment_id == mine
    assert mlflow.get_run(result.run_id).info.experiment_id != mine  # (the evaluation went elsewhere)
