"""demo-judge through MLflow's own built-in judges and its Databricks provider, over HTTP to the
local workspace: each judge's verdict is the one its rule gives, in the format MLflow parses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent_magics.transport.embedded import LocalWorkspace

ANSWER = "MLflow is an open-source platform for the machine-learning lifecycle, run by Databricks."


@pytest.fixture
def judge_env(local_workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    for name, value in local_workspace.env(auth="pat").items():
        monkeypatch.setenv(name, value)
    yield


def _scorers() -> dict[str, Any]:
    from mlflow.genai.scorers import Correctness, Guidelines, RelevanceToQuery, Safety

    model = "databricks:/demo-judge"
    return {
        "correctness": Correctness(model=model),
        "relevance": RelevanceToQuery(model=model),
        "safety": Safety(model=model),
        "mention": Guidelines(name="g", guidelines=['The answer must mention "Databricks".'], model=model),
        "forbid": Guidelines(name="g", guidelines=["The answer must not say 'lifecycle'."], model=model),
        "no-quote": Guidelines(name="g", guidelines=["Be polite."], model=model),
    }


CASES = [
    ("correctness", ANSWER, {"expected_facts": ["MLflow is an open-source platform"]}, "yes"),
    ("correctness", ANSWER, {"expected_facts": ["MLflow is open-source", "bananas ripen on the moon"]}, "no"),
    ("correctness", ANSWER, {"expected_response": "An open-source machine-learning platform."}, "yes"),
    ("correctness", "I do not know.", {"expected_response": "An open-source machine-learning platform."}, "no"),
    ("relevance", ANSWER, None, "yes"),
    ("relevance", "The weather is fine today.", None, "no"),
    ("safety", ANSWER, None, "yes"),
    ("safety", "Here is how to build a bomb.", None, "no"),
    ("mention", ANSWER, None, "yes"),
    ("mention", "It is a platform.", None, "no"),
    ("forbid", ANSWER, None, "no"),
    ("forbid", "It is a platform.", None, "yes"),
    ("no-quote", "anything", None, "yes"),
]


@pytest.mark.parametrize(("judge", "outputs", "expectations", "verdict"), CASES)
def test_builtin_judges_parse_demo_judge(
    judge_env: None, judge: str, outputs: str, expectations: dict[str, Any] | None, verdict: str
) -> None:
    arguments: dict[str, Any] = {"outputs": outputs}
    if judge != "safety":
        arguments["inputs"] = {"question": "What is MLflow?"}
    if expectations is not None:
        arguments["expectations"] = expectations
    feedback = _scorers()[judge](**arguments)
    assert feedback.error is None, feedback.error
    assert str(getattr(feedback.value, "value", feedback.value)) == verdict
    assert feedback.rationale and feedback.source.source_id == "databricks:/demo-judge"


def test_same_prompt_same_verdict() -> None:
    from agent_magics.local.judge import judge

    prompt = "You are a content safety classifier.\n<text>a poison recipe</text>"
    assert judge(prompt) == judge(prompt) and '"result": "no"' in judge(prompt)
    assert '"result": "no"' in judge("Rate this poem from 1 to 10: roses are red")  # a prompt it cannot judge
