"""A Databricks-compatible workspace on loopback: the magics' no-config default and the test bed.

``LocalWorkspace`` starts the server in its own process (``server.py``): Model Serving endpoints
with demo agents on MLflow's real agent interfaces, Databricks Apps (MLflow's AgentServer), OAuth,
fault endpoints, and real MLflow traces. Importing this package is cheap.
"""

from __future__ import annotations

from .workspace import LocalWorkspace, LocalWorkspaceError, shared_workspace

__all__ = ["LocalWorkspace", "LocalWorkspaceError", "shared_workspace"]
