"""Events and bodies of shapes no API sends, from a real loopback socket through %%agent on the REST
and client paths: one odd event is skipped and the stream read on (the text after it kept, the
answer marked failed saying so); a null role is the assistant's; a leading BOM is dropped; huge
token counts and deep nesting end in a result, not a traceback."""

from __future__ import annotations

import json
import socket

import pytest
from test_hostile_http import SSE_HEAD, VIAS, delta, serve


def events(*payloads: object) -> bytes:
    return b"".join(b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads) + b"data: [DONE]\n\n"


def replying(body: bytes, head: bytes = SSE_HEAD):
    def script(conn: socket.socket) -> None:
        conn.sendall(head + body)

    return script


def ask(shell, url: str, api: str, via: str = "rest", options: str = ""):
    return shell.run_cell_magic("agent", f"{url} --api {api} --via {via} --quiet {options}", "odd?")


COMPLETED = {"type": "response.completed", "response": {"output": []}}
ODD_RESPONSES = {
    "response is a list": {"type": "response.completed", "response": ["x"]},
    "incomplete_details is a string": {"type": "response.incomplete", "response": {"incomplete_details": "max"}},
}
ODD_CHAT = {
    "choices is a dict": {"choices": {"delta": {"content": "x"}}},
    "a choice is a string": {"choices": ["x"]},
    "delta is a list": {"choices": [{"delta": [1]}]},
    "tool_calls is a dict": {"choices": [{"delta": {"tool_calls": {"index": 0}}}]},
    "tool-call index is null": {"choices": [{"delta": {"tool_calls": [{"index": None, "function": {"name": "f"}}]}}]},
    "tool-call index is a word": {"choices": [{"delta": {"tool_calls": [{"index": "x"}]}}]},
    "function is a string": {"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]},
}


def chat_delta(text: str) -> dict[str, object]:
    return {"id": "c1", "choices": [{"index": 0, "delta": {"content": text}}]}


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("case", list(ODD_CHAT), ids=list(ODD_CHAT))
def test_one_odd_chat_chunk_is_skipped_and_the_rest_kept(shell, via, case):
    body = events(chat_delta("before "), ODD_CHAT[case], chat_delta("after"), {"choices": [{"finish_reason": "stop"}]})
    with serve(replying(body)) as url:
        result = ask(shell, url, "chat", via)
    assert result.text == "before after", (result.text, result.error)
    assert result.status == "failed" and "unexpected shape and were skipped" in result.error, result.error
    assert "\n" not in result.error


@pytest.mark.parametrize("case", list(ODD_RESPONSES), ids=list(ODD_RESPONSES))
def test_one_odd_responses_event_is_skipped_and_the_text_kept(shell, case):
    body = events({"type": "response.output_text.delta", "item_id": "m1", "delta": "kept"}, ODD_RESPONSES[case])
    with serve(replying(body)) as url:
        result = ask(shell, url, "responses")
    assert result.text == "kept" and result.status == "failed", (result.text, result.error)


def test_streamed_tool_arguments_sent_as_an_object_are_kept(shell):
    call = {"index": 0, "id": "t1", "function": {"name": "lookup", "arguments": {"q": "mlflow"}}}
    body = events({"id": "c1", "choices": [{"delta": {"tool_calls": [call]}}]}, {"choices": [{"finish_reason": "x"}]})
    with serve(replying(body)) as url:
        result = ask(shell, url, "chat")
    assert result.ok, result.error
    assert [json.loads(c["arguments"]) for c in result.tool_calls] == [{"q": "mlflow"}]


@pytest.mark.parametrize("role", [None, "Assistant"])
@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_a_null_or_capitalised_role_is_the_assistant(shell, role, stream):
    if stream == "--stream":
        chunk = {"id": "c1", "choices": [{"delta": {"role": role, "content": "Hello"}, "finish_reason": "stop"}]}
        reply = replying(events(chunk))
    else:
        body = json.dumps({"id": "c1", "choices": [{"message": {"role": role, "content": "Hello"}}]}).encode()
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
        reply = replying(body, head)
    with serve(reply) as url:
        result = ask(shell, url, "chat", options=stream)
    assert result.ok and result.text == "Hello", (result.text, result.error)


@pytest.mark.parametrize("via", VIAS)
def test_a_byte_order_mark_before_the_first_event_is_dropped(shell, via):
    with serve(replying(b"\xef\xbb\xbf" + delta("with a BOM") + events(COMPLETED))) as url:
        result = ask(shell, url, "responses", via)
    assert result.ok and result.text == "with a BOM", (result.text, result.error)


def test_a_huge_token_count_is_ignored_not_a_crash(shell):
    usage = {"input_tokens": 3, "output_tokens": 10**400, "total_tokens": 10**400}
    done = {"type": "response.completed", "response": {"output": [], "usage": usage}}
    with serve(replying(delta("counted") + events(done))) as url:
        result = ask(shell, url, "responses")
    assert result.ok and result.usage == {"input_tokens": 3}, (result.error, result.usage)
    assert "counted" in result._repr_mimebundle_()["text/html"]


def test_deeply_nested_tool_arguments_end_in_a_result(shell):
    nested: object = "leaf"
    for _ in range(500):
        nested = {"a": nested}
    item = {"type": "function_call", "call_id": "c", "name": "deep", "arguments": nested}
    body = delta("before the call") + events({"type": "response.output_item.done", "item": item}, COMPLETED)
    with serve(replying(body)) as url:
        result = ask(shell, url, "responses")
    assert result.text == "before the call" and result.tool_calls, (result.status, result.error)
    assert "[nested too deep]" in result.tool_calls[0]["arguments"]
    result._repr_mimebundle_()  # renders


@pytest.mark.parametrize("via", VIAS)
def test_deltas_without_an_item_id_then_the_message_with_one_count_once(shell, via):
    anonymous = {"type": "response.output_text.delta", "delta": "Hello world"}
    item = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Hello world"}],
    }
    body = events(anonymous, {"type": "response.output_item.done", "item": item}, COMPLETED)
    with serve(replying(body)) as url:
        result = ask(shell, url, "responses", via)
    assert result.ok and result.text == "Hello world", (result.text, result.error)
