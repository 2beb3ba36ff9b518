"""One row of ai_query: request JSON in, Answer out (semantics + one invocation, never raising)."""

from __future__ import annotations

from typing import Any

from agent_magics.core.errors import AgentUsageError
from agent_magics.sql.invocations import Invoker
from agent_magics.sql.semantics import Answer, check_call, decode_request, read_reply, request_body
from agent_magics.sql.transpile import AiCall
from agent_magics.transport.targets import is_endpoint_name


class RowAsker:
    """Answers rows of ai_query calls; endpoint interfaces are resolved once, up front (``prepare``)."""

    def __init__(
        self, invoker: Invoker, *, custom_inputs: dict[str, Any] | None = None, return_trace: bool = False
    ) -> None:
        self.invoker = invoker
        self.custom_inputs = custom_inputs
        self.return_trace = return_trace
        self.interfaces: dict[str, str] = {}

    def prepare(self, call: AiCall) -> None:
        """Resolve the endpoint's interface and refuse what it cannot take, before any row is sent."""
        if not is_endpoint_name(call.endpoint):  # it may come from the table's rows: it goes into a URL path
            raise AgentUsageError(f"ai_query: {call.endpoint[:80]!r} is not a serving endpoint name.")
        if call.endpoint not in self.interfaces:
            self.interfaces[call.endpoint] = self.invoker.interface(call.endpoint)
        check_call(call, self.interfaces[call.endpoint])

    def __call__(self, call: AiCall, request_json: str) -> Answer:
        try:
            request = decode_request(request_json)
            body = request_body(
                call,
                self.interfaces[call.endpoint],
                request,
                custom_inputs=self.custom_inputs,
                return_trace=self.return_trace,
            )
        except ValueError as exc:
            return Answer(error=f"{call.endpoint}: {exc}")
        reply = self.invoker.post(call.endpoint, body)
        if isinstance(reply, str):
            return Answer(error=reply)
        return read_reply(call, request, reply)
