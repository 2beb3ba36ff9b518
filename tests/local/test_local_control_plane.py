"""The workspace's control plane, auth and errors, as databricks-sdk and raw HTTP see them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from databricks.sdk.errors import NotFound
from databricks.sdk.service.apps import ApplicationState, ComputeState
from databricks.sdk.service.serving import EndpointStateConfigUpdate, EndpointStateReady


def test_serving_endpoints_get_parses(pat_client: Any) -> None:
    endpoint = pat_client.serving_endpoints.get("demo-agent")
    assert endpoint.name == "demo-agent" and endpoint.id
    assert endpoint.task == "agent/v1/responses"
    assert endpoint.state.ready == EndpointStateReady.READY
    assert endpoint.state.config_update == EndpointStateConfigUpdate.NOT_UPDATING
    entity = endpoint.config.served_entities[0]
    assert (entity.entity_name, entity.entity_version) == ("main.demo.demo_agent", "1")
    assert endpoint.creator and endpoint.creation_timestamp


def test_serving_endpoints_list_parses(oauth_client: Any) -> None:
    tasks = {e.name: e.task for e in oauth_client.serving_endpoints.list()}
    assert tasks["demo-agent"] == "agent/v1/responses"
    assert tasks["demo-chat-agent"] == "agent/v2/chat"
    assert tasks["demo-chat-model"] == "agent/v1/chat"
    assert tasks["demo-llm"] == "llm/v1/chat"
    assert {"bench-agent", "hostile-agent", "flaky-agent", "fault-429", "fault-hang"} <= set(tasks)


def test_apps_get_and_list_parse(local_workspace: Any, oauth_client: Any) -> None:
    app = oauth_client.apps.get("demo-app")
    assert app.url == local_workspace.app_url("demo-app")
    assert app.app_status.state == ApplicationState.RUNNING
    assert app.compute_status.state == ComputeState.ACTIVE
    assert app.oauth2_app_client_id
    assert {a.name for a in oauth_client.apps.list()} == {"demo-app", "fault-login", "durable-app"}


def test_unknown_endpoint_and_app_are_404(pat_client: Any, http: httpx.Client) -> None:
    with pytest.raises(NotFound):
        pat_client.serving_endpoints.get("no-such-endpoint")
    with pytest.raises(NotFound):
        pat_client.apps.get("no-such-app")
    for response in (
        http.get("/api/2.0/serving-endpoints/no-such-endpoint"),
        http.post("/serving-endpoints/no-such-endpoint/invocations", json={"input": []}),
        http.post("/serving-endpoints/responses", json={"model": "no-such-endpoint", "input": "hi"}),
    ):
        assert response.status_code == 404
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "no-such-endpoint" in response.json()["message"]


def test_no_or_unknown_token_is_401(local_workspace: Any) -> None:
    url = f"{local_workspace.host}/api/2.0/serving-endpoints"
    for headers in ({}, {"Authorization": "Bearer dapi-not-a-real-token"}, {"Authorization": "Basic eDp5"}):
        response = httpx.get(url, headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_oauth_token_works_on_the_workspace(local_workspace: Any, oauth_token: str) -> None:
    response = httpx.get(
        f"{local_workspace.host}/api/2.0/serving-endpoints/demo-agent",
        headers={"Authorization": f"Bearer {oauth_token}"},
        timeout=10,
    )
    assert response.status_code == 200


def test_oidc_discovery_and_token_endpoint(local_workspace: Any) -> None:
    host = local_workspace.host
    discovery = httpx.get(f"{host}/oidc/.well-known/oauth-authorization-server", timeout=10).json()
    assert discovery["token_endpoint"] == f"{host}/oidc/v1/token"
    assert httpx.get(f"{host}/.well-known/databricks-config", timeout=10).json()["oidc_endpoint"] == f"{host}/oidc"
    form = {"grant_type": "client_credentials", "scope": "all-apis"}
    basic = httpx.post(
        discovery["token_endpoint"], data=form, auth=(local_workspace.client_id, local_workspace.client_secret)
    )
    in_body = httpx.post(
        discovery["token_endpoint"],
        data={**form, "client_id": local_workspace.client_id, "client_secret": local_workspace.client_secret},
    )
    for response in (basic, in_body):
        assert response.status_code == 200
        token = response.json()
        assert token["token_type"] == "Bearer" and token["expires_in"] > 0
        assert not token["access_token"].startswith("dapi")
    assert basic.json()["access_token"] != in_body.json()["access_token"]
    wrong = httpx.post(discovery["token_endpoint"], data=form, auth=(local_workspace.client_id, "wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    exchanged = httpx.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": local_workspace.token,
            "subject_token_type": "urn:databricks:params:oauth:token-type:personal-access-token",
        },
    )
    assert exchanged.status_code == 200


def test_unknown_api_path_is_databricks_json(http: httpx.Client) -> None:
    response = http.get("/api/2.0/no/such/api")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_current_user(local_workspace: Any, pat_client: Any, oauth_client: Any) -> None:
    assert pat_client.current_user.me().user_name == "local-user@agent-magics.local"
    assert oauth_client.current_user.me().user_name == local_workspace.client_id


def test_discovery_document_is_public_at_the_oidc_endpoint(local_workspace: Any) -> None:
    # Newer databricks-sdk versions read /.well-known/databricks-config, then its oidc_endpoint.
    response = httpx.get(f"{local_workspace.host}/oidc", timeout=10)
    assert response.status_code == 200 and response.json()["token_endpoint"].endswith("/oidc/v1/token")
