"""Model Serving: the control plane (describe endpoints) and the data plane (query them).

Which route accepts which interface follows Databricks: ``/serving-endpoints/responses`` is the
Responses API (ResponsesAgent endpoints; a chat endpoint gets a clear 400);
``/serving-endpoints/chat/completions`` answers for every endpoint in chat-completions shape;
``/serving-endpoints/{name}/invocations`` takes each interface's native body.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent_magics.local import faults
from agent_magics.local import sse_encode as sse
from agent_magics.local.api_errors import api_error, bad_request, not_found
from agent_magics.local.catalog import Endpoint
from agent_magics.local.embeddings import EmbeddingsAdapter, EmbeddingsRequestError
from agent_magics.local.interfaces import InvalidRequest
from agent_magics.local.invoke import Invocation, run_json, run_stream
from agent_magics.local.openapi import openapi_document
from agent_magics.local.state import WorkspaceState
from agent_magics.local.usage import prompt_tokens

logger = logging.getLogger(__name__)


def routes(state: WorkspaceState) -> list[Route]:
    async def list_endpoints(request: Request) -> JSONResponse:
        return JSONResponse({"endpoints": [e.to_json(state.host) for e in state.endpoints.values()]})

    async def get_endpoint(request: Request) -> JSONResponse:
        endpoint = state.endpoints.get(request.path_params["name"])
        if endpoint is None:
            return not_found(f"Endpoint '{request.path_params['name']}'")
        return JSONResponse(endpoint.to_json(state.host))

    async def responses(request: Request) -> Response:
        return await query(state, request, route="responses")

    async def chat_completions(request: Request) -> Response:
        return await query(state, request, route="chat")

    async def invocations(request: Request) -> Response:
        return await query(state, request, route="invocations", name=request.path_params["name"])

    async def embeddings(request: Request) -> Response:
        return await query(state, request, route="embeddings")

    async def get_openapi(request: Request) -> Response:
        endpoint = state.endpoints.get(request.path_params["name"])
        if endpoint is None:
            return not_found(f"Endpoint '{request.path_params['name']}'")
        document = openapi_document(
            state.host, endpoint.name, endpoint.served_name, endpoint.adapter.interface, endpoint.task
        )
        return Response(json.dumps(document, indent=2), media_type="application/json")

    return [
        Route("/api/2.0/serving-endpoints", list_endpoints, methods=["GET"]),
        Route("/api/2.0/serving-endpoints/{name}", get_endpoint, methods=["GET"]),
        Route("/api/2.0/serving-endpoints/{name}/openapi", get_openapi, methods=["GET"]),
        Route("/serving-endpoints/responses", responses, methods=["POST"]),
        Route("/serving-endpoints/chat/completions", chat_completions, methods=["POST"]),
        Route("/serving-endpoints/embeddings", embeddings, methods=["POST"]),
        Route("/serving-endpoints/{name}/invocations", invocations, methods=["POST"]),
    ]


async def query(state: WorkspaceState, request: Request, route: str, name: str | None = None) -> Response:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        return bad_request("The request body is not valid JSON.")
    if not isinstance(body, dict):
        return bad_request("The request body must be a JSON object.")
    name = name or body.get("model")
    if not isinstance(name, str) or not name:
        return bad_request("'model' must name a serving endpoint.")
    endpoint = state.endpoints.get(name)
    if endpoint is None:
        return not_found(f"Endpoint '{name}'")
    interface = endpoint.adapter.interface
    if isinstance(endpoint.adapter, EmbeddingsAdapter) or route == "embeddings":
        return _embeddings(endpoint, route, body)
    adapter = endpoint.adapter
    if route == "responses" and interface != "responses":
        return bad_request(
            f"Endpoint '{name}' (task {endpoint.task}) does not support the Responses API. Query it "
            f"with POST /serving-endpoints/chat/completions, or POST /serving-endpoints/{name}/invocations "
            'with {"messages": [...]}.'
        )

    stream = bool(body.pop("stream", False))
    replaced = await faults.before_agent(request, name, raw, stream, state.attempts, state.config.hang_seconds)
    if replaced is not None:
        return replaced

    options = body.pop("databricks_options", None)
    client_request_id = body.pop("client_request_id", None)
    stream_options = body.pop("stream_options", None)
    body.pop("model", None)
    as_chat = route == "chat" and interface != "chat_model"
    try:
        parsed = adapter.parse_chat(body) if route == "chat" else adapter.parse(body)
    except InvalidRequest as exc:
        takes = '{"input": [...]}' if interface == "responses" and route != "chat" else '{"messages": [...]}'
        return bad_request(f"Invalid request for endpoint '{name}' (task {endpoint.task}, send {takes}): {exc}")

    request_id = str(uuid.uuid4())
    call = Invocation(
        endpoint=name,
        adapter=adapter,
        request=parsed,
        as_chat=as_chat,
        request_id=request_id,
        want_output=isinstance(options, dict),
        return_trace=isinstance(options, dict) and bool(options.get("return_trace")),
        client_request_id=client_request_id if isinstance(client_request_id, str) else None,
        prompt_tokens=prompt_tokens(body),
        include_usage=isinstance(stream_options, dict) and bool(stream_options.get("include_usage")),
        usage_in_stream=endpoint.entity_name is None,  # a foundation model reports usage as it streams
    )
    # databricks-sdk reads served-model-name into QueryEndpointResponse.served_model_name.
    headers = {"x-request-id": request_id, "served-model-name": endpoint.served_name}
    if stream:
        events = faults.inject(name, run_stream(call, state.traces), call.wire, state.config.hang_seconds)
        return sse.event_stream(_encode(events, request), headers)
    try:
        return JSONResponse(await run_json(call, state.traces), headers=headers)
    except Exception as exc:  # the agent failed: Model Serving answers 500 with the message
        logger.exception("endpoint %s failed", name)
        return api_error(500, "INTERNAL_ERROR", f"Endpoint '{name}' failed: {exc}", headers)


def _embeddings(endpoint: Endpoint, route: str, body: dict[str, Any]) -> Response:
    headers = {"x-request-id": str(uuid.uuid4()), "served-model-name": endpoint.served_name}
    if not isinstance(endpoint.adapter, EmbeddingsAdapter):
        return bad_request(
            f"Endpoint '{endpoint.name}' (task {endpoint.task}) is not an embeddings endpoint; "
            "POST /serving-endpoints/embeddings takes a model of task llm/v1/embeddings."
        )
    if route != "embeddings" and route != "invocations":
        return bad_request(
            f"Endpoint '{endpoint.name}' is an embeddings endpoint (task {endpoint.task}): query it with "
            "POST /serving-endpoints/embeddings or its /invocations."
        )
    try:
        parsed = endpoint.adapter.parse(body)
    except EmbeddingsRequestError as exc:
        return bad_request(f"Invalid request for endpoint '{endpoint.name}': {exc}")
    return JSONResponse(endpoint.adapter.answer(parsed), headers=headers)


async def _encode(events: AsyncGenerator[Any, None], request: Request) -> AsyncIterator[bytes]:
    async for event in events:
        if event is faults.DROP:
            await faults.drop_connection(request.scope)
            await events.aclose()
            return
        yield sse.raw_line(event.text) if isinstance(event, faults.RawLine) else sse.encode(event)
    yield sse.DONE
