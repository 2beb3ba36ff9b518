"""Shapes of the data plane beyond the page's examples: interfaces per route, multi-turn input,
determinism, databricks_output rules, the hostile and bench agents, concurrency."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from agent_magics.local.hostile import EXFIL_ORIGIN, PAYLOADS
from agent_magics.local.pacing import Pace

QUESTION = [{"role": "user", "content": "How do I query an agent on Databricks Apps?"}]


@pytest.mark.parametrize("endpoint", ["demo-chat-agent", "demo-chat-model"])
def test_responses_api_on_a_chat_endpoint_is_a_clear_400(http: httpx.Client, endpoint: str) -> None:
    response = http.post("/serving-endpoints/responses", json={"model": endpoint, "input": QUESTION})
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD_REQUEST"
    assert "does not support the Responses API" in response.json()["message"]
    assert "chat/completions" in response.json()["message"]


def test_bad_requests(http: httpx.Client) -> None:
    not_json = http.post("/serving-endpoints/responses", content=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error_code"] == "BAD_REQUEST"
    assert http.post("/serving-endpoints/responses", json={"input": QUESTION}).status_code == 400  # no model
    invalid = http.post("/serving-endpoints/demo-agent/invocations", json={"messages": QUESTION})
    assert invalid.status_code == 400 and "responses" in invalid.json()["message"]


ODD_MESSAGES = [
    ["hi"],
    "hi",
    [{"role": "assistant", "tool_calls": ["x"]}],
    [{"role": "assistant", "tool_calls": [{"function": "f"}]}],
]


@pytest.mark.parametrize("endpoint", ["demo-agent", "demo-chat-agent", "demo-chat-model"])
@pytest.mark.parametrize("messages", ODD_MESSAGES, ids=range(len(ODD_MESSAGES)))
def test_chat_bodies_of_the_wrong_shape_are_a_400(http: httpx.Client, endpoint: str, messages: Any) -> None:
    for path, body in [
        ("/serving-endpoints/chat/completions", {"model": endpoint, "messages": messages}),
        (f"/serving-endpoints/{endpoint}/invocations", {"messages": messages}),
    ]:
        response = http.post(path, json=body)
        assert response.status_code == 400, (path, response.status_code, response.text[:300])
        assert response.json()["error_code"] == "BAD_REQUEST"


def test_multi_turn_with_replayed_output_items(http: httpx.Client) -> None:
    first = http.post("/serving-endpoints/demo-agent/invocations", json={"input": QUESTION}).json()
    follow_up = [*QUESTION, *first["output"], {"role": "user", "content": "Can I use a PAT for that?"}]
    second = http.post("/serving-endpoints/demo-agent/invocations", json={"input": follow_up}).json()
    text = second["output"][-1]["content"][0]["text"]
    assert text.startswith("Following up on your earlier question")
    assert second["custom_outputs"]["turn"] == 2
    assert second["custom_outputs"]["sources"][0] == "oauth-vs-pat"
    arguments = json.loads(second["output"][0]["arguments"])
    assert arguments["context"] == QUESTION[0]["content"]


def _without_ids(value: Any) -> Any:
    """An answer without what is new for every answer (ids, timestamps)."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("id", "call_id", "item_id", "created_at")}
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def test_answers_are_deterministic_and_ids_are_not(http: httpx.Client) -> None:
    body = {"input": QUESTION, "custom_inputs": {"id": 5}}
    first, second = (http.post("/serving-endpoints/demo-agent/invocations", json=body).json() for _ in range(2))
    assert _without_ids(first) == _without_ids(second)
    first_ids, second_ids = ({answer["id"], *(i.get("id") for i in answer["output"])} for answer in (first, second))
    assert not (first_ids - {None}) & (second_ids - {None})


def test_string_input_and_unknown_question(http: httpx.Client) -> None:
    body = {"model": "demo-agent", "input": "xyzzy plugh"}
    answer = http.post("/serving-endpoints/responses", json=body).json()
    assert "could not find that" in answer["output"][-1]["content"][0]["text"]
    assert answer["custom_outputs"]["sources"] == []


def test_chat_completions_on_a_responses_agent(http: httpx.Client, sse: Any) -> None:
    body = {"model": "demo-agent", "messages": QUESTION}
    completion = http.post("/serving-endpoints/chat/completions", json=body).json()
    message = completion["choices"][0]["message"]
    assert "apps/" in message["content"] and message["tool_calls"][0]["function"]["name"] == "search_docs"
    chunks = sse(http.post("/serving-endpoints/chat/completions", json={**body, "stream": True}).text)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[0]["choices"][0]["delta"]["tool_calls"][0]["index"] == 0
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == message["content"]


def test_chat_agent_native_stream(http: httpx.Client, sse: Any) -> None:
    body = {"messages": QUESTION, "stream": True, "databricks_options": {"return_trace": True}}
    chunks = sse(http.post("/serving-endpoints/demo-chat-agent/invocations", json=body).text)
    assert all(chunk["delta"]["id"] for chunk in chunks)
    roles = [chunk["delta"]["role"] for chunk in chunks]
    assert roles[:2] == ["assistant", "tool"]
    assert chunks[0]["delta"]["tool_calls"][0]["function"]["name"] == "search_docs"
    assert chunks[-1]["finish_reason"] == "stop" and chunks[-1]["databricks_output"]["trace"]
    assert "databricks_output" not in chunks[-2]


def test_databricks_output_rules(http: httpx.Client) -> None:
    url = "/serving-endpoints/demo-agent/invocations"
    plain = http.post(url, json={"input": QUESTION})
    assert "databricks_output" not in plain.json() and plain.headers["x-request-id"]
    options = http.post(url, json={"input": QUESTION, "databricks_options": {}, "client_request_id": "mine-1"})
    assert options.json()["databricks_output"] == {
        "databricks_request_id": options.headers["x-request-id"],
        "client_request_id": "mine-1",
    }


def test_return_trace_metadata(http: httpx.Client) -> None:
    body = {"input": QUESTION, "databricks_options": {"return_trace": True}}
    trace = http.post("/serving-endpoints/demo-agent/invocations", json=body).json()["databricks_output"]["trace"]
    assert trace["info"]["trace_metadata"]["mlflow.databricks.modelServingEndpointName"] == "demo-agent"
    assert trace["info"]["state"] == "OK"
    trace_id = trace["info"]["trace_id"]
    assert trace["info"]["client_request_id"]  # the databricks_request_id, as Model Serving keys it
    fetched = http.get(f"/api/3.0/mlflow/traces/{trace_id}").json()["trace"]
    assert fetched["data"] == trace["data"] and fetched["trace_info"]["trace_id"] == trace_id
    assert http.get("/api/3.0/mlflow/traces/get", params={"trace_id": trace_id}).json()["trace"]["spans"]
    batch = http.get("/api/3.0/mlflow/traces/batchGet", params={"trace_ids": [trace_id, "tr-unknown"]}).json()
    assert [t["trace_info"]["trace_id"] for t in batch["traces"]] == [trace_id]


def test_hostile_agent_puts_payloads_everywhere(http: httpx.Client) -> None:
    body = {"input": QUESTION, "databricks_options": {"return_trace": True}}
    answer = http.post("/serving-endpoints/hostile-agent/invocations", json=body).json()
    call, result, message = answer["output"]
    text = message["content"][0]["text"]
    assert all(payload in text for payload in PAYLOADS)
    assert PAYLOADS[0] in json.loads(call["arguments"])["query"]
    assert "<script>" in result["output"]
    assert answer["custom_outputs"]["payloads"] == PAYLOADS
    spans = answer["databricks_output"]["trace"]["data"]["spans"]
    assert any("<script>" in span["attributes"].get("mlflow.spanInputs", "") for span in spans)
    assert any(EXFIL_ORIGIN in span["attributes"].get("mlflow.spanOutputs", "") for span in spans)


def test_bench_agent(http: httpx.Client, sse: Any) -> None:
    settings = {"tokens": 120, "tokens_per_second": 0, "paragraph_every": 50}
    body = {"input": QUESTION, "stream": True, "custom_inputs": settings}
    events = sse(http.post("/serving-endpoints/bench-agent/invocations", json=body).text)
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert len(deltas) == 120
    text = "".join(deltas)
    last = [e for e in events if e["type"] == "response.output_item.done"][-1]
    assert text.count("\n\n") == 2 and text == last["item"]["content"][0]["text"]
    assert last["custom_outputs"]["bench"]["tokens"] == 120
    assert events[-1]["type"] == "response.completed" and events[-1]["response"]["usage"]["output_tokens"] == 120
    again = sse(http.post("/serving-endpoints/bench-agent/invocations", json=body).text)
    assert _without_ids(again) == _without_ids(events)
    batched = http.post(
        "/serving-endpoints/bench-agent/invocations",
        json={**body, "custom_inputs": {**settings, "tokens_per_delta": 10}},
    )
    assert sum(e["type"] == "response.output_text.delta" for e in sse(batched.text)) == 12


def test_bench_agent_paces_its_stream(http: httpx.Client) -> None:
    settings = {"tokens": 20, "tokens_per_second": 100, "first_token_delay": 0.2}
    body = {"input": QUESTION, "stream": True, "custom_inputs": settings}
    started = time.monotonic()
    first_delta = None
    with http.stream("POST", "/serving-endpoints/bench-agent/invocations", json=body) as response:
        for line in response.iter_lines():
            if first_delta is None and "output_text.delta" in line:
                first_delta = time.monotonic() - started
    total = time.monotonic() - started
    assert first_delta is not None and first_delta >= 0.2
    assert total >= 0.2 + 19 / 100


def test_pace_schedule() -> None:
    started = time.monotonic()
    assert list(Pace(first_token_delay=0.05, tokens_per_second=100).paced(range(6))) == list(range(6))
    assert 0.05 + 0.05 <= time.monotonic() - started < 1.0
    started = time.monotonic()
    list(Pace(0, 0).paced(range(10_000)))
    assert time.monotonic() - started < 0.5


def test_concurrent_streams(local_workspace: Any, sse: Any) -> None:
    def one(index: int) -> str:
        body = {"input": [{"role": "user", "content": f"What is MLflow? #{index}"}], "stream": True}
        response = httpx.post(
            f"{local_workspace.host}/serving-endpoints/demo-agent/invocations",
            json=body,
            headers={"Authorization": f"Bearer {local_workspace.token}"},
            timeout=30,
        )
        return sse(response.text)[-2]["item"]["content"][0]["text"]  # the last is response.completed

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(one, range(32)))
    assert all(answer.startswith("MLflow is an open-source platform") for answer in answers)
