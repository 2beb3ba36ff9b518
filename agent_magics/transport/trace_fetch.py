"""Fetch a full trace by id (apps return only the id) from the workspace's MLflow traces API."""

from __future__ import annotations

from typing import Any

from agent_magics.core.errors import AgentError
from agent_magics.transport.workspace import Workspace


def fetch_trace(workspace: Workspace, trace_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """(trace dict, None) when found, else (None, why): a missing trace is not a failed answer."""
    try:
        body = workspace.api("GET", "/api/3.0/mlflow/traces/get", params={"trace_id": trace_id})
    except AgentError as exc:
        return None, f"trace {trace_id} could not be fetched ({exc}); showing its id only"
    except Exception as exc:  # the trace is extra: whatever its API does, the answer it follows is kept
        problem = f"{type(exc).__name__}: {exc}"
        return None, f"trace {trace_id} could not be fetched ({problem}); showing its id only"
    trace = body.get("trace") if isinstance(body, dict) else None
    if not isinstance(trace, dict) or not trace:
        return None, f"trace {trace_id}: the traces API returned no trace; showing its id only"
    return trace, None
