"""Whatever valid JSON an agent streams, the answer survives: wire parser -> reducer -> every view ->
static rendering never raises, and the result keeps the text that arrived."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_magics.core.events import Done, Event
from agent_magics.core.request import AgentRequest, Timeouts
from agent_magics.core.result import AgentResult
from agent_magics.run import Execution
from agent_magics.view.live import make_view
from agent_magics.view.render import render_result_html, render_result_text
from agent_magics.wire import chat, responses
from agent_magics.wire.sse import DONE, iter_sse_payloads

# Any JSON value, lone surrogates included (json.loads turns "\ud800" escapes into them).
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.sampled_from(["\ud800", "a\udfffb"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
KEYS = [
    "type",
    "id",
    "item_id",
    "call_id",
    "name",
    "arguments",
    "output",
    "content",
    "summary",
    "role",
    "text",
    "delta",
    "item",
    "response",
    "error",
    "message",
    "custom_outputs",
    "databricks_output",
    "trace",
    "trace_id",
    "output_index",
    "status",
    "choices",
    "tool_calls",
    "function",
    "usage",
    "info",
    "data",
    "spans",
]
TYPES = [
    "response.output_text.delta",
    "response.output_item.done",
    "response.completed",
    "response.failed",
    "response.incomplete",
    "error",
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "output_text",
    "refusal",
    "web_search_call",
]
# Shaped like the real thing, with any value in any field: the shapes that reach the views.
FIELD = st.one_of(JSON, st.sampled_from(TYPES))
SHAPED: Any = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), FIELD, max_size=6),
    lambda inner: st.dictionaries(st.sampled_from(KEYS), FIELD | inner | st.lists(inner, max_size=3), max_size=6),
    max_leaves=10,
)
PAYLOADS = st.lists(SHAPED | JSON, max_size=8)


class Events:
    """A transport that yields the events of given SSE payloads, through the real wire translator."""

    via = "rest"

    def __init__(self, payloads: list[Any], wire: str) -> None:
        self.payloads = payloads
        self.wire = wire

    def events(self, request: AgentRequest, policy: Any) -> Iterator[Event]:
        lines = [f"data: {json.dumps(p)}\n\n" for p in self.payloads]
        translator = responses.ResponsesStream() if self.wire == "responses" else chat.ChatCompletionsStream()
        for payload in iter_sse_payloads(lines):
            if payload is DONE or not isinstance(payload, dict):
                continue
            yield from translator.feed(payload)
        if hasattr(translator, "close"):
            yield from translator.close()
        yield Done("completed")


def request_for(wire: str) -> AgentRequest:
    return AgentRequest(
        target="hypothesis-agent",
        kind="endpoint",
        name="hypothesis-agent",
        interface=wire,
        api="responses" if wire == "responses" else "chat",
        via="rest",
        input=[{"role": "user", "content": "hi"}],
        stream=True,
        timeouts=Timeouts(),
    )


def run_through(payloads: list[Any], wire: str, mode: str) -> AgentResult:
    execution = Execution(request_for(wire), None, make_view(mode, max_rate=1e9), transport=Events(payloads, wire))
    with redirect_stdout(io.StringIO()):
        for _ in execution:
            pass
        result = execution.result()
        render_result_html(result)
        render_result_text(result)
        json.dumps(render_result_html(result), ensure_ascii=False).encode("utf-8")  # what a notebook saves
    return result


@pytest.mark.parametrize("mode", ["display", "text", "widget"])
@pytest.mark.parametrize("wire", ["responses", "chat"])
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(payloads=PAYLOADS)
def test_any_json_stream_ends_in_a_result(payloads, wire, mode):
    result = run_through(payloads, wire, mode)
    assert isinstance(result, AgentResult)
    assert result.status in ("completed", "failed")


MALFORMED_ITEMS = {
    "call_id is a list": {"type": "function_call", "call_id": ["a", 1], "name": "lookup", "arguments": "{}"},
    "name is a dict": {"type": "function_call", "call_id": "c1", "name": {"x": 1}, "arguments": {"q": 1}},
    "content is a number": {"type": "message", "id": "m1", "role": "assistant", "content": 42},
    "summary is a number": {"type": "reasoning", "id": "r1", "summary": 7},
    "output is a list of numbers": {"type": "function_call_output", "call_id": "c1", "output": [1, 2]},
    "lone surrogate in a tool name": {"type": "function_call", "call_id": "c2", "name": "\ud800", "arguments": "{}"},
    "type is a number": {"type": 3, "id": "x"},
}


@pytest.mark.parametrize("mode", ["display", "text", "widget"])
@pytest.mark.parametrize("case", list(MALFORMED_ITEMS), ids=list(MALFORMED_ITEMS))
def test_one_malformed_item_keeps_the_answer(case, mode):
    payloads = [
        {"type": "response.output_text.delta", "item_id": "m0", "delta": "The answer \ud800 so far"},
        {"type": "response.output_item.done", "item": MALFORMED_ITEMS[case]},
        {"type": "response.completed", "response": {}},
    ]
    result = run_through(payloads, "responses", mode)
    assert "The answer" in result.text and "so far" in result.text
    assert result.status in ("completed", "failed")


class BrokenView:
    """A view with a bug: the answer must survive it, marked failed, its text kept."""

    def __init__(self, fail_in: str) -> None:
        self.fail_in = fail_in

    def start(self, target: str) -> None:
        pass

    def on_event(self, state: Any, event: Event) -> None:
        if self.fail_in == "on_event":
            raise TypeError("unhashable type: 'list'")

    def finish(self, result: AgentResult) -> None:
        if self.fail_in == "finish":
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")


@pytest.mark.parametrize("fail_in", ["on_event", "finish"])
def test_a_failing_view_does_not_lose_the_answer(fail_in):
    payloads = [
        {"type": "response.output_text.delta", "item_id": "m0", "delta": "half of "},
        {"type": "response.output_text.delta", "item_id": "m0", "delta": "the answer"},
        {"type": "response.completed", "response": {}},
    ]
    execution = Execution(request_for("responses"), None, BrokenView(fail_in), transport=Events(payloads, "responses"))
    for _ in execution:
        pass
    result = execution.result()
    assert result.status == "failed"
    assert result.text == "half of the answer"
    assert "could not be shown" in (result.error or "") and "hypothesis-agent" in result.error
