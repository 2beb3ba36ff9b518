"""Settings shared by the LocalWorkspace handle (parent process) and the server process.

The parent generates the secrets and hands the whole config to the server on its stdin, so no
secret ever appears on a command line or in the server's environment.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import asdict, dataclass, field


def new_pat() -> str:
    """A personal-access-token-shaped secret (Databricks PATs start with ``dapi``)."""
    return "dapi" + secrets.token_hex(16)


def new_client_secret() -> str:
    """An OAuth client secret shaped like Databricks' (``dose`` prefix)."""
    return "dose" + secrets.token_hex(16)


@dataclass
class ServerConfig:
    """Everything the server process needs to start.

    ``port`` / ``app_port`` of 0 pick free ports. Apps get consecutive ports from ``app_port``
    when it is fixed (``demo-app`` on ``app_port``, ``fault-login`` on ``app_port + 1``).
    """

    port: int = 0
    app_port: int = 0
    token: str = field(default_factory=new_pat)
    client_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_secret: str = field(default_factory=new_client_secret)
    # Streaming pace of the demo agents: seconds before the first word, then words per second.
    first_token_delay: float = 0.05
    tokens_per_second: float = 80.0
    # Upper bound of the fault-hang endpoint's silence before it closes the connection.
    hang_seconds: float = 60.0
    # Lifetime of issued OAuth tokens (Databricks M2M tokens live an hour).
    oauth_token_ttl: int = 3600
    # What one client may make the server hold (see limits.py): seconds to send a request's
    # headers, seconds to send its body, the body's size and its JSON nesting.
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_body_bytes: int = 16 * 1024 * 1024
    max_json_depth: int = 64

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def __repr__(self) -> str:  # never print secrets
        return (
            f"ServerConfig(port={self.port}, app_port={self.app_port}, "
            f"first_token_delay={self.first_token_delay}, tokens_per_second={self.tokens_per_second})"
        )


# The line the server prints on stdout once every port accepts connections.
READY_MARKER = "AGENT_MAGICS_LOCAL_READY "

# Fixed identity of the local workspace, as the control plane reports it.
WORKSPACE_ID = "1234567890123456"
ACCOUNT_ID = "00000000-0000-4000-8000-00000000a9e7"
LOCAL_USER = "local-user@agent-magics.local"
LOCAL_WAREHOUSE_ID = "a9e7c0ffee0001de"  # 16 hex digits, shaped like a Databricks warehouse id

# The apps this workspace hosts, each on its own port (in this order from ``app_port``).
DEMO_APP = "demo-app"
LOGIN_FAULT_APP = "fault-login"
NOT_RESPONSES_APP = "durable-app"  # speaks another protocol (/api/invocations), not /responses
APP_NAMES = (DEMO_APP, LOGIN_FAULT_APP, NOT_RESPONSES_APP)
