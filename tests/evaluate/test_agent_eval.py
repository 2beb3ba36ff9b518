"""%%agent_eval end to end in a real InteractiveShell, against the local workspace over HTTP:
five questions, two targets, MLflow's judges served by ``demo-judge``, our code scorers and a
notebook ``@scorer``; the run is then read back through MLflow's own client."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from IPython.core.error import UsageError

from agent_magics.local.eval_questions import EVAL_QUESTIONS

QUESTIONS = pd.DataFrame(EVAL_QUESTIONS)  # its last row expects a fact no answer has: correctness fails there


def test_whole_loop_offline(shell: Any, mlflow_store: Path) -> None:
    from mlflow import MlflowClient
    from mlflow.genai.scorers import scorer

    @scorer
    def mentions_databricks(outputs: Any) -> bool:
        return "databricks" in str(outputs).lower()

    shell.user_ns.update(questions=QUESTIONS, mentions_databricks=mentions_databricks)
    shell.run_line_magic(
        "agent_eval",
        "demo-agent demo-chat-agent --data questions --judge demo-judge --out ev "
        "--scorers correctness,relevance_to_query,safety,tool_called:search_docs,mentions_databricks",
    )
    ev = shell.user_ns["ev"]
    frame = ev.to_pandas()
    assert len(frame) == 10 and sorted(set(frame.target)) == ["demo-agent", "demo-chat-agent"]
    for name in ("correctness", "relevance_to_query", "safety", "tool_called:search_docs", "mentions_databricks"):
        assert f"{name}/value" in frame and f"{name}/rationale" in frame
    # demo-judge decided, for real: every answer is safe and relevant, one expected fact is absurd.
    assert ev.metrics["safety"] == 1.0 and ev.metrics["relevance_to_query"] == 1.0
    assert ev.per_target["demo-agent"]["correctness"] == pytest.approx(0.8)
    wrong = frame[frame.question.eq("What is MLflow?") & frame["correctness/rationale"].str.contains("bananas")]
    assert len(wrong) == 2 and set(wrong["correctness/value"]) == {"no"}
    assert ev.metrics["tool_called:search_docs"] == 1.0  # the agent's own spans are in each trace
    assert frame.answer.str.len().min() > 20 and frame.latency_s.notna().all()

    client = MlflowClient()
    parent = client.get_run(ev.run_id)
    assert parent.data.tags["agent_magics.targets"] == "demo-agent,demo-chat-agent"
    for target, run_id in ev.run_ids.items():
        child = client.get_run(run_id)
        assert child.data.tags["mlflow.parentRunId"] == ev.run_id and child.data.tags["agent_magics.target"] == target
    trace = client.get_trace(frame.trace_id[0])
    assert {"search_docs"} <= {span.name for span in trace.data.spans}
    assert os.listdir(mlflow_store) == []  # nothing written into the working directory

    card = ev._repr_mimebundle_()
    assert "correctness" in card["text/plain"] and "demo-chat-agent" in card["text/html"]
    assert card["text/plain"].splitlines()[3].lstrip().startswith("✗")  # failing rows first


def test_guidelines_from_the_cell_body(shell: Any, mlflow_store: Path) -> None:
    shell.user_ns["two"] = QUESTIONS.head(2)[["question"]]
    shell.run_cell_magic(
        "agent_eval", "demo-agent --data two --judge demo-judge --out ev", 'The answer must mention "Databricks".\n'
    )
    ev = shell.user_ns["ev"]
    assert ev.scorer_names == ["relevance_to_query", "safety", "guidelines"]  # the defaults this data allows
    values = dict(zip(ev.to_pandas().question, ev.to_pandas()["guidelines/value"]))
    assert values == {"What is MLflow?": "yes", "How do I query an agent on Databricks Apps?": "yes"}


def test_demo_judge_is_the_default_on_the_local_workspace(
    shell: Any, mlflow_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION", raising=False)
    shell.user_ns["one"] = QUESTIONS.head(1)
    ev = shell.run_line_magic("agent_eval", "demo-agent --data one")  # no --judge
    assert ev.scorer_names == ["correctness", "relevance_to_query", "safety"]
    assert ev.metrics == {"correctness": 1.0, "relevance_to_query": 1.0, "safety": 1.0}
    # Skipped for our predict function only: the user's own mlflow.genai.evaluate still checks theirs.
    assert "MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION" not in os.environ


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("demo-agent", "the following arguments are required: --data"),
        ("demo-agent --data nowhere", "no such variable"),
        ("demo-agent --data notframe", "not a pandas DataFrame"),
        ("demo-agent --data noquestion", "needs a 'question'"),
        ("demo-agent --data plain --scorers correctness", "correctness needs"),
        ("demo-agent --data plain --scorers nonsense", "unknown scorer 'nonsense'"),
        ("demo-agent --data plain --scorers latency_under:-3", "positive number of seconds"),
        ("demo-agent --data plain --scorers guidelines", "write the guidelines in the cell body"),
        ("demo-agent demo-agent --data plain", "each target once"),
        ("demo-agent --data plain --timeout -1", "--timeout must be a positive number"),
        ("demo-agent --data plain --timeout 0", "--timeout must be a positive number"),
        ("demo-agent --data plain --timeout nan", "--timeout must be a positive number"),
        ("demo-agent --data plain --out my-ev", "not a valid Python variable name"),
    ],
)
def test_mistakes_are_one_line(shell: Any, mlflow_store: Path, line: str, message: str) -> None:
    shell.user_ns.update(notframe=[1, 2], noquestion=pd.DataFrame({"q": ["x"]}), plain=QUESTIONS[["question"]])
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("agent_eval", line)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_the_next_evaluation_on_the_same_data_shows_what_changed(shell: Any, mlflow_store: Path) -> None:
    """Evaluated twice on the same data: the second scorecard gives each scorer's change and the row
    that passed then and fails now, read back from MLflow; other data has no baseline."""
    from mlflow import MlflowClient
    from mlflow.genai.scorers import scorer

    strict = {"on": False}

    @scorer
    def short_enough(inputs: Any, outputs: Any) -> bool:
        # Passes every row, until "strict" fails the one about Apps: a regression we control.
        return not (strict["on"] and "Apps" in str(inputs))

    three = QUESTIONS.head(3)[["question"]]
    shell.user_ns.update(three=three, other=QUESTIONS.tail(2)[["question"]], short_enough=short_enough)
    line = "demo-agent --data {} --scorers tool_called:search_docs,short_enough --out {}"
    shell.run_line_magic("agent_eval", line.format("three", "first"))
    first = shell.user_ns["first"]
    assert first.changes == {} and first.regressions == []  # nothing to compare with yet

    # Ctrl-C in a later target of the same evaluation ends every run KILLED: still a whole baseline
    MlflowClient().set_terminated(first.run_ids["demo-agent"], status="KILLED")
    strict["on"] = True
    shell.run_line_magic("agent_eval", line.format("three", "second"))
    second = shell.user_ns["second"]
    change = second.changes["demo-agent"]
    assert change["short_enough"]["before"] == 1.0 and change["short_enough"]["after"] == pytest.approx(2 / 3)
    assert change["tool_called:search_docs"]["change"] == 0.0
    assert second.regressions == [("demo-agent", 1, "How do I query an agent on Databricks Apps?", ("short_enough",))]
    card = second._repr_mimebundle_()
    previous = first.run_ids["demo-agent"]
    assert f"since run {previous}" in card["text/plain"] and "short_enough 100% → 67% (−33 pts)" in card["text/plain"]
    assert "regressed: row 1 How do I query an agent on Databricks Apps?" in card["text/plain"]
    assert "Since the previous evaluation on the same data" in card["text/html"] and previous in card["text/html"]

    shell.run_line_magic("agent_eval", line.format("other", "third"))
    assert shell.user_ns["third"].changes == {}  # other data: no baseline


def test_every_row_is_scored_whatever_the_trace_sampling_ratio(
    shell: Any, mlflow_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's MLFLOW_TRACE_SAMPLING_RATIO (copied from a production config) would leave rows
    untraced, and MLflow's results table drops untraced rows: half the rows went unscored, unseen."""
    monkeypatch.setenv("MLFLOW_TRACE_SAMPLING_RATIO", "0.3")
    shell.user_ns["plain"] = QUESTIONS[["question"]]
    shell.run_line_magic("agent_eval", "demo-agent --data plain --scorers safety --quiet --out sampled")
    ev = shell.user_ns["sampled"]
    assert len(ev.rows) == len(QUESTIONS) and all(row.ok for row in ev.rows), [r.error for r in ev.rows]
    assert ev.metrics["safety"] == 1.0


def test_rows_missing_from_mlflows_table_are_failed_rows() -> None:
    from agent_magics.evaluate.dataset import Row
    from agent_magics.evaluate.engine import _target_run

    class Outcome:
        def __init__(self) -> None:
            self.tables = {
                "eval_results": pd.DataFrame([{"request": {"question": "b"}, "trace_id": "t", "state": "OK"}])
            }

    rows = [Row("a"), Row("b"), Row("a")]
    run = _target_run("demo-agent", "run", rows, Outcome(), {})
    assert [r.question for r in run.rows] == ["b", "a", "a"] and run.left_out == 2
    assert [r.ok for r in run.rows] == [True, False, False] and "do not hold this row" in (run.rows[1].error or "")


def test_a_deleted_experiment_is_one_line_saying_what_to_do(shell: Any, mlflow_store: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    experiment_id = client.create_experiment("agent_magics-deleted-here")
    client.delete_experiment(experiment_id)
    shell.user_ns["plain"] = QUESTIONS[["question"]]
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic(
            "agent_eval", "demo-agent --data plain --scorers safety --experiment agent_magics-deleted-here --quiet"
        )
    message = str(caught.value)
    assert "was deleted: restore it" in message and experiment_id in message and "\n" not in message
