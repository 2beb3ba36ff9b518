"""What a cell shows, in a real kernel: --quiet shows nothing, notices are one line, bad JSON says to quote it."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    "code",
    [
        "%agent demo-agent --quiet What is MLflow",
        "%%agent demo-agent --quiet\nWhat is MLflow",
        "%%agent demo-agent --quiet --out kept\nWhat is MLflow",
    ],
)
def test_quiet_shows_nothing(kernel: Any, code: str) -> None:
    out = kernel.run(code)
    assert (out.stdout, out.stderr, out.displays, out.results, out.errors) == ("", "", [], [], []), out
    assert kernel.value("_.ok") is True  # still the cell's value: returned and assigned to _
    assert kernel.value("_.text.count('MLflow') > 0") is True


def test_quiet_result_shows_in_full_when_asked_again(kernel: Any) -> None:
    kernel.run("%%agent demo-agent --quiet --out again\nWhat is MLflow")
    out = kernel.run("again")
    assert out.results and "text/html" in out.results[0] and "MLflow" in out.results[0]["text/plain"]


@pytest.mark.parametrize(
    "code",
    [
        "assigned = %agent demo-agent --quiet What is MLflow",  # nothing shown now
        "assigned = %agent demo-agent What is MLflow",  # shown live now
        "assigned = %agent demo-agent,demo-chat-agent --quiet What is MLflow",
        "assigned = %agent demo-agent,demo-chat-agent What is MLflow",
    ],
)
def test_an_assigned_result_shows_in_full_in_a_later_cell(kernel: Any, code: str) -> None:
    first = kernel.run(code)
    assert not first.results and not first.errors, first  # an assignment has no Out[]
    out = kernel.run("assigned")
    assert out.results and "text/html" in out.results[0], out  # the whole result, not a summary or nothing
    assert "MLflow" in out.results[0]["text/html"]


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("%%agent demo-agent --quiet\nTell me about {no_such_name_here}", "{no_such_name_here}"),
        ("%%agent demo-chat-model --quiet --continue\nMore please", "--continue: no earlier turn"),
        ("%agent_sql --quiet SELECT '{no_such_name_here}' AS a", "{no_such_name_here}"),
    ],
)
def test_notices_are_one_line_without_a_path(kernel: Any, code: str, fragment: str) -> None:
    out = kernel.run(code)
    assert not out.errors, out.errors
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], out.stderr
    assert ".py:" not in out.stderr and "warn" not in out.stderr.split(":", 1)[1], out.stderr


@pytest.mark.parametrize(
    "code",
    [
        '%%agent demo-agent --custom-inputs {"id": 5}\nq',
        '%agent demo-agent --custom-inputs {"id": 5} What is MLflow',
        '%%agent demo-agent --databricks-options={"return_trace": true}\nq',
        '%agent_sql --custom-inputs {"id": 5} SELECT 1 AS a',
    ],
)
def test_unquoted_json_says_to_quote_it(kernel: Any, code: str) -> None:
    out = kernel.run(code)
    lines = [line for line in out.stderr.splitlines() if line.strip()]  # IPython prints a UsageError there
    assert len(lines) == 1 and not out.errors, out
    error = lines[0]
    assert error.startswith("UsageError: ") and "quote the JSON" in error and "a dict variable" in error, error
    assert "unrecognized arguments" not in error and "\n" not in error


@pytest.mark.parametrize(
    "code",
    [
        "r = %agent demo-agent --quiet What is MLflow\ndisplay(r)",
        "r = %agent demo-agent,demo-chat-agent --quiet What is MLflow\ndisplay(r)",
        "r = %agent demo-agent --quiet What is MLflow\ndisplay(r)\nr",  # display, then no Out[]
    ],
)
def test_display_in_the_quiet_cell_shows_the_result(kernel: Any, code: str) -> None:
    out = kernel.run(code)
    assert len(out.displays) == 1 and not out.results and not out.errors, out  # asked for: shown once
    assert "text/html" in out.displays[0] and "MLflow" in out.displays[0]["text/html"], out
