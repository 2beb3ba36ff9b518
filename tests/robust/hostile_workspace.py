"""A loopback Databricks workspace whose APIs can each be told to answer with something that is not
their JSON: an HTML login page (200), a 302 to a login page, a JSON list, an empty body, ...

Everything else behaves: OAuth M2M (it mints access tokens), one Responses serving endpoint, one app
(whose answer carries only a trace id, as apps do), the traces API and Statement Execution (one
``SELECT`` that answers one row at once). ``server.bad[api] = kind`` breaks one API.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from fixtures.loopback import LoopbackServer

# The workspace APIs the project calls, and the request that reaches each one.
APIS = ("oidc", "token", "endpoint-get", "endpoint-list", "app-get", "app-list", "trace", "statements")

LOGIN_PAGE = (  # the secret comes early: within the first bytes a message may quote
    b"<!doctype html><html><head><title>SECRET_PLACEHOLDER: sign in</title></head>"
    b"<body><form action='/sso'>Sign in to your organisation</form></body></html>"
)


def bad_body(kind: str, secret: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one kind of misbehaviour. The login page and the redirect carry
    ``secret`` (a proxy that echoes the request), which must never be shown."""
    page = LOGIN_PAGE.replace(b"SECRET_PLACEHOLDER", secret.encode())
    if kind == "html":
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page
    if kind == "html-as-json":  # a proxy that labels its page as JSON
        return 200, {"Content-Type": "application/json"}, page
    if kind == "redirect":
        location = f"https://login.example.com/sso?return=%2Fapi&session={secret}"
        return 302, {"Location": location, "Content-Type": "text/html"}, page
    if kind == "list":
        return 200, {"Content-Type": "application/json"}, b'[{"name": "demo"}]'
    if kind == "string":
        return 200, {"Content-Type": "application/json"}, b'"ok"'
    if kind == "empty":
        return 200, {"Content-Type": "application/json"}, b""
    if kind == "truncated":
        return 200, {"Content-Type": "application/json"}, b'{"name": "demo", "task": "agent/v1/re'
    if kind == "bomb":
        return 200, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, _bomb()
    if kind == "busy":  # not in BAD_KINDS: a retryable status, for counting who retries it
        body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}'
        return 503, {"Content-Type": "application/json", "Retry-After": "0"}, body
    raise ValueError(kind)


@functools.cache
def _bomb() -> bytes:
    """100 MB of spaces inside a JSON document, gzipped to ~100 KB: built once, a MB at a time (the
    tests measure the client's allocations, and the server shares the process)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    spaces = b" " * (1024 * 1024)
    parts = [packer.compress(b'{"name": "'), *(packer.compress(spaces) for _ in range(100))]
    return b"".join([*parts, packer.compress(b'"}'), packer.flush()])


BAD_KINDS = ("html", "html-as-json", "redirect", "list", "string", "empty", "truncated", "bomb")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up mid-body (a refused bomb) is what these tests provoke


class HostileWorkspace(LoopbackServer):
    def __init__(self) -> None:
        self.client_id = "hostile-client"
        self.client_secret = "hostile-secret-" + secrets.token_hex(16)
        self.access_tokens: list[str] = []
        self.bad: dict[str, str] = {}
        self.seen: list[str] = []
        super().__init__(_handler(self), server_class=_QuietServer, name="hostile-workspace")

    def env(self) -> dict[str, str]:
        return {
            "DATABRICKS_HOST": self.host,
            "DATABRICKS_CLIENT_ID": self.client_id,
            "DATABRICKS_CLIENT_SECRET": self.client_secret,
            "DATABRICKS_AUTH_TYPE": "oauth-m2m",
        }

    def secrets(self) -> list[str]:
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return [self.client_secret, basic, *self.access_tokens]


def api_of(method: str, path: str) -> str | None:
    if path.startswith("/oidc/.well-known/"):
        return "oidc"
    if path.startswith("/oidc/v1/token"):
        return "token"
    if path == "/api/2.0/serving-endpoints":
        return "endpoint-list"
    if path.startswith("/api/2.0/serving-endpoints/"):
        return "endpoint-get"
    if path == "/api/2.0/apps":
        return "app-list"
    if path.startswith("/api/2.0/apps/"):
        return "app-get"
    if path.startswith("/api/3.0/mlflow/traces/"):
        return "trace"
    if path.startswith("/api/2.0/sql/statements"):
        return "statements"
    if path == "/serving-endpoints/responses":
        return "answer"  # not a workspace API: the agent's answer itself (for the client-library tests)
    if path == "/app/responses":
        return "app-answer"  # an app's answer (DatabricksOpenAI asks it through a client of its own)
    return None


def _handler(owner: HostileWorkspace) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {"Content-Type": "application/json"}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _misbehave(self, path: str) -> bool:
            api = api_of(self.command, path)
            kind = owner.bad.get(api or "")
            if not kind:
                return False
            owner.seen.append(api or "")
            # the secret a proxy might echo: the caller's bearer token, else the client secret
            bearer = (self.headers.get("Authorization") or "").partition(" ")[2] or owner.client_secret
            status, headers, body = bad_body(kind, bearer)
            self._send(status, body, headers)
            return True

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if self._misbehave(path):
                return
            host = owner.host
            if path.startswith("/oidc/.well-known/oauth-authorization-server"):
                return self._send(
                    200,
                    {
                        "issuer": f"{host}/oidc",
                        "authorization_endpoint": f"{host}/oidc/v1/authorize",
                        "token_endpoint": f"{host}/oidc/v1/token",
                    },
                )
            if path == "/api/2.0/serving-endpoints":
                return self._send(200, {"endpoints": [{"name": "demo", "task": "agent/v1/responses"}]})
            if path.startswith("/api/2.0/serving-endpoints/"):
                return self._send(200, {"name": path.rsplit("/", 1)[1], "task": "agent/v1/responses"})
            if path == "/api/2.0/apps":
                return self._send(200, {"apps": [{"name": "demo-app", "url": f"{host}/app"}]})
            if path.startswith("/api/2.0/apps/"):
                return self._send(200, {"name": path.rsplit("/", 1)[1], "url": f"{host}/app"})
            if path.startswith("/api/3.0/mlflow/traces/get"):
                span = {"name": "agent", "span_id": "s1", "start_time_unix_nano": 1, "end_time_unix_nano": 2}
                trace = {"info": {"trace_id": "tr-hostile", "state": "OK"}, "data": {"spans": [span]}}
                return self._send(200, {"trace": trace})
            if path.startswith("/api/2.0/sql/statements/"):
                return self._send(200, _statement_done())
            return self._send(404, {"error_code": "NOT_FOUND", "message": "no such page"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            path = urlsplit(self.path).path
            if self._misbehave(path):
                return
            if path.startswith("/oidc/v1/token"):
                token = "eyJhostile" + secrets.token_hex(24)
                owner.access_tokens.append(token)
                return self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
            if path == "/api/2.0/sql/statements":
                return self._send(200, _statement_done())
            if path in ("/serving-endpoints/responses", "/app/responses"):
                body = json.loads(raw or b"{}")
                return self._answer(path.startswith("/app"), bool(body.get("stream")))
            return self._send(404, {"error_code": "NOT_FOUND", "message": "no such page"})

        def _answer(self, app: bool, stream: bool) -> None:
            message = {
                "type": "message",
                "id": "m1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "The answer survives."}],
            }
            extra = {"trace_id": "tr-hostile"} if app else {}
            if not stream:
                return self._send(200, {"object": "response", "output": [message], **extra})
            events = [
                {"type": "response.output_text.delta", "item_id": "m1", "delta": "The answer survives."},
                {"type": "response.output_item.done", "item": message},
                {"type": "response.completed", "response": {"status": "completed", **extra}},
            ]
            data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            self._send(200, data.encode(), {"Content-Type": "text/event-stream"})

    return Handler


def _statement_done() -> dict[str, Any]:
    return {
        "statement_id": "st-1",
        "status": {"state": "SUCCEEDED"},
        "manifest": {"schema": {"column_count": 1, "columns": [{"name": "one", "type_name": "INT", "position": 0}]}},
        "result": {"data_array": [["1"]], "row_count": 1},
    }
