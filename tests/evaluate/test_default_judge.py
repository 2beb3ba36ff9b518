"""Which judge MLflow's judges use when ``--judge`` is not given: demo-judge on the local workspace,
MLflow's managed judges when MLflow tracks to Databricks, and elsewhere one line asking for --judge."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agent_magics.core.errors import AgentUsageError
from agent_magics.evaluate.scorers import default_judge
from agent_magics.evaluate.tracking import is_local, tracks_to_databricks


@dataclass
class Place:
    host: str
    is_local: bool = False


@pytest.mark.parametrize(
    ("workspace", "local"),
    [
        (Place("http://127.0.0.1:5123", is_local=True), True),
        (Place("http://127.0.0.1:5123"), True),  # the local workspace reached from the environment
        (Place("http://localhost:5123"), True),
        (Place("https://adb-123.4.azuredatabricks.net"), False),
        (None, False),
    ],
)
def test_what_counts_as_the_local_workspace(workspace: Place | None, local: bool) -> None:
    assert is_local(workspace) is local


def test_the_default_judge() -> None:
    assert default_judge(["safety"], local=True, databricks_tracking=False) == "demo-judge"
    assert default_judge(["safety"], local=False, databricks_tracking=True) is None  # MLflow's managed judges
    assert default_judge(["tool_called:search_docs"], local=False, databricks_tracking=False) is None  # no judge
    with pytest.raises(AgentUsageError) as caught:
        default_judge(["correctness", "safety", "latency_under:5"], local=False, databricks_tracking=False)
    message = str(caught.value)
    assert message.startswith("correctness, safety need a judge: give --judge ENDPOINT") and "\n" not in message


def test_databricks_tracking_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "databricks")
    assert tracks_to_databricks()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert not tracks_to_databricks()
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")  # inside a Databricks notebook
    assert tracks_to_databricks()
