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

from agent_magics.local import convert, usage
from agent_magics.local.interfaces import Adapter
from agent_magics.local.llm import LLMAdapter
from agent_magics.local.threads import call_in_thread, iterate_in_thread
from agent_magics.local.tracing import ServedTraces, capture

# The JSON shape on the wire: Responses events, chat-completion chunks, or ChatAgent chunks.
Wire = Literal["responses", "chat", "chat_agent"]
NATIVE_WIRE: dict[str, Wire] = {"responses": "responses", "chat_agent": "chat_agent", "chat_model": "chat"}


@dataclass
class Invocation:
    endpoint: str
    adapter: Adapter | LLMAdapter
    request: Any
    as_chat: bool  # answer in chat-completions shape whatever the interface
    request_id: str
    want_output: bool  # the request had ``databricks_options``
    return_trace: bool
    client_request_id: str | None = None
    prompt_tokens: int = 0
    include_usage: bool = False  # ``stream_options.include_usage``: OpenAI's extra usage chunk
    usage_in_stream: bool = False  # a foundation-model endpoint: usage on the last chunk, always

    @property
    def wire(self) -> Wire:
        return "chat" if self.as_chat else NATIVE_WIRE[self.adapter.interface]

    @property
    def _completion_id(self) -> str:
        return f"chatcmpl_{self.request_id.replace('-', '')}"

    def shape(self, native: dict[str, Any]) -> dict[str, Any]:
        if self.as_chat and self.adapter.interface == "responses":
            body = convert.responses_to_completion(native, self.endpoint, self._completion_id)
        elif self.as_chat and self.adapter.interface == "chat_agent":
            body = convert.chat_agent_to_completion(native, self.endpoint, self._completion_id)
        else:
            body = native
        if self.wire == "chat":
            body.setdefault("usage", usage.chat_usage(self.prompt_tokens, usage.completion_tokens(body)))
        elif self.wire == "responses":
            fields = usage.response_fields(self.endpoint, body.get("output") or [], self.prompt_tokens)
            body = {**fields, **{k: v for k, v in body.items() if v is not None}}
        return body

    def shape_stream(self, native: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.as_chat and self.adapter.interface == "responses":
            chunks = convert.responses_to_chunks(native, self.endpoint, self._completion_id)
        elif self.as_chat and self.adapter.interface == "chat_agent":
            chunks = convert.chat_agent_to_chunks(native, self.endpoint, self._completion_id)
        else:
            chunks = native
        if self.wire == "chat":
            return usage.with_chat_usage(
                chunks, self.prompt_tokens, on_last_chunk=self.usage_in_stream, usage_chunk=self.include_usage
            )
        return chunks

    def completed_event(self, output: list[dict[str, Any]], custom_outputs: Any) -> dict[str, Any]:
        """The Responses stream's last event, as OpenAI ends one: the whole response, with usage."""
        response = {**usage.response_fields(self.endpoint, output, self.prompt_tokens), "output": output}
        if custom_outputs is not None:
            response["custom_outputs"] = custom_outputs
        return {"type": "response.completed", "response": response}

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


async def run_json(call: Invocation, traces: ServedTraces) -> dict[str, Any]:
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


async def run_stream(call: Invocation, traces: ServedTraces) -> AsyncIterator[dict[str, Any]]:
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
    done_items: list[dict[str, Any]] = []  # Responses output items, for response.completed
    custom_outputs: Any = None
    async for item in iterate_in_thread(pipeline):
        if isinstance(item, _Finished):
            output = call.databricks_output(item.trace) if call.want_output else None
            if held is not None:
                attach = call.wire != "responses" or held.get("type") == "response.output_item.done"
                if output is not None and attach and item.failure is None:
                    held["databricks_output"] = output
                yield held
            if item.failure is None and call.wire == "responses":
                yield call.completed_event(done_items, custom_outputs)
            if item.failure is not None:
                error = call.error_event(item.failure)
                if output is not None:
                    error["databricks_output"] = output
                yield error
            elif output is not None and call.wire == "responses":
                yield {"databricks_output": output}
            return
        if call.wire == "responses" and item.get("type") == "response.output_item.done":
            done_items.append(item.get("item") or {})
            custom_outputs = item.get("custom_outputs") or custom_outputs
        if not call.want_output:
            yield item
            continue
        if held is not None:
            yield held
        held = item
