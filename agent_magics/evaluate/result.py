"""EvalResult: an evaluation as data (one row per question and target) and as a scorecard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_magics.core.result import ShownOnce
from agent_magics.evaluate.history import Change, Regression, Verdicts

SCORER_ERROR_CHARS = 500  # of a scorer's error message kept on the row (a traceback can be long)
PASS_VALUES = frozenset(["yes", "true", "pass", "passed", "1"])
FAIL_VALUES = frozenset(["no", "false", "fail", "failed", "0"])


def passed(value: Any) -> bool | None:
    """A scorer's value as pass (True) / fail (False), or None when it is neither (missing, error)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value == value:
        return value >= 1
    text = str(getattr(value, "value", value)).strip().lower()
    if text in PASS_VALUES:
        return True
    if text in FAIL_VALUES:
        return False
    return None


@dataclass
class RowScore:
    target: str
    question: str
    answer: str
    values: dict[str, tuple[Any, Any]]  # scorer name -> (value, rationale)
    ok: bool = True
    error: str | None = None
    latency: float | None = None
    tokens: int | None = None
    trace_id: str | None = None
    # scorer name -> why it raised (a judge endpoint down, a bug in an @scorer): no verdict, which
    # counts as not passed, as MLflow's own EvaluationResult.passed counts it
    scorer_errors: dict[str, str] = field(default_factory=dict)

    def verdict(self, scorer: str) -> bool | None:
        """Did the row pass ``scorer``? A row the agent did not answer fails every scorer: MLflow still
        runs the scorers on it (with no output), and a latency or safety check would pass it."""
        return passed(self.values.get(scorer, (None, None))[0]) if self.ok else False

    def failing(self, scorers: list[str]) -> bool:
        return not self.ok or any(self.verdict(name) is not True for name in scorers)


@dataclass(frozen=True)
class Since:
    """What changed since the previous evaluation of a target on the same data (``evaluate.history``)."""

    run_id: str  # the previous target run
    changes: list[Change]
    regressed: list[Regression]  # rows that passed a scorer then and do not now


@dataclass
class TargetRun:
    target: str
    run_id: str
    rows: list[RowScore] = field(default_factory=list)
    since: Since | None = None  # None: no earlier evaluation of this target on this data
    left_out: int = 0  # rows MLflow's results did not hold (failed, in ``rows``)

    def verdicts(self, scorers: list[str]) -> Verdicts:
        """Per row (data order): scorer -> passed, as ``evaluate.history`` keeps them."""
        return [{name: row.verdict(name) for name in scorers} for row in self.rows]


@dataclass
class EvalResult(ShownOnce):
    """``to_pandas()``, ``metrics`` (scorer -> pass rate), ``run_id`` (the MLflow parent run),
    ``per_target`` (target -> scorer -> pass rate), ``compare(previous)``."""

    runs: list[TargetRun]
    scorer_names: list[str]
    run_id: str
    # Ctrl-C stopped the evaluation: ``rows`` are those answered and scored before it, of ``planned``.
    interrupted: bool = False
    planned: int | None = None
    run_url: str | None = None  # the parent run in the MLflow UI, when there is one to open
    # Set by the magic: --quiet (the cell's Out[] shows nothing). Nothing is shown live, so the
    # scorecard is always the full value otherwise.
    shown_live: bool = field(default=False, repr=False, compare=False)
    hide_once: bool = field(default=False, repr=False, compare=False)

    @property
    def rows(self) -> list[RowScore]:
        return [row for run in self.runs for row in run.rows]

    @property
    def targets(self) -> list[str]:
        return [run.target for run in self.runs]

    @property
    def run_ids(self) -> dict[str, str]:
        """Each target's own MLflow run (nested under ``run_id``)."""
        return {run.target: run.run_id for run in self.runs}

    @staticmethod
    def _rates(rows: list[RowScore], scorers: list[str]) -> dict[str, float]:
        rates = {}
        for name in scorers:
            verdicts = [row.verdict(name) for row in rows]
            rates[name] = sum(v is True for v in verdicts) / len(verdicts) if verdicts else 0.0
        return rates

    @property
    def metrics(self) -> dict[str, float]:
        """Scorer name -> pass rate over every row of every target (a row with no verdict fails)."""
        return self._rates(self.rows, self.scorer_names)

    @property
    def per_target(self) -> dict[str, dict[str, float]]:
        return {run.target: self._rates(run.rows, self.scorer_names) for run in self.runs}

    def to_pandas(self) -> Any:
        import pandas as pd

        records = []
        for row in self.rows:
            record: dict[str, Any] = {
                "target": row.target,
                "question": row.question,
                "answer": row.answer,
                "ok": row.ok,
                "error": row.error,
                "latency_s": row.latency,
                "total_tokens": row.tokens,
                "trace_id": row.trace_id,
            }
            for name in self.scorer_names:
                value, rationale = row.values.get(name, (None, None))
                record[f"{name}/value"] = getattr(value, "value", value)
                record[f"{name}/rationale"] = rationale
                record[f"{name}/error"] = row.scorer_errors.get(name)
            records.append(record)
        return pd.DataFrame.from_records(records)

    def compare(self, previous: EvalResult) -> dict[str, dict[str, float | None]]:
        """Scorer -> ``{"before", "after", "change"}`` pass rates (None where one side lacks it)."""
        before, after = previous.metrics, self.metrics
        out: dict[str, dict[str, float | None]] = {}
        for name in dict.fromkeys([*before, *after]):
            b, a = before.get(name), after.get(name)
            out[name] = {"before": b, "after": a, "change": None if a is None or b is None else a - b}
        return out

    @property
    def changes(self) -> dict[str, dict[str, dict[str, float]]]:
        """Target -> scorer -> ``{"before", "after", "change"}`` against the previous evaluation of
        that target on the same data (found in MLflow); targets evaluated for the first time are absent."""
        return {
            run.target: {c.scorer: {"before": c.before, "after": c.after, "change": c.delta} for c in run.since.changes}
            for run in self.runs
            if run.since is not None
        }

    @property
    def regressions(self) -> list[tuple[str, int, str, tuple[str, ...]]]:
        """(target, row, question, scorers) of each row that passed those scorers last time and fails
        now; ``row`` is its position in the data (questions may repeat)."""
        return [
            (run.target, r.index, run.rows[r.index].question, r.scorers)
            for run in self.runs
            if run.since is not None
            for r in run.since.regressed
            if r.index < len(run.rows)
        ]

    def scorecard(self) -> Any:
        from agent_magics.view.scorecard import Scorecard, ScoreRow, SinceLast

        rows = [
            ScoreRow(
                target=r.target,
                question=r.question,
                answer=r.answer if r.ok else f"[{r.error or 'failed'}]",
                scores={name: (r.verdict(name), _why(r, name)) for name in self.scorer_names},
                failing=r.failing(self.scorer_names),
                errored=tuple(name for name in self.scorer_names if name in r.scorer_errors and r.ok),
                latency=r.latency,
                tokens=r.tokens,
            )
            for r in self.rows
        ]
        return Scorecard(
            rows=rows,
            scorers=self.scorer_names,
            targets=self.targets,
            run_id=self.run_id,
            run_url=self.run_url,
            interrupted_of=self.planned if self.interrupted else None,
            since={
                run.target: SinceLast(
                    run.since.run_id,
                    [(c.scorer, c.before, c.after) for c in run.since.changes],
                    [
                        (r.index, run.rows[r.index].question, r.scorers)
                        for r in run.since.regressed
                        if r.index < len(run.rows)
                    ],
                )
                for run in self.runs
                if run.since is not None
            },
        )

    def summary(self) -> str:
        return repr(self)

    def _full_bundle(self) -> dict[str, str]:
        card = self.scorecard()
        return {"text/plain": card.text(), "text/html": card.html()}

    def __repr__(self) -> str:
        rates = ", ".join(f"{k}={v:.0%}" for k, v in self.metrics.items())
        state = f", interrupted ({len(self.rows)} of {self.planned} rows)" if self.interrupted else ""
        return f"EvalResult(targets={self.targets}, rows={len(self.rows)}, {rates}, run_id={self.run_id!r}{state})"


def _why(row: RowScore, scorer: str) -> Any:
    """The scorecard's reason for a cell: the scorer's rationale, or why it raised."""
    rationale = row.values.get(scorer, (None, None))[1]
    if row.ok and scorer in row.scorer_errors and row.verdict(scorer) is None:
        return f"scorer error: {row.scorer_errors[scorer]}"
    return rationale
