"""What one client may make the local workspace hold: header time, body time,
body size and JSON depth, over raw sockets and httpx against the real server."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from agent_magics.local.limits import json_depth
from agent_magics.transport.embedded import LocalWorkspace

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def strict_workspace() -> Iterator[LocalWorkspace]:
    """A workspace whose clients get 1 s for their headers and 1 s for their body."""
    with LocalWorkspace(first_token_delay=0, tokens_per_second=0, header_timeout=1.0, body_timeout=1.0) as ws:
        yield ws


def _connect(url: str) -> socket.socket:
    parsed = urlparse(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
    return sock


def _read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    data = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _slow_headers(token: str) -> list[bytes]:
    head = f"POST /serving-endpoints/demo-agent/invocations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
    return [head.encode()] + [f"X-Slow-{i}: {i}\r\n".encode() for i in range(40)]


def _slow_body(token: str) -> list[bytes]:
    body = json.dumps({"input": [{"role": "user", "content": "hi"}]}).encode()
    head = (
        f"POST /serving-endpoints/demo-agent/invocations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return [head] + [body[i : i + 1] for i in range(len(body))]


# (name, the pieces a client trickles, every seconds)
SLOW_CLIENTS = [
    ("headers one line at a time", _slow_headers, 0.3),
    ("nothing at all after connecting", lambda token: [b""] * 40, 0.3),
    ("body one byte at a time", _slow_body, 0.3),
]


@pytest.mark.parametrize(("name", "pieces", "every"), SLOW_CLIENTS, ids=[c[0] for c in SLOW_CLIENTS])
def test_slow_clients_are_timed_out(strict_workspace: LocalWorkspace, name: str, pieces, every: float) -> None:
    sock = _connect(strict_workspace.host)
    try:
        start = time.monotonic()
        sock.settimeout(0.2)
        still_open = True
        deadline = start + 6
        for piece in pieces(strict_workspace.token):
            if time.monotonic() > deadline:
                break
            try:
                sock.sendall(piece)
                reply = sock.recv(65536)
                if reply:
                    reply += _read_until_closed(sock, time.monotonic() + 2)
                    break
                still_open = False
                break
            except TimeoutError:
                time.sleep(every)
                continue
            except (BrokenPipeError, ConnectionResetError):
                still_open = False
                reply = b""
                break
        else:
            reply = b""
        elapsed = time.monotonic() - start
        assert reply.startswith(b"HTTP/1.1 408") or not still_open, f"{name}: still served after {elapsed:.1f} s"
        assert elapsed < 4, f"{name}: cut only after {elapsed:.1f} s"
        if reply:
            assert b"REQUEST_TIMEOUT" in reply
    finally:
        sock.close()


def test_a_prompt_client_is_not_timed_out(strict_workspace: LocalWorkspace) -> None:
    """The deadline is per request: a keep-alive client that waits between requests stays served."""
    headers = {"Authorization": f"Bearer {strict_workspace.token}"}
    with httpx.Client(base_url=strict_workspace.host, headers=headers, timeout=10) as client:
        for _ in range(2):
            response = client.get("/api/2.0/serving-endpoints/demo-agent")
            assert response.status_code == 200
            time.sleep(0.5)


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _send_big_body(url: str, token: str, total: int, chunked: bool) -> bytes:
    """POST ``total`` bytes in 1 MiB pieces; stop when the server answers or closes. The reply."""
    sock = _connect(url)
    sock.settimeout(10)
    try:
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
        sock.sendall(
            (
                f"POST /serving-endpoints/demo-agent/invocations HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
            ).encode()
        )
        piece = b"[" + b" " * (MiB - 1)
        sent = 0
        sock.setblocking(False)
        reply = b""
        while sent < total:
            try:
                reply += sock.recv(65536)
                if reply:
                    break
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            data = (b"%x\r\n%s\r\n" % (len(piece), piece)) if chunked else piece
            try:
                sock.setblocking(True)
                sock.settimeout(5)
                sock.sendall(data)
                sock.setblocking(False)
            except (TimeoutError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        sock.setblocking(True)
        sock.settimeout(5)
        reply += _read_until_closed(sock, time.monotonic() + 5)
        return reply
    finally:
        sock.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_body_is_refused_unread(local_workspace: LocalWorkspace, chunked: bool) -> None:
    before = _rss_kib(local_workspace.pid)
    reply = _send_big_body(local_workspace.host, local_workspace.token, 300 * MiB, chunked)
    grown = (_rss_kib(local_workspace.pid) - before) / 1024
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"REQUEST_ENTITY_TOO_LARGE" in reply
    assert grown < 60, f"the server grew by {grown:.0f} MB"


def test_a_body_under_the_limit_is_served(http: httpx.Client) -> None:
    padding = "x" * (8 * MiB)
    body = {"input": [{"role": "user", "content": "What is custom_inputs?"}], "custom_inputs": {"pad": padding}}
    response = http.post("/serving-endpoints/demo-agent/invocations", json=body)
    assert response.status_code == 200, response.text[:300]


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# (name, body, expected status); deeper than 64 levels is refused before any parser runs
DEPTHS = [
    ("100,000-deep array", _nested(100_000), 400),
    ("100,000-deep objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 400),
    ("65 levels", b'{"input": ' + _nested(64) + b"}", 400),
    ("unbalanced, only opening", b"[" * 100_000, 400),
    ("64 levels is fine", b'{"input": [{"role": "user", "content": "hi", "x": ' + _nested(61) + b"}]}", 200),
    ("brackets inside strings do not count", json.dumps({"input": "[" * 100_000}).encode(), 200),
    # json.loads reads a BOM and UTF-16/32 too: the depth check must see through them
    ("deep behind a UTF-8 BOM", b"\xef\xbb\xbf" + _nested(100_000), 400),
    ("deep in UTF-16", _nested(100_000).decode().encode("utf-16-be"), 400),
    ("deep in UTF-32 with a BOM", _nested(100_000).decode().encode("utf-32"), 400),
    ("a fine body behind a BOM", b"\xef\xbb\xbf" + b'{"input": "hi"}', 200),
]


@pytest.mark.parametrize(("name", "body", "status"), DEPTHS, ids=[d[0] for d in DEPTHS])
def test_deep_json_is_a_clear_400(http: httpx.Client, name: str, body: bytes, status: int) -> None:
    response = http.post(
        "/serving-endpoints/demo-agent/invocations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text[:300]
    if status == 400:
        error = response.json()
        assert error["error_code"] == "BAD_REQUEST"
        assert "Traceback" not in error["message"] and "RecursionError" not in error["message"]


@pytest.mark.parametrize(
    ("text", "depth"),
    [(b"", 0), (b"1", 0), (b"[]", 1), (b"[[],[[]]]", 3), (b'{"a": "[[[[", "b": [{}]}', 3), (rb'["\"[["]', 1)],
)
def test_json_depth(text: bytes, depth: int) -> None:
    assert json_depth(text) == depth


def test_json_depth_of_16_mb_is_quick() -> None:
    start = time.monotonic()
    assert json_depth(_nested(8 * MiB)) == 8 * MiB
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("token", ["tok\u00e9n", "\u4e2d\u6587-token-value"])
def test_a_non_ascii_token_is_a_401_not_a_500(local_workspace: LocalWorkspace, token: str) -> None:
    headers = [(b"Authorization", b"Bearer " + token.encode("utf-8"))]
    with httpx.Client(base_url=local_workspace.host, timeout=30) as client:
        response = client.get("/api/2.0/serving-endpoints", headers=headers)
        assert response.status_code == 401 and response.json()["error_code"] == "UNAUTHENTICATED", response.text
        form = {"grant_type": "client_credentials", "client_id": "x", "client_secret": token, "scope": "all-apis"}
        denied = client.post("/oidc/v1/token", data=form)
        assert denied.status_code == 401 and denied.json()["error"] == "invalid_client", denied.text


def test_unauthenticated_body_is_not_read(local_workspace: LocalWorkspace) -> None:
    reply = _send_big_body(local_workspace.host, "not-a-token", 300 * MiB, chunked=False)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]


@pytest.mark.parametrize("chunked", [False, True])
def test_an_app_refuses_an_unauthenticated_body_unread(local_workspace: LocalWorkspace, chunked: bool) -> None:
    reply = _send_big_body(local_workspace.app_url("demo-app"), "not-a-token", 300 * MiB, chunked=chunked)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]


def _send_headers(url: str, head: bytes, total: int) -> bytes:
    """Send ``head``, then header bytes up to ``total``, in 256 KiB pieces; the reply (or b"")."""
    sock = _connect(url)
    sock.settimeout(5)
    try:
        sock.sendall(head)
        sent = len(head)
        piece = b"a" * (256 * 1024)
        try:
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):  # refused mid-way, or stopped reading
            pass
        return _read_until_closed(sock, time.monotonic() + 5)
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("one huge header", b"GET /api/2.0/serving-endpoints HTTP/1.1\r\nHost: x\r\nX-Big: "),
        ("a huge URL", b"GET /api/2.0/serving-endpoints?q="),
    ],
)
def test_headers_past_64_kb_are_a_431_before_any_auth(local_workspace: LocalWorkspace, name: str, head: bytes) -> None:
    """httptools keeps every header byte it is sent: 50 MB of headers (no token needed, they are read
    before auth) were held in memory."""
    reply = _send_headers(local_workspace.host, head, 50 * MiB)
    assert reply.startswith(b"HTTP/1.1 431"), (name, reply[:200])


def test_many_headers_under_the_limit_are_served(http: httpx.Client) -> None:
    headers = {f"X-Pad-{i}": "v" * 100 for i in range(300)}  # 30 KB: a big cookie jar, still fine
    assert http.get("/api/2.0/serving-endpoints", headers=headers).status_code == 200
