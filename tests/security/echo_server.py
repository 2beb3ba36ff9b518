"""A hostile loopback workspace + agent that echoes every request header back to the caller.

It answers as a Databricks workspace (PAT or OAuth M2M: it mints its own access tokens) and as an
OpenAI-compatible Responses server (URL targets). The question chooses where the headers go:

* ``answer``: into the answer text (streamed as 5-character deltas, so the token is split);
* ``deltas-only``: the same without the final message item (the text is only the deltas);
* ``tool``: into a tool call's output, the custom outputs, the trace and the request info;
* ``http-error``: into an HTTP 400 error body;
* ``stream-error``: into an in-stream ``error`` event after some text.
"""

from __future__ import annotations

import json
import secrets
from http.server import BaseHTTPRequestHandler
from typing import Any

from fixtures.loopback import LoopbackServer

MODES = ("answer", "deltas-only", "tool", "http-error", "stream-error")


class EchoServer(LoopbackServer):
    def __init__(self) -> None:
        self.access_tokens: list[str] = []
        self.client_id = "echo-client"
        self.client_secret = "echo-secret-" + secrets.token_hex(16)
        self.pat = "dapi" + secrets.token_hex(16)
        super().__init__(_handler(self), name="echo-server")

    def secrets(self) -> list[str]:
        return [self.pat, self.client_secret, *self.access_tokens]


def _handler(owner: EchoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _headers_text(self) -> str:
            # Authorization first: error messages are shortened, and the point is what happens to it
            items = sorted(self.headers.items(), key=lambda kv: kv[0].lower() != "authorization")
            return "; ".join(f"{name}: {value}" for name, value in items)

        def do_GET(self) -> None:
            host = owner.host
            if self.path.startswith("/oidc/.well-known/oauth-authorization-server"):
                return self._send(
                    200,
                    {
                        "issuer": f"{host}/oidc",
                        "authorization_endpoint": f"{host}/oidc/v1/authorize",
                        "token_endpoint": f"{host}/oidc/v1/token",
                    },
                )
            if self.path.startswith("/api/2.0/serving-endpoints/"):
                name = self.path.rsplit("/", 1)[1]
                return self._send(200, {"name": name, "task": "agent/v1/responses", "state": {"ready": "READY"}})
            if self.path.startswith("/api/2.0/serving-endpoints"):  # %agent --list: an error that echoes
                return self._send(400, {"error_code": "BAD_REQUEST", "message": f"you sent {self._headers_text()}"})
            return self._send(404, {"error_code": "NOT_FOUND", "message": "no such page"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.startswith("/oidc/v1/token"):
                token = "eyJecho" + secrets.token_hex(24)
                owner.access_tokens.append(token)
                return self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = {}
            mode = _mode(body)
            echoed = f"You sent {self._headers_text()}"
            if mode == "http-error":
                return self._send(400, {"error_code": "BAD_REQUEST", "message": echoed})
            if not body.get("stream"):
                return self._send(200, _whole(mode, echoed))
            events = _stream(mode, echoed)
            data = "".join(f"data: {json.dumps(event)}\n\n" for event in events) + "data: [DONE]\n\n"
            return self._send(200, data.encode(), "text/event-stream")

    return Handler


def _mode(body: dict[str, Any]) -> str:
    items = body.get("input") or body.get("messages") or []
    text = json.dumps(items)
    return next((mode for mode in MODES if mode in text), "answer")


def _message(text: str) -> dict[str, Any]:
    return {"type": "message", "id": "m1", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def _tool_items(echoed: str) -> list[dict[str, Any]]:
    return [
        {"type": "function_call", "id": "fc1", "call_id": "c1", "name": "echo_headers", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": echoed},
    ]


def _databricks_output(echoed: str) -> dict[str, Any]:
    span = {"name": "echo", "span_id": "s1", "attributes": {"mlflow.spanInputs": json.dumps({"headers": echoed})}}
    trace = {"info": {"trace_id": "tr-echo", "state": "OK"}, "data": {"spans": [span]}}
    return {"trace": trace, "databricks_request_id": echoed}


def _whole(mode: str, echoed: str) -> dict[str, Any]:
    output = [*(_tool_items(echoed) if mode == "tool" else []), _message("Here: " + echoed)]
    body: dict[str, Any] = {"object": "response", "output": output}
    if mode == "tool":
        body["custom_outputs"] = {"headers": echoed}
        body["databricks_output"] = _databricks_output(echoed)
    if mode == "stream-error":
        body["error"] = {"message": echoed}
    return body


def _stream(mode: str, echoed: str) -> list[dict[str, Any]]:
    text = "Here: " + echoed
    events: list[dict[str, Any]] = []
    if mode == "tool":
        events += [{"type": "response.output_item.done", "item": item} for item in _tool_items(echoed)]
    if mode == "stream-error":
        events.append({"type": "response.output_text.delta", "item_id": "m1", "delta": "Some text, then "})
        events.append({"type": "error", "message": echoed})
        return events
    events += [
        {"type": "response.output_text.delta", "item_id": "m1", "delta": text[i : i + 5]}
        for i in range(0, len(text), 5)
    ]
    if mode != "deltas-only":
        events.append({"type": "response.output_item.done", "item": _message(text)})
    completed: dict[str, Any] = {"type": "response.completed", "response": {"status": "completed"}}
    if mode == "tool":
        completed["response"]["custom_outputs"] = {"headers": echoed}
        completed["databricks_output"] = _databricks_output(echoed)
    events.append(completed)
    return events
