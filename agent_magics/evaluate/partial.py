"""What is left of an evaluation that Ctrl-C stopped: the rows that were answered and scored.

MLflow's harness keeps its results in a local list that an interrupt throws away, but each row's
verdicts are already in the tracking store, logged on the row's trace as soon as it was scored. So
the finished rows are read back from there: a row counts when every scorer has a verdict on it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_magics.core.result import AgentResult
from agent_magics.core.secrets import redact
from agent_magics.evaluate.dataset import Row
from agent_magics.evaluate.result import SCORER_ERROR_CHARS, RowScore

INTERRUPTED_TAG = "agent_magics.interrupted"


@dataclass
class InFlight:
    """The answers being streamed right now, so that Ctrl-C can stop them all from the main thread."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    _streams: set[Any] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, stream: Any) -> None:
        with self._lock:
            self._streams.add(stream)
        if self.cancelled.is_set():  # cancelled between the check and the registration
            stream.stop()

    def discard(self, stream: Any) -> None:
        with self._lock:
            self._streams.discard(stream)

    def cancel(self) -> None:
        self.cancelled.set()
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.stop()


def _verdicts(trace: Any, scorers: Sequence[str]) -> tuple[dict[str, tuple[Any, Any]], dict[str, str]] | None:
    """(scorer -> (value, rationale), scorer -> why it raised) from the trace's feedback; None
    unless every scorer has one."""
    found: dict[str, tuple[Any, Any]] = {}
    errors: dict[str, str] = {}
    for assessment in getattr(trace.info, "assessments", None) or []:
        feedback = getattr(assessment, "feedback", None)
        if feedback is None or assessment.name not in scorers:
            continue
        if feedback.error is None:
            found[assessment.name] = (feedback.value, assessment.rationale)
        else:  # as the results table has it (engine._target_run): no value, the message apart
            found[assessment.name] = (None, None)
            message = " ".join(str(feedback.error.error_message).split())
            errors[assessment.name] = redact(message)[:SCORER_ERROR_CHARS]
    return (found, errors) if all(name in found for name in scorers) else None


def finished_rows(
    target: str, run_id: str, rows: list[Row], answers: dict[str, tuple[str, AgentResult]], scorers: Sequence[str]
) -> list[RowScore]:
    """The rows of ``target`` answered and scored before the interrupt, in data order, linked to the run."""
    import mlflow
    from mlflow import MlflowClient

    done: list[tuple[int, RowScore]] = []
    order = {row.question: index for index, row in reversed(list(enumerate(rows)))}
    for trace_id, (question, answer) in list(answers.items()):
        if answer.status == "interrupted":
            continue
        trace = None
        with contextlib.suppress(Exception):
            trace = mlflow.get_trace(trace_id, silent=True)
        scored = _verdicts(trace, scorers) if trace is not None else None
        if scored is None:
            continue  # answered but not yet scored when the interrupt came: not a finished row
        verdicts, scorer_errors = scored
        done.append(
            (
                order.get(question, len(rows)),
                RowScore(
                    target=target,
                    question=question,
                    answer=answer.text,
                    values=verdicts,
                    ok=answer.ok,
                    error=answer.error,
                    latency=answer.elapsed,
                    tokens=answer.usage.get("total_tokens"),
                    trace_id=trace_id,
                    scorer_errors=scorer_errors,
                ),
            )
        )
    done.sort(key=lambda pair: pair[0])
    client = MlflowClient()
    with contextlib.suppress(Exception):  # MLflow links a run's traces only when it completes
        ids = [row.trace_id for _, row in done if row.trace_id]
        for start in range(0, len(ids), 100):  # at most 100 per call
            client.link_traces_to_run(ids[start : start + 100], run_id)
    return [row for _, row in done]


def mark_interrupted(run_ids: Sequence[str], done: int, planned: int) -> None:
    """Tag the runs as stopped by the user, with how far they got, and end them as KILLED."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for run_id in run_ids:
        with contextlib.suppress(Exception):
            client.set_tag(run_id, INTERRUPTED_TAG, f"{done} of {planned} rows finished")
            client.set_terminated(run_id, status="KILLED")
