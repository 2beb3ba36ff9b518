"""Evaluation over datasets: each question through the same engine as ``%%agent``, scored by MLflow.

``evaluate(targets, data, scorers=...)`` runs ``mlflow.genai.evaluate`` with a predict function that
asks each target through :mod:`agent_magics.run` (retries, timeouts, the agent's own trace merged into
each MLflow trace), and returns an :class:`~agent_magics.evaluate.result.EvalResult`. ``%%agent_eval``
is the magic on top of it.
"""

from __future__ import annotations

from agent_magics.core.extras import no_mlflow_telemetry

# Every module here imports MLflow (on first use): its telemetry must be off before the first import.
no_mlflow_telemetry()

from agent_magics.evaluate.engine import evaluate  # noqa: E402 - after the setting above
from agent_magics.evaluate.result import EvalResult  # noqa: E402

__all__ = ["EvalResult", "evaluate"]
