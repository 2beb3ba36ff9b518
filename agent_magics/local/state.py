"""Everything the routes of one local workspace share."""

from __future__ import annotations

from dataclasses import dataclass, field

from .auth import TokenRegistry
from .catalog import Endpoint
from .config import ServerConfig
from .faults import AttemptBook
from .tracing import TraceStore


@dataclass
class WorkspaceState:
    config: ServerConfig
    host: str  # http://127.0.0.1:<port>
    app_urls: dict[str, str]  # app name -> its own loopback URL
    tokens: TokenRegistry
    endpoints: dict[str, Endpoint]
    traces: TraceStore = field(default_factory=TraceStore)
    attempts: AttemptBook = field(default_factory=AttemptBook)
