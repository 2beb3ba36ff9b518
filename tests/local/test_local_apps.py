"""Databricks Apps on the local workspace: MLflow's AgentServer behind an OAuth-only front door."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mlflow.entities import SpanType, Trace

QUESTION = [{"role": "user", "content": "What is MLflow?"}]
TRACE_HEADER = {"x-mlflow-return-trace-id": "true"}


def test_pat_against_an_app_fails_in_the_client(openai_pat: Any) -> None:
    with pytest.raises(ValueError, match="requires OAuth"):
        openai_pat.responses.create(model="apps/demo-app", input=QUESTION)


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("pat", "accept OAuth tokens only"),
        (None, "requires an OAuth bearer token"),
        ("made-up-token", "Invalid or expired OAuth token"),
    ],
)
def test_app_refuses_non_oauth_tokens(local_workspace: Any, token: str | None, message: str) -> None:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {local_workspace.token if token == 'pat' else token}"
    response = httpx.post(
        local_workspace.app_url("demo-app") + "/responses", json={"input": QUESTION}, headers=headers, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert message in response.json()["message"]
    assert "databricks auth login" in response.json()["message"]


def test_agent_server_routes(local_workspace: Any, oauth_token: str) -> None:
    app = httpx.Client(
        base_url=local_workspace.app_url("demo-app"), headers={"Authorization": f"Bearer {oauth_token}"}, timeout=30
    )
    with app:
        assert app.get("/health").json() == {"status": "healthy"}
        info = app.get("/agent/info").json()
        assert info["name"] == "demo-app" and info["agent_api"] == "responses"
        invocations = app.post("/invocations", json={"input": QUESTION})
        assert invocations.json()["output"][-1]["type"] == "message"
        invalid = app.post("/responses", json={"messages": QUESTION})
        assert invalid.status_code == 400 and "Invalid parameters for ResponsesAgent" in invalid.json()["detail"]


def _fetch_trace(local_workspace: Any, trace_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{local_workspace.host}/api/3.0/mlflow/traces/{trace_id}",
        headers={"Authorization": f"Bearer {local_workspace.token}"},
        timeout=30,
    )
    assert response.status_code == 200
    return response.json()


def _assert_app_trace(body: dict[str, Any], trace_id: str) -> None:
    trace = Trace.from_dict(body["trace"])
    assert trace.info.trace_id == trace_id
    names = {span.name: span.span_type for span in trace.data.spans}
    assert names["search_docs"] == SpanType.TOOL and SpanType.AGENT in names.values()
    assert trace.data.spans[0].name.startswith("demo_app_")  # AgentServer's root span, named after the handler
    # MLflow's REST shape, as GetTraceInfoV3 / GetTrace return it, is there too.
    from mlflow.protos.service_pb2 import Trace as ProtoTrace
    from mlflow.utils.proto_json_utils import parse_dict

    proto = ProtoTrace()
    parse_dict(body["trace"], proto)
    assert Trace.from_proto(proto).info.trace_id == trace_id
    assert len(proto.spans) == len(trace.data.spans)


def test_app_trace_id_resolves_non_streaming(local_workspace: Any, openai_oauth: Any) -> None:
    response = openai_oauth.responses.create(model="apps/demo-app", input=QUESTION, extra_headers=TRACE_HEADER)
    trace_id = response.metadata["trace_id"]
    assert trace_id.startswith("tr-")
    _assert_app_trace(_fetch_trace(local_workspace, trace_id), trace_id)


def test_app_trace_id_resolves_streaming(local_workspace: Any, openai_oauth: Any) -> None:
    events = list(
        openai_oauth.responses.create(model="apps/demo-app", input=QUESTION, stream=True, extra_headers=TRACE_HEADER)
    )
    trace_ids = [e.model_extra["trace_id"] for e in events if (e.model_extra or {}).get("trace_id")]
    assert len(trace_ids) == 1 and trace_ids[0].startswith("tr-")
    # Asked for right after [DONE]: the server waits for the app's root span to finish.
    _assert_app_trace(_fetch_trace(local_workspace, trace_ids[0]), trace_ids[0])


def test_mlflow_client_reads_traces_from_the_workspace(
    local_workspace: Any, openai_oauth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    response = openai_oauth.responses.create(model="apps/demo-app", input=QUESTION, extra_headers=TRACE_HEADER)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", local_workspace.token)
    trace = MlflowClient(tracking_uri=local_workspace.host).get_trace(response.metadata["trace_id"])
    assert SpanType.TOOL in {span.span_type for span in trace.data.spans}


def test_unknown_trace_is_404(http: httpx.Client) -> None:
    response = http.get("/api/3.0/mlflow/traces/tr-00000000000000000000000000000000")
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_fault_login_app_answers_with_a_login_page(local_workspace: Any, oauth_token: str) -> None:
    response = httpx.post(
        local_workspace.app_url("fault-login") + "/responses",
        json={"input": QUESTION},
        headers={"Authorization": f"Bearer {oauth_token}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<form" in response.text and "Sign in" in response.text


def test_a_fresh_apps_first_requests_arrive_together() -> None:
    """The demo app is built by its first request; requests arriving meanwhile wait and all answer."""
    from concurrent.futures import ThreadPoolExecutor

    from agent_magics.transport.embedded import LocalWorkspace
    from agent_magics.transport.embedded_auth import EmbeddedCredentials

    with LocalWorkspace(first_token_delay=0, tokens_per_second=0) as fresh:
        url = fresh.app_url("demo-app")
        refused = httpx.post(url + "/invocations", json={"input": QUESTION}, timeout=30)
        assert refused.status_code == 401  # the front door answers before anything is built
        headers = EmbeddedCredentials(fresh.host, fresh.client_id, fresh.client_secret).authenticate()

        def ask(path: str) -> httpx.Response:
            return httpx.post(url + path, json={"input": QUESTION}, headers=headers, timeout=60)

        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(ask, ["/invocations", "/responses", "/invocations", "/responses"]))
    assert [a.status_code for a in answers] == [200] * 4
    assert all(a.json()["output"][-1]["type"] == "message" for a in answers)
