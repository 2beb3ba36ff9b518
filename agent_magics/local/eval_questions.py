"""The demo evaluation questions: what a correct answer from the demo agents' knowledge base says.

One definition for the ``evaluate`` notebook (notebooks/make_notebooks.py writes it as a cell) and
the ``%%agent_eval`` tests (a DataFrame in a shell, the same cell in a kernel). The last row expects
a fact no answer has ("bananas ripen on the moon"), so correctness fails there: 4 of 5 pass.
"""

from __future__ import annotations

import json

EVAL_QUESTIONS: dict[str, list[object]] = {
    "question": [
        "What is MLflow?",
        "How do I query an agent on Databricks Apps?",
        "What does Databricks do?",
        "How do I return a trace from a serving endpoint?",
        "What is MLflow?",
    ],
    "expected_facts": [
        ["MLflow is an open-source platform"],
        ["pass model apps/<app-name> to DatabricksOpenAI"],
        ["Databricks is a data and AI platform"],
        ["return_trace"],
        ["bananas ripen on the moon"],
    ],
}


def eval_questions_code(name: str = "questions") -> str:
    """The Python a notebook reader types to build them: ``name = pd.DataFrame({...})``, one value a line."""
    columns = "".join(
        f"    {json.dumps(column)}: [\n" + "".join(f"        {json.dumps(value)},\n" for value in values) + "    ],\n"
        for column, values in EVAL_QUESTIONS.items()
    )
    return f"{name} = pd.DataFrame({{\n{columns}}})"
