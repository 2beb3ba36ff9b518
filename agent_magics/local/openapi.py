"""``GET /api/2.0/serving-endpoints/{name}/openapi``: an endpoint's query schema as OpenAPI 3.1.

databricks-sdk's ``serving_endpoints.get_open_api(name)`` asks for it (``Accept: text/plain``) and
hands back the raw bytes. The document describes ``POST /invocations`` under the endpoint's URL with
the request and response body of its interface; the schemas are short and name the fields a
client sends and reads, not every optional field of MLflow's types.
"""

from __future__ import annotations

from typing import Any

_STRING: dict[str, Any] = {"type": "string"}
_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
_CHAT_MESSAGE = {
    "type": "object",
    "properties": {"role": _STRING, "content": {"anyOf": [_STRING, {"type": "array", "items": _OBJECT}]}},
    "required": ["role"],
}
_USAGE = {
    "type": "object",
    "properties": {k: {"type": "integer"} for k in ("prompt_tokens", "completion_tokens", "total_tokens")},
}

_SCHEMAS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "responses": (
        {
            "type": "object",
            "properties": {
                "input": {"anyOf": [_STRING, {"type": "array", "items": _OBJECT}]},
                "custom_inputs": _OBJECT,
                "context": _OBJECT,
                "stream": {"type": "boolean"},
                "databricks_options": _OBJECT,
            },
            "required": ["input"],
        },
        {
            "type": "object",
            "properties": {
                "id": _STRING,
                "object": {"const": "response"},
                "output": {"type": "array", "items": _OBJECT},
                "custom_outputs": _OBJECT,
                "usage": _OBJECT,
            },
        },
    ),
    "chat_agent": (
        {
            "type": "object",
            "properties": {
                "messages": {"type": "array", "items": _CHAT_MESSAGE},
                "custom_inputs": _OBJECT,
                "context": _OBJECT,
                "stream": {"type": "boolean"},
            },
            "required": ["messages"],
        },
        {
            "type": "object",
            "properties": {"messages": {"type": "array", "items": _CHAT_MESSAGE}, "custom_outputs": _OBJECT},
        },
    ),
    "chat_model": (
        {
            "type": "object",
            "properties": {
                "messages": {"type": "array", "items": _CHAT_MESSAGE},
                "max_tokens": {"type": "integer"},
                "temperature": {"type": "number"},
                "tools": {"type": "array", "items": _OBJECT},
                "tool_choice": {"anyOf": [_STRING, _OBJECT]},
                "response_format": _OBJECT,
                "stream": {"type": "boolean"},
            },
            "required": ["messages"],
        },
        {
            "type": "object",
            "properties": {
                "id": _STRING,
                "object": {"const": "chat.completion"},
                "model": _STRING,
                "choices": {"type": "array", "items": _OBJECT},
                "usage": _USAGE,
            },
        },
    ),
    "embeddings": (
        {
            "type": "object",
            "properties": {"input": {"anyOf": [_STRING, {"type": "array", "items": _STRING}]}},
            "required": ["input"],
        },
        {
            "type": "object",
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _OBJECT}, "usage": _OBJECT},
        },
    ),
}


def openapi_document(host: str, name: str, served_name: str, interface: str, task: str) -> dict[str, Any]:
    request, response = _SCHEMAS[interface]
    return {
        "openapi": "3.1.0",
        "info": {"title": name, "version": "1", "description": f"Serving endpoint {name} (task {task})."},
        "servers": [{"url": f"{host}/serving-endpoints/{name}"}],
        "paths": {
            "/invocations": {
                "post": {
                    "summary": f"Query {served_name}",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
                    "responses": {
                        "200": {
                            "description": "The answer (an SSE stream of its events when stream is true).",
                            "content": {"application/json": {"schema": response}},
                        }
                    },
                }
            }
        },
    }
