"""Request bodies and answer shaping per endpoint interface (pure: no server)."""

from __future__ import annotations

import json

import pytest

from agent_magics.core.errors import AgentUsageError
from agent_magics.sql.semantics import check_call, read_reply, request_body
from agent_magics.sql.transpile import transpile


def call_of(sql: str):
    return transpile(sql).calls[0]


RESPONSES_REPLY = {
    "output": [
        {"type": "function_call", "id": "fc", "call_id": "c1", "name": "search_docs", "arguments": "{}"},
        {
            "type": "message",
            "id": "m1",
            "role": "assistant",
            "content": [{"type": "output_text", "text": '{"answer": "42", "score": 0.9}'}],
        },
    ],
    "custom_outputs": {"echo": {"id": 5}},
    "databricks_output": {"trace": {"info": {"trace_id": "tr-1"}, "data": {"spans": []}}},
}
CHAT_AGENT_REPLY = {"messages": [{"role": "assistant", "content": "Hello", "id": "a"}], "custom_outputs": {"n": 1}}
CHAT_MODEL_REPLY = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi there"}}]}


def test_string_request_per_interface():
    call = call_of("SELECT ai_query('ep', q) FROM t")
    assert request_body(call, "responses", "What?") == {"input": [{"role": "user", "content": "What?"}]}
    for interface in ("chat_agent", "chat_model"):
        assert request_body(call, interface, "What?") == {"messages": [{"role": "user", "content": "What?"}]}


def test_struct_request_is_sent_as_is_with_extras_merged():
    call = call_of("SELECT ai_query('ep', s) FROM t")
    struct = {"input": [{"role": "user", "content": "x"}], "custom_inputs": {"row": 1}}
    body = request_body(call, "responses", struct, custom_inputs={"id": 5, "row": 0}, return_trace=True)
    assert body == {
        "input": struct["input"],
        "custom_inputs": {"id": 5, "row": 1},
        "databricks_options": {"return_trace": True},
    }
    with pytest.raises(ValueError, match="ARRAY"):
        request_body(call, "responses", [1, 2])


def test_model_parameters_merge_for_chat_and_are_refused_for_responses():
    call = call_of(
        "SELECT ai_query('ep', q, modelParameters => named_struct('temperature', 0.1, 'max_tokens', 5)) FROM t"
    )
    assert request_body(call, "chat_model", "hi") == {
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.1,
        "max_tokens": 5,
    }
    check_call(call, "chat_model")
    with pytest.raises(AgentUsageError, match="UNSUPPORTED_ENDPOINT_TYPE"):
        check_call(call, "responses")


def test_response_format_json_and_ddl():
    call = call_of("""SELECT ai_query('ep', q, responseFormat => '{"type": "json_object"}') FROM t""")
    assert request_body(call, "chat_model", "hi")["response_format"] == {"type": "json_object"}
    call = call_of("SELECT ai_query('ep', q, responseFormat => 'STRUCT<answer: STRING, n: INT>') FROM t")
    chat = request_body(call, "chat_model", "hi")["response_format"]
    assert chat["type"] == "json_schema"
    assert chat["json_schema"]["schema"]["properties"] == {"answer": {"type": "string"}, "n": {"type": "integer"}}
    responses = request_body(call, "responses", "hi")["text"]["format"]
    assert responses["type"] == "json_schema" and responses["name"] == "response"


def test_answer_text_for_every_reply_shape():
    call = call_of("SELECT ai_query('ep', q) FROM t")
    assert read_reply(call, "q", RESPONSES_REPLY).value == '{"answer": "42", "score": 0.9}'
    assert read_reply(call, "q", CHAT_AGENT_REPLY).value == "Hello"
    assert read_reply(call, "q", CHAT_MODEL_REPLY).value == "Hi there"
    assert read_reply(call, "q", {"predictions": ["raw"]}).value == "raw"
    answer = read_reply(call, "q", RESPONSES_REPLY)
    assert answer.trace == {"info": {"trace_id": "tr-1"}, "data": {"spans": []}}


def test_struct_request_without_return_type_gives_the_whole_json():
    call = call_of("SELECT ai_query('ep', s) FROM t")
    value = json.loads(read_reply(call, {"messages": []}, CHAT_AGENT_REPLY).value)
    assert value == CHAT_AGENT_REPLY


def test_return_type_reads_the_reply_or_the_answer_text():
    call = call_of("SELECT ai_query('ep', s, returnType => 'STRUCT<messages: ARRAY<STRUCT<content: STRING>>>') FROM t")
    assert read_reply(call, {}, CHAT_AGENT_REPLY).value == {"messages": [{"content": "Hello"}]}
    call = call_of("SELECT ai_query('ep', q, returnType => 'STRUCT<answer: STRING, score: DOUBLE>') FROM t")
    assert read_reply(call, "q", RESPONSES_REPLY).value == {"answer": "42", "score": 0.9}
    call = call_of("SELECT ai_query('ep', q, returnType => 'STRUCT<answer: INT>') FROM t")
    assert read_reply(
        call,
        "q",
        {
            "output": [
                {
                    "type": "message",
                    "id": "m",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": '{"answer": "many"}'}],
                }
            ]
        },
    ).error.startswith("the answer does not match")
    call = call_of("SELECT ai_query('ep', q, returnType => 'STRUCT<answer: INT>') FROM t")
    assert "neither JSON" in read_reply(call, "q", CHAT_MODEL_REPLY).error


def test_error_bodies_become_row_errors():
    call = call_of("SELECT ai_query('ep', q) FROM t")
    assert read_reply(call, "q", {"error": {"message": "boom"}}).error == "boom"
    assert read_reply(call, "q", {"messages": [], "error": "bad"}).error == "bad"
