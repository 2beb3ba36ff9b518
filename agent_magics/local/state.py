"""Everything the routes of one local workspace share."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent_magics.local.auth import TokenRegistry
from agent_magics.local.catalog import Endpoint
from agent_magics.local.faults import AttemptBook
from agent_magics.local.mlflow_server import TrackingServers
from agent_magics.local.tracing import ServedTraces
from agent_magics.transport.embedded_config import ServerConfig


@dataclass
class WorkspaceState:
    config: ServerConfig
    host: str  # http://127.0.0.1:<port>
    app_urls: dict[str, str]  # app name -> its own loopback URL
    tokens: TokenRegistry
    endpoints: dict[str, Endpoint]
    traces: ServedTraces = field(default_factory=ServedTraces)
    attempts: AttemptBook = field(default_factory=AttemptBook)
    tracking: TrackingServers = field(default_factory=TrackingServers)  # MLflow servers, started on demand
