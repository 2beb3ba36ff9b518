"""Inside Databricks notebooks, hand the trace id to Databricks' own trace UI.

MLflow does the same: the notebook frontend fetches the trace by id from the backend, so only
the id travels (the full JSON could exceed the notebook's output size limits).
"""

from __future__ import annotations

import json
import os
from typing import Any

from agent_magics.core.environment import in_databricks_runtime

TRACE_MIMETYPE = "application/databricks.mlflow.trace"


def trace_bundle(result: Any) -> dict[str, str] | None:
    """The ``application/databricks.mlflow.trace`` output for a result's trace, when in Databricks."""
    if not in_databricks_runtime() or not getattr(result, "trace_id", None):
        return None
    payload = {"trace_id": result.trace_id, "sql_warehouse_id": os.environ.get("MLFLOW_TRACING_SQL_WAREHOUSE_ID")}
    return {TRACE_MIMETYPE: json.dumps(payload), "text/plain": f"MLflow trace {result.trace_id}"}
