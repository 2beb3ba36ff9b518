"""``%%agent ... --log``: one answer as a trace in MLflow, where evaluations go too (see ``tracking``).

The trace is "the question went to TARGET and this text came back", with the agent's own trace (its
tool calls, model calls) under it, so "open in MLflow" shows the same tree as ``%%agent``'s view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_magics.core.result import AgentResult


@dataclass(frozen=True)
class Logged:
    trace_id: str
    url: str | None  # the trace in MLflow's UI, when there is one to open

    def notice(self, target: str | None = None) -> str:
        """One line saying where the trace went; ``target`` names whose answer (a comparison logs several)."""
        where = self.url or f"trace {self.trace_id}"
        whose = f"{target}: " if target else ""
        return f"--log: {whose}the answer's trace is in MLflow: {where}"


def log_answer(result: AgentResult, question: str, workspace: Any = None, experiment: str | None = None) -> Logged:
    """Log ``result`` (and the agent's trace, when it came back) as one MLflow trace; where it went."""
    import mlflow

    from agent_magics.evaluate.tracking import scoped

    with scoped(experiment, workspace) as tracking:  # the user's active experiment back afterwards
        with mlflow.start_span(name=result.target, span_type="AGENT") as span:
            span.set_inputs({"question": question})
            if result.trace_dict:
                mlflow.add_trace(result.trace_dict)
            span.set_outputs(result.text)
            span.set_attributes({"agent_magics.status": result.status, "agent_magics.target": result.target})
            if not result.ok:
                span.set_status("ERROR")
            trace_id = span.trace_id
        mlflow.flush_trace_async_logging()  # the link must open at once
    url = tracking.trace_url(tracking.experiment_id, trace_id) if tracking.experiment_id else None
    return Logged(trace_id, url)
