"""Wire formats -> events -> reduction: every format ends in the same items."""

from __future__ import annotations

import json

import pytest

from agent_magics.core.events import (
    Done,
    ErrorEvent,
    ItemDone,
    Reduction,
    TextDelta,
    TraceReceived,
    finish,
    reduce_event,
)
from agent_magics.core.request import AgentRequest, items_to_messages
from agent_magics.wire import chat, responses
from agent_magics.wire.sse import DONE, MalformedStream, iter_sse_payloads


def reduce_all(events):
    state = Reduction()
    for event in events:
        reduce_event(state, event)
    return finish(state)


def sse(*payloads):
    lines = []
    for p in payloads:
        lines += [f"data: {p if isinstance(p, str) else json.dumps(p)}", ""]
    return lines


def test_sse_parser_handles_event_lines_comments_and_done():
    lines = [": keep-alive", "event: message", 'data: {"a": 1}', "", 'data: {"b":', "data: 2}", "", "data: [DONE]", ""]
    assert list(iter_sse_payloads(lines)) == [{"a": 1}, {"b": 2}, DONE]


def test_sse_parser_accepts_unseparated_data_lines():
    assert list(iter_sse_payloads(['data: {"a": 1}', 'data: {"b": 2}'])) == [{"a": 1}, {"b": 2}]


def test_sse_parser_reports_malformed_json_cleanly():
    with pytest.raises(MalformedStream, match="not JSON"):
        list(iter_sse_payloads(["data: {not json", ""]))


def test_sse_parser_ignores_fields_it_does_not_know_and_still_refuses_junk():
    """The SSE spec ignores an unknown field ("foo: bar", a bare "ping"); a line that is no field at all
    (HTML, a JSON line without data:) still says the stream is not an event stream."""
    lines = ['data: {"a": 1}', "foo: bar", "ping", "x-keep-alive: 1", "", "data: [DONE]", ""]
    assert list(iter_sse_payloads(lines)) == [{"a": 1}, DONE]
    for junk in ("<html><body>Sign in</body></html>", '{"a": 1}'):
        with pytest.raises(MalformedStream, match="unexpected line"):
            list(iter_sse_payloads([junk, ""]))


def test_a_failed_response_without_an_error_object_is_still_a_failure():
    translator = responses.ResponsesStream()
    events = translator.feed({"type": "response.output_text.delta", "item_id": "m1", "delta": "Hel"})
    events += translator.feed({"type": "response.failed", "response": {"status": "failed", "error": None}})
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and "failed" in errors[0].message


def test_fuzz_sse_parser():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(st.lists(st.text(max_size=30), max_size=12))
    def check(lines):
        try:
            list(iter_sse_payloads(lines))
        except MalformedStream:
            pass

    check()


MESSAGE = {
    "type": "message",
    "id": "m1",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "Hello world", "annotations": []}],
}
CALL = {"type": "function_call", "id": "fc1", "call_id": "c1", "name": "search_docs", "arguments": '{"q": "x"}'}
CALL_OUT = {"type": "function_call_output", "call_id": "c1", "output": "found"}
TRACE = {"info": {"trace_id": "tr-1"}, "data": {"spans": []}}


def test_responses_stream_and_body_end_in_the_same_reduction():
    translator = responses.ResponsesStream()
    stream_events = []
    for payload in [
        {"type": "response.output_item.done", "item": CALL},
        {"type": "response.output_item.done", "item": CALL_OUT},
        {"type": "response.output_text.delta", "item_id": "m1", "delta": "Hello"},
        {"type": "response.output_text.delta", "item_id": "m1", "delta": " world"},
        {"type": "response.output_item.done", "item": {**MESSAGE, "databricks_output": {"trace": TRACE}}},
        {"custom_outputs": {"id": 5}},
        {"trace_id": "tr-1"},
    ]:
        stream_events += translator.feed(payload)
    streamed = reduce_all([*stream_events, Done()])
    body = reduce_all(
        responses.body_events(
            {
                "output": [CALL, CALL_OUT, MESSAGE],
                "custom_outputs": {"id": 5},
                "databricks_output": {"trace": TRACE, "databricks_request_id": "r"},
            }
        )
    )
    assert streamed.output == body.output == [CALL, CALL_OUT, MESSAGE]
    assert streamed.text == body.text == "Hello world"
    assert streamed.custom_outputs == body.custom_outputs == {"id": 5}
    assert streamed.trace == body.trace == TRACE
    assert streamed.trace_id == body.trace_id == "tr-1"
    assert body.request_info == {"databricks_request_id": "r"}


def test_responses_usage_is_kept_from_the_completed_event_and_the_body():
    usage = {"input_tokens": 12, "output_tokens": 34, "total_tokens": 46}
    completed = {"type": "response.completed", "response": {"output": [], "usage": usage}}
    translator = responses.ResponsesStream()
    translator.items_seen = 1  # the items streamed before
    streamed = reduce_all([*translator.feed(completed), Done()])
    body = reduce_all(responses.body_events({"output": [MESSAGE], "usage": usage}))
    assert streamed.request_info["usage"] == body.request_info["usage"] == usage
    assert reduce_all(responses.body_events({"output": [MESSAGE], "usage": None})).request_info == {}


def test_error_mid_stream_keeps_partial_text():
    translator = responses.ResponsesStream()
    events = translator.feed({"type": "response.output_text.delta", "item_id": "m", "delta": "partial"})
    events += translator.feed({"error": "boom from agent"})
    state = reduce_all(events)
    assert state.status == "failed" and state.error == "boom from agent"
    assert state.text == "partial" and state.output[0]["type"] == "message"


def test_typed_error_event():
    events = responses.ResponsesStream().feed({"type": "error", "message": "quota", "code": "429"})
    assert events == [ErrorEvent("quota")]


def test_no_op_trace_id_is_ignored():
    assert responses.ResponsesStream().feed({"trace_id": "MLFLOW_NO_OP_SPAN_TRACE_ID"}) == []


def test_chat_completion_chunks_merge_tool_calls_and_text():
    translator = chat.ChatCompletionsStream()
    events = []
    for chunk in [
        {
            "id": "cmpl",
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"index": 0, "id": "c1", "function": {"name": "search_docs", "arguments": '{"q"'}}
                        ]
                    }
                }
            ],
        },
        {"id": "cmpl", "choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": ': "x"}'}}]}}]},
        {"id": "cmpl", "choices": [{"delta": {"content": "Hello"}}], "usage": {"completion_tokens": 1}},
        {
            "id": "cmpl",
            "choices": [{"delta": {"content": [{"type": "text", "text": " world"}]}, "finish_reason": "stop"}],
            "custom_outputs": {"id": 5},
            "databricks_output": {"trace": TRACE},
        },
    ]:
        events += translator.feed(chunk)
    state = reduce_all([*events, *translator.close(), Done()])
    assert [i["type"] for i in state.output] == ["function_call", "message"]
    assert state.output[0]["arguments"] == '{"q": "x"}'
    assert state.text == "Hello world" and state.custom_outputs == {"id": 5} and state.trace == TRACE
    assert state.request_info["usage"] == {"completion_tokens": 1}


def test_chat_completion_items_keep_the_order_they_streamed_in():
    """Text first, then the calls it announces: the message item comes first, as the user saw it."""
    translator = chat.ChatCompletionsStream()
    events = []
    for chunk in [
        {"id": "cmpl", "choices": [{"delta": {"content": "Let me look."}}]},
        {"id": "cmpl", "choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "a"}}]}}]},
        {"id": "cmpl", "choices": [{"delta": {"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "b"}}]}}]},
    ]:
        events += translator.feed(chunk)
    state = reduce_all([*events, *translator.close(), Done()])
    assert [(i["type"], i.get("name")) for i in state.output] == [
        ("message", None),
        ("function_call", "a"),
        ("function_call", "b"),
    ]


def test_chat_agent_tool_call_pieces_join_their_call():
    """A tool call streamed in pieces of one id is one call with the arguments joined (as MLflow's
    ChatAgent chunk reducer reads them), not a call per piece."""
    translator = chat.ChatAgentStream()
    pieces = [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q"'}},
        {"id": "call_1", "type": "function", "function": {"arguments": ":1}"}},
        {"id": "call_2", "type": "function", "function": {"name": "other", "arguments": "{}"}},
    ]
    events = []
    for piece in pieces:
        events += translator.feed({"delta": {"role": "assistant", "content": "", "id": "a", "tool_calls": [piece]}})
    state = reduce_all([*events, *translator.close(), Done()])
    calls = [(i["name"], i["arguments"]) for i in state.output if i["type"] == "function_call"]
    assert calls == [("lookup", '{"q":1}'), ("other", "{}")]
    assert pieces[0]["function"]["arguments"] == '{"q"'  # the chunks themselves are not changed


def test_chat_agent_chunks_aggregate_by_delta_id():
    translator = chat.ChatAgentStream()
    events = []
    for chunk in [
        {
            "delta": {
                "role": "assistant",
                "content": "",
                "id": "a",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "search_docs", "arguments": "{}"}}
                ],
            }
        },
        {"delta": {"role": "tool", "content": "found", "id": "t", "name": "search_docs", "tool_call_id": "c1"}},
        {"delta": {"role": "assistant", "content": "Hel", "id": "m"}},
        {"delta": {"role": "assistant", "content": "lo", "id": "m"}, "custom_outputs": {"k": 1}},
    ]:
        events += translator.feed(chunk)
    assert [e.delta for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    state = reduce_all([*events, *translator.close(), Done()])
    assert [i["type"] for i in state.output] == ["function_call", "function_call_output", "message"]
    assert state.text == "Hello" and state.custom_outputs == {"k": 1}


def test_chat_agent_body():
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": "",
                "id": "a",
                "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "s", "arguments": "{}"}}],
            },
            {"role": "tool", "content": "r", "id": "t", "name": "s", "tool_call_id": "c1"},
            {"role": "assistant", "content": "answer", "id": "m"},
        ]
    }
    state = reduce_all(chat.completion_body_events(body))
    assert state.text == "answer" and len(state.output) == 3 and state.status == "completed"


def test_trace_event_sets_trace_id_from_info():
    state = reduce_all([TraceReceived(trace=TRACE)])
    assert state.trace_id == "tr-1"


def test_items_replay_as_chat_messages():
    items = [{"role": "user", "content": "q"}, CALL, CALL_OUT, MESSAGE, {"role": "user", "content": "more"}]
    assert items_to_messages(items) == [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "search_docs", "arguments": '{"q": "x"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "search_docs", "content": "found"},
        {"role": "assistant", "content": "Hello world"},
        {"role": "user", "content": "more"},
    ]


def test_a_structured_tool_output_replays_as_json_for_chat_endpoints():
    output = {"rows": [1, 2], "ok": True, "note": None}
    items = [CALL, {**CALL_OUT, "output": output}]
    tool = items_to_messages(items)[-1]
    assert tool["role"] == "tool" and json.loads(tool["content"]) == output  # not "{'rows': [1, 2], ...}"


def test_request_bodies_per_api():
    base = dict(
        target="t",
        kind="endpoint",
        name="ep",
        interface="responses",
        via="rest",
        input=[{"role": "user", "content": "q", "id": "x" * 80}],
        custom_inputs={"id": 5},
        return_trace=True,
    )
    body = AgentRequest(api="responses", **base).body()
    assert body["model"] == "ep" and body["databricks_options"] == {"return_trace": True}
    assert len(body["input"][0]["id"]) == 64 and body["stream"] is True
    app = AgentRequest(**{**base, "kind": "app"}, api="responses")
    assert "databricks_options" not in app.body() and app.extra_headers() == {"x-mlflow-return-trace-id": "true"}
    chat_body = AgentRequest(**{**base, "interface": "chat_agent"}, api="invocations").body()
    assert chat_body["messages"] == [{"role": "user", "content": "q"}] and "model" not in chat_body
    assert isinstance(ItemDone(MESSAGE).item, dict)
    url = AgentRequest(**{**base, "kind": "url", "name": "https://llm.example/v1"}, api="chat").body()
    assert url["model"] == "agent"  # as the client path asks it: a URL is no model name
