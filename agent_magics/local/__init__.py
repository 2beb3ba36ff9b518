"""The local Databricks-compatible workspace server (run as ``python -m agent_magics.local.server``).

Model Serving endpoints with demo agents on MLflow's real agent interfaces, Databricks Apps
(MLflow's AgentServer), OAuth, fault endpoints, SQL warehouses and real MLflow traces. Nothing in
the package imports this folder but the CLI: clients start it in its own process through
``agent_magics.transport.embedded.LocalWorkspace``.
"""
