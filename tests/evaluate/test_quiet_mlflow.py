"""What an evaluation lends MLflow (to keep it quiet, to skip a check) is lent only: the user's own
settings stay, and everything is put back however the evaluation ends (Ctrl-C included)."""

from __future__ import annotations

import os

import pytest

from agent_magics.evaluate.engine import _lent_environment, _mlflow_environment, _without_mlflow_output


def test_the_users_own_settings_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_MODEL_CATALOG_URI", "file:///mirror")
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    lent = _mlflow_environment(local=True)
    assert "MLFLOW_MODEL_CATALOG_URI" not in lent and lent["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    monkeypatch.delenv("MLFLOW_MODEL_CATALOG_URI")
    assert _mlflow_environment(local=True)["MLFLOW_MODEL_CATALOG_URI"] == ""  # no catalog fetch locally
    assert "MLFLOW_MODEL_CATALOG_URI" not in _mlflow_environment(local=False)  # a real workspace's models


def test_the_environment_is_put_back_after_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_MAGICS_TEST_KEPT", "mine")
    monkeypatch.delenv("AGENT_MAGICS_TEST_NEW", raising=False)
    with (
        pytest.raises(KeyboardInterrupt),
        _lent_environment({"AGENT_MAGICS_TEST_KEPT": "lent", "AGENT_MAGICS_TEST_NEW": "x"}),
    ):
        assert os.environ["AGENT_MAGICS_TEST_KEPT"] == "lent" and os.environ["AGENT_MAGICS_TEST_NEW"] == "x"
        raise KeyboardInterrupt
    assert os.environ["AGENT_MAGICS_TEST_KEPT"] == "mine" and "AGENT_MAGICS_TEST_NEW" not in os.environ


def test_mlflows_bar_and_summary_come_back_after_ctrl_c() -> None:
    base = pytest.importorskip("mlflow.genai.evaluation.base")
    harness = pytest.importorskip("mlflow.genai.evaluation.harness")

    bar, summary = harness.tqdm, base.display_evaluation_output
    with pytest.raises(KeyboardInterrupt), _without_mlflow_output():
        assert harness.tqdm is None and base.display_evaluation_output("run") is None
        assert base.display_evaluation_output is not summary
        raise KeyboardInterrupt
    assert harness.tqdm is bar and base.display_evaluation_output is summary
