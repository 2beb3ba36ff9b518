"""Every way the Databricks "query an agent" page queries an agent, against the local workspace,
through the real client libraries over HTTP."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from mlflow.entities import SpanType, Trace

QUESTION = [{"role": "user", "content": "How do I query an agent on Databricks Apps?"}]


def _trace_of(output: dict[str, Any]) -> Trace:
    trace = Trace.from_dict(output["trace"])
    assert trace.info.trace_id.startswith("tr-")
    return trace


def _span_types(trace: Trace) -> set[str]:
    return {span.span_type for span in trace.data.spans}


# -- 1. An agent on Databricks Apps: DatabricksOpenAI with model="apps/<name>" (OAuth) -----------


def test_app_responses_with_custom_inputs(openai_oauth: Any) -> None:
    response = openai_oauth.responses.create(
        model="apps/demo-app", input=QUESTION, extra_body={"custom_inputs": {"id": 5}}
    )
    assert "apps/" in response.output_text
    assert [item.type for item in response.output] == ["function_call", "function_call_output", "message"]
    assert response.custom_outputs["echo"] == {"id": 5}


def test_app_responses_streaming(openai_oauth: Any) -> None:
    stream = openai_oauth.responses.create(
        model="apps/demo-app", input=QUESTION, stream=True, extra_body={"custom_inputs": {"id": 5}}
    )
    events = list(stream)
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = [e.item for e in events if e.type == "response.output_item.done"]
    assert [item.type for item in done] == ["function_call", "function_call_output", "message"]
    assert done[-1].content[0].text == deltas
    assert "apps/" in deltas


# -- 2. A ResponsesAgent on Model Serving: DatabricksOpenAI with model=<endpoint> (PAT) -----------

SERVING_EXTRA = {"custom_inputs": {"id": 5}, "databricks_options": {"return_trace": True}}


def test_serving_responses_with_trace(openai_pat: Any) -> None:
    response = openai_pat.responses.create(model="demo-agent", input=QUESTION, extra_body=SERVING_EXTRA)
    assert "apps/" in response.output_text
    assert response.custom_outputs["echo"] == {"id": 5}
    output = response.model_extra["databricks_output"]
    assert output["databricks_request_id"]
    trace = _trace_of(output)
    assert {SpanType.AGENT, SpanType.TOOL, SpanType.CHAT_MODEL} <= _span_types(trace)
    tool = next(s for s in trace.data.spans if s.span_type == SpanType.TOOL)
    assert tool.name == "search_docs" and tool.outputs[0]["id"] == "apps-prefix"


def test_serving_responses_streaming_with_trace(openai_pat: Any) -> None:
    stream = openai_pat.responses.create(model="demo-agent", input=QUESTION, stream=True, extra_body=SERVING_EXTRA)
    events = list(stream)
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert "apps/" in text
    last_item_done = [e for e in events if e.type == "response.output_item.done"][-1]
    assert last_item_done.custom_outputs["echo"] == {"id": 5}
    outputs = [e.model_extra["databricks_output"] for e in events if (e.model_extra or {}).get("databricks_output")]
    assert len(outputs) == 2  # on the last output_item.done, and on a final event of its own
    assert last_item_done.model_extra["databricks_output"] == outputs[-1]
    assert SpanType.TOOL in _span_types(_trace_of(outputs[-1]))


# -- 3. Legacy ChatAgent / ChatModel: WorkspaceClient().serving_endpoints.get_open_ai_client() ----


@pytest.mark.parametrize("endpoint", ["demo-chat-agent", "demo-chat-model"])
def test_chat_completions(pat_client: Any, endpoint: str) -> None:
    client = pat_client.serving_endpoints.get_open_ai_client(timeout=30.0, max_retries=0)
    completion = client.chat.completions.create(
        model=endpoint, messages=[{"role": "user", "content": "What is MLflow?"}], extra_body=SERVING_EXTRA
    )
    assert completion.choices[0].message.content.startswith("MLflow is an open-source platform")
    assert completion.model_extra["custom_outputs"]["echo"] == {"id": 5}
    assert SpanType.TOOL in _span_types(_trace_of(completion.model_extra["databricks_output"]))
    if endpoint == "demo-chat-agent":  # the agent's tool call is visible
        assert completion.choices[0].message.tool_calls[0].function.name == "search_docs"


@pytest.mark.parametrize("endpoint", ["demo-chat-agent", "demo-chat-model"])
def test_chat_completions_streaming(pat_client: Any, endpoint: str) -> None:
    client = pat_client.serving_endpoints.get_open_ai_client(timeout=30.0, max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model=endpoint,
            messages=[{"role": "user", "content": "What is MLflow?"}],
            stream=True,
            extra_body=SERVING_EXTRA,
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("MLflow is an open-source platform")
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["custom_outputs"]["echo"] == {"id": 5}
    assert SpanType.TOOL in _span_types(_trace_of(chunks[-1].model_extra["databricks_output"]))


# -- 4-7. The REST calls of the page ----------------------------------------------------------


def test_rest_app_responses_with_oauth_bearer(local_workspace: Any, oauth_token: str, sse: Any) -> None:
    url = local_workspace.app_url("demo-app") + "/responses"
    headers = {"Authorization": f"Bearer {oauth_token}"}
    body = {"input": QUESTION, "custom_inputs": {"id": 5}}
    answer = httpx.post(url, headers=headers, json=body, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["custom_outputs"]["echo"] == {"id": 5}
    streamed = httpx.post(url, headers=headers, json={**body, "stream": True}, timeout=30)
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.rstrip().endswith("data: [DONE]")
    assert sse(streamed.text)[-2]["item"]["type"] == "message"


def test_rest_serving_responses(http: httpx.Client, sse: Any) -> None:
    body = {"model": "demo-agent", "input": QUESTION, **SERVING_EXTRA}
    answer = http.post("/serving-endpoints/responses", json=body).json()
    assert answer["object"] == "response" and answer["custom_outputs"]["echo"] == {"id": 5}
    assert answer["databricks_output"]["trace"]["info"]["trace_id"].startswith("tr-")
    events = sse(http.post("/serving-endpoints/responses", json={**body, "stream": True}).text)
    last_item = [e for e in events if e.get("type") == "response.output_item.done"][-1]
    assert events[-2]["type"] == "response.completed"
    assert events[-1] == {"databricks_output": last_item["databricks_output"]}


def test_rest_serving_chat_completions(http: httpx.Client, sse: Any) -> None:
    body = {"model": "demo-chat-agent", "messages": QUESTION, "custom_inputs": {"id": 5}}
    answer = http.post("/serving-endpoints/chat/completions", json=body).json()
    assert answer["object"] == "chat.completion" and answer["custom_outputs"]["echo"] == {"id": 5}
    chunks = sse(http.post("/serving-endpoints/chat/completions", json={**body, "stream": True}).text)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


@pytest.mark.parametrize(
    ("endpoint", "body", "answer_key"),
    [
        ("demo-agent", {"input": QUESTION}, "output"),
        ("demo-chat-agent", {"messages": QUESTION}, "messages"),
        ("demo-chat-model", {"messages": QUESTION}, "choices"),
    ],
)
def test_rest_serving_invocations(http: httpx.Client, endpoint: str, body: dict[str, Any], answer_key: str) -> None:
    answer = http.post(f"/serving-endpoints/{endpoint}/invocations", json={**body, **SERVING_EXTRA})
    assert answer.status_code == 200
    assert answer_key in answer.json()
    assert answer.json()["custom_outputs"]["echo"] == {"id": 5}
    assert answer.json()["databricks_output"]["trace"]["data"]["spans"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_invocations(local_workspace: Any) -> None:
    body = json.dumps({"input": QUESTION, "stream": True})
    result = subprocess.run(
        [
            "curl", "-sS", "--fail-with-body", "--max-time", "30",
            f"{local_workspace.host}/serving-endpoints/demo-agent/invocations",
            "-H", f"Authorization: Bearer {local_workspace.token}",
            "-H", "Content-Type: application/json",
            "-d", body,
        ],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "response.output_text.delta" in result.stdout
    assert result.stdout.rstrip().endswith("data: [DONE]")
