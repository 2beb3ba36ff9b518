"""The scorecard and EvalResult as data: escaped, bounded, failing rows first; pass rates and compare."""

from __future__ import annotations

from typing import Any

import pytest

from agent_magics.evaluate.result import EvalResult, RowScore, TargetRun, passed
from agent_magics.view.scorecard import MAX_ROWS, Scorecard, ScoreRow

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
    "<a href='javascript:alert(1)'>x</a>",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_agent_and_judge_text_is_escaped(payload: str) -> None:
    row = ScoreRow("t<i>", payload, payload, {"safety": (False, payload)}, failing=True)
    html = Scorecard([row], ["safety"], ["t<i>", "other"], run_id=payload).html()
    for dangerous in ("<script", "<img", "<svg", "<a href", "<i>"):
        assert dangerous not in html


def test_bounded_and_failing_rows_first() -> None:
    rows = [
        ScoreRow("t", f"q{i}", "a" * 10_000, {"s": (i % 7 != 3, "why" * 1000)}, failing=i % 7 == 3) for i in range(5000)
    ]
    card = Scorecard(rows, ["s"], ["t"])
    html, text = card.html(), card.text()
    assert len(html) < MAX_ROWS * 1200 and len(text) < MAX_ROWS * 200
    assert "more rows" in html and "more rows" in text
    shown = text.splitlines()[2 : 2 + MAX_ROWS]
    assert all(line.lstrip().startswith("✗") for line in shown[: min(MAX_ROWS, 5000 // 7)])


@pytest.mark.parametrize(
    ("value", "verdict"),
    [
        ("yes", True),
        ("no", False),
        (True, True),
        (False, False),
        ("YES", True),
        (1, True),
        (0.0, False),
        (None, None),
        ("error", None),
        (float("nan"), None),
    ],
)
def test_pass_values(value: Any, verdict: bool | None) -> None:
    assert passed(value) is verdict


def _result(values: list[str], run_id: str) -> EvalResult:
    rows = [RowScore("t", f"q{i}", "a", {"s": (v, "")}) for i, v in enumerate(values)]
    return EvalResult([TargetRun("t", run_id, rows)], ["s"], run_id)


def test_metrics_and_compare() -> None:
    before, after = _result(["yes", "no", "no", "no"], "r1"), _result(["yes", "yes", "yes", "error"], "r2")
    assert before.metrics == {"s": 0.25} and after.metrics == {"s": 0.75}  # no verdict counts as not passed
    assert after.compare(before) == {"s": {"before": 0.25, "after": 0.75, "change": 0.5}}
    frame = after.to_pandas()
    assert list(frame.columns[-3:]) == ["s/value", "s/rationale", "s/error"] and len(frame) == 4


def test_changes_and_regressions_over_the_rows_both_scored() -> None:
    from agent_magics.evaluate.history import changes, regressions

    before = [{"s": True, "t": True}, {"s": True, "t": False}, {"s": False, "t": None}, {"s": True, "t": True}]
    after = [{"s": True, "t": True}, {"s": False, "t": True}, {"s": True, "t": True}]
    found = {c.scorer: (c.before, c.after, c.rows) for c in changes(before, after, ["s", "t", "new"])}
    assert found == {"s": (2 / 3, 2 / 3, 3), "t": (1 / 3, 1.0, 3)}  # "new" was not scored before
    assert [(r.index, r.scorers) for r in regressions(before, after, ["s", "t"])] == [(1, ("s",))]


@pytest.mark.parametrize("payload", HOSTILE)
def test_the_change_since_last_time_is_shown_and_escaped(payload: str) -> None:
    from agent_magics.view.scorecard import SinceLast

    since = SinceLast("run<1>", [("s", 1.0, 0.5), ("t", 0.25, 0.25)], [(3, payload, ("s",))])
    card = Scorecard([ScoreRow("t", "q", "a", {"s": (True, "")})], ["s"], ["t"], since={"t": since})
    text, html = card.text(), card.html()
    assert "since run run<1> (t, same data): s 100% → 50% (−50 pts) · t 25% → 25% (±0)" in text
    assert (
        "regressed: row 3 " in text
        and "row 3: " in html
        and "Since the previous evaluation" in html
        and "run&lt;1&gt;" in html
    )
    for dangerous in ("<script", "<img", "<svg", "<a href"):
        assert dangerous not in html


def test_rows_kept_after_ctrl_c_keep_a_raising_scorers_message() -> None:
    """The rows finished before an interrupt are read from their traces' assessments (MLflow's own
    Feedback entities here): a scorer error is kept apart from the rationale, as in a whole run."""
    from types import SimpleNamespace

    from mlflow.entities import AssessmentError, Feedback

    from agent_magics.evaluate.partial import _verdicts

    trace = SimpleNamespace(
        info=SimpleNamespace(
            assessments=[
                Feedback(name="judge_down", error=AssessmentError(error_code="E", error_message="answered\n503")),
                Feedback(name="safety", value="yes", rationale="harmless"),
            ]
        )
    )
    values, errors = _verdicts(trace, ["judge_down", "safety"])  # type: ignore[misc]
    assert values == {"judge_down": (None, None), "safety": ("yes", "harmless")}
    assert errors == {"judge_down": "answered 503"}
    assert _verdicts(trace, ["judge_down", "safety", "correctness"]) is None  # not every scorer yet
