"""A pandas DataFrame of questions -> the records ``mlflow.genai.evaluate`` takes.

Columns: ``question`` (or ``inputs``: a string, or a dict holding ``question``), optional
``expected_response`` / ``expected_facts`` (the expectations the correctness judge reads), optional
``custom_inputs`` (a dict, sent to the agent with that row's question).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agent_magics.core.errors import AgentUsageError


@dataclass(frozen=True)
class Row:
    question: str
    expectations: dict[str, Any] = field(default_factory=dict)
    custom_inputs: dict[str, Any] | None = None

    def record(self) -> dict[str, Any]:
        inputs: dict[str, Any] = {"question": self.question}
        if self.custom_inputs:
            inputs["custom_inputs"] = self.custom_inputs
        record: dict[str, Any] = {"inputs": inputs}
        if self.expectations:
            record["expectations"] = dict(self.expectations)
        return record


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, as pandas fills an absent cell
    except (TypeError, ValueError):
        return False


def _question(value: Any, index: int) -> str:
    if isinstance(value, dict):
        value = value.get("question", value.get("input"))
    if not isinstance(value, str) or not value.strip():
        raise AgentUsageError(f"--data: row {index} has no question: give each row a non-empty string.")
    return value


def _facts(value: Any, index: int) -> list[str]:
    if isinstance(value, str):
        # A list read back from a CSV is its JSON text ('["f1", "f2"]'); any other string is one fact.
        parsed = _json_or_none(value) if value.lstrip().startswith("[") else None
        value = parsed if isinstance(parsed, list) else [value]
    try:
        facts = [str(f) for f in value]
    except TypeError:
        raise AgentUsageError(f"--data: row {index}: expected_facts must be a list of strings.") from None
    return facts


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _custom_inputs(value: Any, index: int) -> dict[str, Any] | None:
    if _missing(value):
        return None
    if isinstance(value, str):
        value = _json_or_none(value)
    if not isinstance(value, dict):
        raise AgentUsageError(f"--data: row {index}: custom_inputs must be a dict (or a JSON object string).")
    return value


def rows_from_frame(frame: Any, name: str = "data") -> list[Row]:
    """The rows of ``frame``; a mistake in the frame is one line naming the row and what to fix."""
    columns = getattr(frame, "columns", None)
    if columns is None or not hasattr(frame, "to_dict"):
        raise AgentUsageError(f"--data {name}: not a pandas DataFrame (give one with a 'question' column).")
    names = [str(c) for c in columns]
    question_column = "question" if "question" in names else "inputs" if "inputs" in names else None
    if question_column is None:
        raise AgentUsageError(f"--data {name}: needs a 'question' (or 'inputs') column; it has {names}.")
    rows = []
    for index, record in enumerate(frame.to_dict("records")):
        expectations: dict[str, Any] = {}
        if not _missing(record.get("expected_response")):
            expectations["expected_response"] = str(record["expected_response"])
        facts = record.get("expected_facts")
        if not isinstance(facts, (list, tuple)) and _missing(facts):
            facts = None
        if facts is not None and (listed := _facts(facts, index)):  # no facts is no expectation
            expectations["expected_facts"] = listed
        inputs = record[question_column]
        custom = record.get("custom_inputs")
        if _missing(custom) and isinstance(inputs, dict):  # MLflow's own shape: {"question", "custom_inputs"}
            custom = inputs.get("custom_inputs")
        rows.append(Row(_question(inputs, index), expectations, _custom_inputs(custom, index)))
    if not rows:
        raise AgentUsageError(f"--data {name}: the DataFrame has no rows.")
    return rows
