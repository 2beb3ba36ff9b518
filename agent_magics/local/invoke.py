"""One data-plane call: run the agent under trace capture, shape its output, add ``databricks_output``.

``databricks_output`` (our choice, documented): it is added only when the request carries
``databricks_options``; it always has ``databricks_request_id`` (also sent as the ``x-request-id``
header on every data-plane response), ``client_request_id`` when the body had one, and ``trace``
(the MLflow V3 trace dict) when ``return_trace`` is true. When streaming, it is attached to the last
event (for the Responses wire: when that is a ``response.output_item.done``, which it is for our
agents) and, for the Responses wire, also sent as a last untyped ``{"databricks_output": ...}`` event
before ``[DONE]``, the way AgentServer sends its untyped ``{"trace_id": ...}`` event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from agent_magics.local import convert
from agent_magics.local.interfaces import Adapter
from agent_magics.local.threads import call_in_thread, iterate_in_thread
from agent_magics.local.tracing import TraceStore, capture

# The JSON shape on the wire: Responses events, chat-completion chunks, or ChatAgent chunks.
Wire = Literal["responses", "chat", "chat_agent"]
NATIVE_WIRE: dict[str, Wire] = {"responses": "responses", "chat_agent": "chat_agent", "chat_model": "chat"}


@dataclass
class Invocation:
    endpoint: str
    adapter: Adapter
    request: Any
    as_chat: bool  # answer in chat-completions shape whatever the interface
    request_id: str
    want_output: bool  # the request had ``databricks_options``
    return_trace: bool
    client_request_id: str | None = None

    @property
    def wire(self) -> Wire:
        return "chat" if self.as_chat else NATIVE_WIRE[self.adapter.interface]

    @property
    def _completion_id(self) -> str:
        return f"chatcmpl_{self.request_id.replace('-', '')}"

    def shape(self, native: dict[str, Any]) -> dict[str, Any]:
        if self.as_chat and self.adapter.interface == "responses":
            return convert.responses_to_completion(native, self.endpoint, self._completion_id)
        if self.as_chat and self.adapter.interface == "chat_agent":
            return convert.chat_agent_to_completion(native, self.endpoint, self._completion_id)
        return native

    def shape_stream(self, native: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.as_chat and self.adapter.interface == "responses":
            return convert.responses_to_chunks(native, self.endpoint, self._completion_id)
        if self.as_chat and self.adapter.interface == "chat_agent":
            return convert.chat_agent_to_chunks(native, self.endpoint, self._completion_id)
        return native

    def databricks_output(self, trace: dict[str, Any] | None) -> dict[str, Any]:
        output: dict[str, Any] = {"databricks_request_id": self.request_id}
        if self.client_request_id is not None:
            output["client_request_id"] = self.client_request_id
        if self.return_trace:
            output["trace"] = trace
        return output

    def error_event(self, exc: BaseException) -> dict[str, Any]:
        if self.wire == "responses":
            return {"type": "error", "code": "INTERNAL_ERROR", "message": str(exc)}
        return {"error": {"error_code": "INTERNAL_ERROR", "message": str(exc)}}


async def run_json(call: Invocation, traces: TraceStore) -> dict[str, Any]:
    """The JSON answer; agent exceptions propagate (the route turns them into a 500)."""

    def work() -> tuple[dict[str, Any], dict[str, Any] | None]:
        try:
            with capture(call.request_id, call.endpoint, traced=call.return_trace):
                native = call.adapter.predict(call.request)
        finally:
            trace = traces.collect(call.request_id)
        return native, trace

    native, trace = await call_in_thread(work)
    body = call.shape(native)
    if call.want_output:
        body["databricks_output"] = call.databricks_output(trace)
    return body


@dataclass(frozen=True)
class _Finished:
    trace: dict[str, Any] | None
    failure: Exception | None


async def run_stream(call: Invocation, traces: TraceStore) -> AsyncIterator[dict[str, Any]]:
    """The wire events of a streamed answer; an agent failure becomes a final error event."""

    def pipeline() -> Iterator[Any]:
        failure = None
        try:
            with capture(call.request_id, call.endpoint, traced=call.return_trace):
                yield from call.shape_stream(call.adapter.stream(call.request))
        except Exception as exc:  # reported in the stream, after the trace is collected
            failure = exc
        finally:
            trace = traces.collect(call.request_id)  # also when the client left early
        yield _Finished(trace, failure)

    held: dict[str, Any] | None = None  # the latest event, held back to attach databricks_output
    async for item in iterate_in_thread(pipeline):
        if isinstance(item, _Finished):
            output = call.databricks_output(item.trace) if call.want_output else None
            if held is not None:
                attach = call.wire != "responses" or held.get("type") == "response.output_item.done"
                if output is not None and attach and item.failure is None:
                    held["databricks_output"] = output
                yield held
            if item.failure is not None:
                error = call.error_event(item.failure)
                if output is not None:
                    error["databricks_output"] = output
                yield error
            elif output is not None and call.wire == "responses":
                yield {"databricks_output": output}
            return
        if not call.want_output:
            yield item
            continue
        if held is not None:
            yield held
        held = item
