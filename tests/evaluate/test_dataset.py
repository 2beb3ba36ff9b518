"""--data as users have it: a CSV read back (lists as JSON text), MLflow's own dataset shape
(``inputs`` holding the question and custom inputs), empty fact lists, and mistakes in one line."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from agent_magics.core.errors import AgentUsageError
from agent_magics.evaluate.dataset import rows_from_frame


def test_a_csv_round_trip_keeps_lists_of_facts_and_custom_inputs() -> None:
    frame = pd.DataFrame(
        {
            "question": ["What is MLflow?", "What is Databricks?"],
            "expected_facts": [["open source", "tracking"], ["a platform"]],
            "custom_inputs": [{"k": 1}, None],
        }
    )
    frame["expected_facts"] = frame["expected_facts"].map(lambda f: json.dumps(f))
    frame["custom_inputs"] = frame["custom_inputs"].map(lambda c: json.dumps(c) if c else None)
    read_back = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    rows = rows_from_frame(read_back)
    assert rows[0].expectations == {"expected_facts": ["open source", "tracking"]}
    assert rows[1].expectations == {"expected_facts": ["a platform"]}
    assert rows[0].custom_inputs == {"k": 1} and rows[1].custom_inputs is None


def test_mlflow_shaped_inputs_keep_their_custom_inputs() -> None:
    frame = pd.DataFrame({"inputs": [{"question": "What is MLflow?", "custom_inputs": {"user": "u1"}}]})
    (row,) = rows_from_frame(frame)
    assert row.question == "What is MLflow?" and row.custom_inputs == {"user": "u1"}
    assert row.record()["inputs"] == {"question": "What is MLflow?", "custom_inputs": {"user": "u1"}}


@pytest.mark.parametrize("facts", [[], "[]"])
def test_no_facts_is_no_expectation(facts: object) -> None:
    (row,) = rows_from_frame(pd.DataFrame({"question": ["q"], "expected_facts": [facts]}))
    assert row.expectations == {}


def test_a_plain_string_is_one_fact() -> None:
    (row,) = rows_from_frame(pd.DataFrame({"question": ["q"], "expected_facts": ["[not json] it is open source"]}))
    assert row.expectations == {"expected_facts": ["[not json] it is open source"]}


def test_bad_custom_inputs_in_mlflow_shaped_inputs_is_one_line() -> None:
    frame = pd.DataFrame({"inputs": [{"question": "q", "custom_inputs": [1, 2]}]})
    with pytest.raises(AgentUsageError, match="row 0: custom_inputs must be a dict"):
        rows_from_frame(frame)
