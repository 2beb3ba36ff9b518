"""Each fault endpoint behaves as documented in agent_magics/local/faults.py (raw HTTP)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import openai
import pytest

from agent_magics.local.faults import flaky_selects


def unique_body(stream: bool = False, **extra: Any) -> dict[str, Any]:
    """A body no other test sends, since faults count attempts per distinct body."""
    return {"input": [{"role": "user", "content": f"What is MLflow? ({uuid.uuid4()})"}], "stream": stream, **extra}


def invoke(http: httpx.Client, endpoint: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(f"/serving-endpoints/{endpoint}/invocations", json=body)


@pytest.mark.parametrize(
    ("endpoint", "status", "code"),
    [
        ("fault-401", 401, "UNAUTHENTICATED"),
        ("fault-403", 403, "PERMISSION_DENIED"),
        ("fault-500", 500, "INTERNAL_ERROR"),
        ("fault-429-always", 429, "REQUEST_LIMIT_EXCEEDED"),
        ("fault-503-always", 503, "TEMPORARILY_UNAVAILABLE"),
    ],
)
def test_http_faults_every_time(http: httpx.Client, endpoint: str, status: int, code: str) -> None:
    body = unique_body()
    for _ in range(3):
        response = invoke(http, endpoint, body)
        assert response.status_code == status
        assert response.json()["error_code"] == code
        assert ("retry-after" in response.headers) == (status == 429)


@pytest.mark.parametrize(("endpoint", "status"), [("fault-429", 429), ("fault-503", 503)])
def test_transient_faults_then_success(http: httpx.Client, endpoint: str, status: int) -> None:
    body = unique_body()
    first, second, third = (invoke(http, endpoint, body) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (status, status, 200)
    if status == 429:
        assert first.headers["retry-after"] == "1"
    assert third.json()["output"][-1]["type"] == "message"


def test_faults_on_every_data_plane_path(http: httpx.Client) -> None:
    message = [{"role": "user", "content": "hi"}]
    assert http.post("/serving-endpoints/responses", json={"model": "fault-403", "input": message}).status_code == 403
    chat = http.post("/serving-endpoints/chat/completions", json={"model": "fault-403", "messages": message})
    assert chat.status_code == 403


def test_openai_client_retries_through_fault_429(pat_client: Any) -> None:
    from databricks_openai import DatabricksOpenAI

    # (DatabricksOpenAI.with_options() loses the workspace client, so build one with retries.)
    client = DatabricksOpenAI(workspace_client=pat_client, timeout=30.0, max_retries=2)
    started = time.monotonic()
    response = client.responses.create(model="fault-429", input=unique_body()["input"])
    assert response.output_text
    assert time.monotonic() - started >= 1.5  # it honoured Retry-After: 1 twice


def test_hang_sends_nothing(local_workspace: Any) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{local_workspace.host}/serving-endpoints/fault-hang/invocations",
            json=unique_body(stream=True),
            headers={"Authorization": f"Bearer {local_workspace.token}"},
            timeout=httpx.Timeout(10.0, read=0.5),
        )


def test_hang_is_bounded(local_workspace: Any) -> None:
    # The session workspace bounds the hang to 3 s; then the connection closes with no response.
    started = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(
            f"{local_workspace.host}/serving-endpoints/fault-hang/invocations",
            json=unique_body(),
            headers={"Authorization": f"Bearer {local_workspace.token}"},
            timeout=20,
        )
    assert 2.5 <= time.monotonic() - started < 15


def test_drop_mid_stream(http: httpx.Client) -> None:
    lines = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", "/serving-endpoints/fault-drop/invocations", json=unique_body(stream=True)) as response,
    ):
        assert response.status_code == 200
        lines.extend(line for line in response.iter_lines() if line)
    deltas = [json.loads(line[6:]) for line in lines if "response.output_text.delta" in line]
    assert len(deltas) >= 5
    assert "data: [DONE]" not in lines


def test_drop_without_response(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        invoke(http, "fault-drop", unique_body())


def test_malformed_sse(http: httpx.Client, sse: Any) -> None:
    payloads = sse(invoke(http, "fault-malformed-sse", unique_body(stream=True)).text)
    assert payloads[-1] == "{not json"
    assert all(isinstance(p, dict) for p in payloads[:-1]) and len(payloads) > 5
    plain = invoke(http, "fault-malformed-sse", unique_body())
    assert plain.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        plain.json()


def test_error_event(http: httpx.Client, sse: Any) -> None:
    payloads = sse(invoke(http, "fault-error-event", unique_body(stream=True)).text)
    assert [p["type"] for p in payloads].count("response.output_text.delta") == 5
    assert payloads[-1]["type"] == "error" and payloads[-1]["code"] == "INTERNAL_ERROR"
    plain = invoke(http, "fault-error-event", unique_body())
    assert plain.status_code == 500 and plain.json()["error_code"] == "INTERNAL_ERROR"


def test_error_dict(http: httpx.Client, sse: Any, openai_pat: Any) -> None:
    payloads = sse(invoke(http, "fault-error-dict", unique_body(stream=True)).text)
    assert payloads[-1] == {"error": payloads[-1]["error"]} and "fault-error-dict" in payloads[-1]["error"]
    plain = invoke(http, "fault-error-dict", unique_body())
    assert plain.status_code == 500 and "detail" in plain.json()
    with pytest.raises(openai.APIError):  # the OpenAI client raises on an {"error": ...} event
        list(openai_pat.responses.create(model="fault-error-dict", input=unique_body()["input"], stream=True))


def test_in_stream_faults_through_chat_completions(http: httpx.Client, sse: Any) -> None:
    body = {"model": "fault-error-event", "messages": unique_body()["input"], "stream": True}
    payloads = sse(http.post("/serving-endpoints/chat/completions", json=body).text)
    assert payloads[0]["object"] == "chat.completion.chunk"
    assert payloads[-1]["error"]["error_code"] == "INTERNAL_ERROR"  # the chat wire's error shape


def test_flaky_agent_fails_first_attempts_of_some_bodies(http: httpx.Client) -> None:
    bodies = [json.dumps(unique_body()).encode() for _ in range(400)]
    chosen = next(b for b in bodies if flaky_selects(b))
    spared = next(b for b in bodies if not flaky_selects(b))
    url = "/serving-endpoints/flaky-agent/invocations"
    headers = {"Content-Type": "application/json"}
    assert http.post(url, content=chosen, headers=headers).status_code == 503
    assert http.post(url, content=chosen, headers=headers).status_code == 200
    assert http.post(url, content=spared, headers=headers).status_code == 200


def test_the_attempt_book_remembers_the_newest_bodies_only() -> None:
    from agent_magics.local.faults import AttemptBook

    book = AttemptBook(capacity=3)
    assert [book.attempt("fault-503", b"a") for _ in range(3)] == [1, 2, 3]
    for body in (b"b", b"c", b"d"):
        book.attempt("fault-503", body)
    assert book.attempt("fault-503", b"d") == 2  # still counted
    assert book.attempt("fault-503", b"a") == 1  # forgotten: the oldest of more than 3
    assert len(book._counts) == 3
