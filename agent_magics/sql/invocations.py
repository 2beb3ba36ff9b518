"""How ``%agent_sql`` sends one ai_query request: ``POST /serving-endpoints/{name}/invocations``.

An Invoker is the seam the tests swap: ``interface(endpoint)`` says which agent interface the endpoint
speaks, ``post(endpoint, body)`` returns the reply JSON or a one-line error message. (Not a
``transport.select.Transport``: an invocation is one JSON request and one JSON reply, no event stream.)
The workspace invoker reuses the agent transport's ``open_response`` (so 429/503/connection errors are
retried with the engine's backoff, honouring Retry-After) and the workspace's pooled, authenticated
httpx client.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from agent_magics.core.errors import AgentError
from agent_magics.core.request import Timeouts
from agent_magics.transport.retry import Failure, RetryPolicy


class Invoker(Protocol):
    def interface(self, endpoint: str) -> str: ...

    def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any] | str: ...


class WorkspaceInvoker:
    """Invocations on a workspace (real, or the local one), with the engine's retries."""

    def __init__(
        self, workspace: Any, *, retries: int = 3, timeouts: Timeouts | None = None, backoff: float = 0.5
    ) -> None:
        self.workspace = workspace
        from agent_magics.transport.failures import SQL_HINTS

        self.policy = RetryPolicy(max_retries=retries, backoff=backoff, hints=SQL_HINTS)
        self.timeouts = timeouts or Timeouts()

    def interface(self, endpoint: str) -> str:
        try:
            return str(self.workspace.endpoint_interface(endpoint))
        except AgentError as exc:
            raise AgentError(f"ai_query endpoint {endpoint!r}: {exc}") from None

    def post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any] | str:
        from agent_magics.transport.rest import open_response

        url = f"{self.workspace.host.rstrip('/')}/serving-endpoints/{endpoint}/invocations"
        deadline = time.monotonic() + self.timeouts.total if self.timeouts.total else None
        opened = open_response(
            self.workspace.http(),
            endpoint,
            url,
            body,
            {"Accept": "application/json"},
            self.timeouts,
            self.policy,
            deadline,
        )
        if isinstance(opened, Failure):
            return opened.message
        try:
            raw = opened.read()
        except Exception as exc:  # httpx read errors: one line, like the engine's
            from agent_magics.transport.failures import describe_exception

            return describe_exception(endpoint, exc, timeouts=self.timeouts)
        finally:
            opened.close()
        try:
            reply = json.loads(raw)
        except ValueError:
            return f"{endpoint}: the answer was not JSON ({raw[:80]!r})."
        if not isinstance(reply, dict):
            return f"{endpoint}: unexpected answer shape ({type(reply).__name__})."
        return reply
