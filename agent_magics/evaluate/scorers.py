"""Scorer names -> MLflow scorers: MLflow's judges by their own names, two code scorers of ours, and
any ``@scorer`` function the caller hands over by name.

* ``correctness``, ``relevance_to_query``, ``safety``, ``guidelines``: MLflow's built-in judges, with
  ``model="databricks:/<judge endpoint>"`` (MLflow's Databricks provider) when a judge is named;
* ``tool_called:NAME``: the agent's trace has a span named ``NAME`` (its tool calls are spans);
* ``latency_under:SECONDS``: the row's trace took at most that long.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agent_magics.core.errors import AgentUsageError

JUDGES = ("correctness", "relevance_to_query", "safety", "guidelines")
CODE_SCORERS = ("tool_called:NAME", "latency_under:SECONDS")


def default_names(has_expectations: bool, has_guidelines: bool) -> list[str]:
    """The scorers the data allows: correctness needs expectations, guidelines needs guidelines text."""
    names = ["relevance_to_query", "safety"]
    if has_expectations:
        names.insert(0, "correctness")
    if has_guidelines:
        names.append("guidelines")
    return names


NO_JUDGE = (
    "{names} need a judge: give --judge ENDPOINT (a chat endpoint of the workspace); "
    "MLflow's managed judges are the default only when MLflow tracks to Databricks."
)


def default_judge(names: Sequence[str], *, local: bool, databricks_tracking: bool) -> str | None:
    """The judge when ``--judge`` is not given: ``demo-judge`` on the local workspace, MLflow's managed
    judges (None) when MLflow tracks to Databricks; elsewhere a judge scorer is a usage error."""
    judged = [name for name in names if name.strip() in JUDGES]
    if not judged or databricks_tracking:
        return None
    if local:
        return "demo-judge"
    raise AgentUsageError(NO_JUDGE.format(names=", ".join(judged)))


def judge_uri(endpoint: str | None) -> str | None:
    """The model URI MLflow's judges take for a Databricks serving endpoint (None: MLflow's default)."""
    return f"databricks:/{endpoint}" if endpoint else None


def _tool_called(tool: str) -> Any:
    from mlflow.entities import Feedback
    from mlflow.genai.scorers import scorer

    @scorer(name=f"tool_called:{tool}")
    def tool_called(trace: Any) -> Any:
        names = [span.name for span in (trace.data.spans if trace is not None else [])]
        called = tool in names
        where = f"a span named {tool!r}" if called else f"no span named {tool!r}"
        return Feedback(value=called, rationale=f"The trace has {where}.")

    return tool_called


def _latency_under(seconds: float) -> Any:
    from mlflow.entities import Feedback
    from mlflow.genai.scorers import scorer

    @scorer(name=f"latency_under:{seconds:g}")
    def latency_under(trace: Any) -> Any:
        duration = trace.info.execution_duration if trace is not None else None
        if duration is None:
            return Feedback(value=False, rationale="The trace has no duration.")
        took = duration / 1000
        return Feedback(value=took <= seconds, rationale=f"Took {took:.2f} s (limit {seconds:g} s).")

    return latency_under


def _judge(name: str, model: str | None, guidelines: str | None) -> Any:
    from mlflow.genai.scorers import Correctness, Guidelines, RelevanceToQuery, Safety

    options: dict[str, Any] = {"model": model} if model else {}
    if name == "correctness":
        return Correctness(**options)
    if name == "relevance_to_query":
        return RelevanceToQuery(**options)
    if name == "safety":
        return Safety(**options)
    if not guidelines or not guidelines.strip():
        raise AgentUsageError("guidelines: write the guidelines in the cell body (one per line).")
    lines = [line.strip() for line in guidelines.splitlines() if line.strip()]
    return Guidelines(name="guidelines", guidelines=lines, **options)


def resolve(
    names: Sequence[str],
    *,
    judge: str | None = None,
    guidelines: str | None = None,
    namespace: Mapping[str, Any] | None = None,
) -> list[Any]:
    """MLflow scorer objects for ``names``; an unknown name is one line listing what is known."""
    from mlflow.genai.scorers import Scorer

    model = judge_uri(judge)
    resolved = []
    for raw in names:
        name = raw.strip()
        kind, _, argument = name.partition(":")
        if name in JUDGES:
            resolved.append(_judge(name, model, guidelines))
        elif kind == "tool_called" and argument:
            resolved.append(_tool_called(argument))
        elif kind == "latency_under" and argument:
            try:
                limit = float(argument)
            except ValueError:
                limit = -1.0
            if not limit > 0:
                raise AgentUsageError(f"{name}: give a positive number of seconds, e.g. latency_under:5.")
            resolved.append(_latency_under(limit))
        elif namespace is not None and isinstance(namespace.get(name), Scorer):
            resolved.append(namespace[name])
        else:
            known = ", ".join((*JUDGES, *CODE_SCORERS))
            raise AgentUsageError(f"unknown scorer {name!r}: use one of {known}, or the name of an @scorer function.")
    seen = [getattr(s, "name", None) for s in resolved]
    if len(set(seen)) != len(seen):
        raise AgentUsageError("--scorers: name each scorer once.")
    return resolved
