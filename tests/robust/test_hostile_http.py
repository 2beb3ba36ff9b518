"""Hostile HTTP servers (real loopback sockets) against %%agent on the REST and client paths:
a stream kept alive by comments, a stream that just stops, a gzip bomb, a URL naming its route."""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

Script = Callable[[socket.socket], None]


@contextmanager
def serve(script: Script, paths: list[str] | None = None) -> Iterator[str]:
    """A loopback server that answers every request with ``script`` (raw bytes), in a thread."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                (int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
            )
            while len(body) < length:
                body += conn.recv(65536)
            if paths is not None:
                paths.append(head.split(b" ")[1].decode())
            try:
                script(conn)
            except OSError:
                pass  # the client went away: that is what some tests check

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


SSE_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"


def delta(text: str) -> bytes:
    return (
        b"data: "
        + json.dumps({"type": "response.output_text.delta", "item_id": "m1", "delta": text}).encode()
        + b"\n\n"
    )


def whole_answer(conn: socket.socket) -> None:
    done = {"type": "response.completed", "response": {"output": []}}
    conn.sendall(SSE_HEAD + delta("ok") + b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n")


def warm_up(shell, via: str) -> None:
    """One quick answer first: the first client call imports openai's resources (seconds on a loaded machine)."""
    with serve(whole_answer) as url:
        assert run(shell, url, f"--via {via}").ok


def trickle(unit: bytes) -> Script:
    def script(conn: socket.socket) -> None:
        conn.sendall(SSE_HEAD + delta("kept alive "))
        for _ in range(200):  # 40 s at most: far beyond every --timeout below
            conn.sendall(unit)
            time.sleep(0.2)

    return script


def run(ip, target: str, options: str):
    return ip.run_cell_magic("agent", f"{target} --api responses {options} --quiet", "hostile?")


VIAS = ["rest", "client"]


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("unit", [b": ping\n\n", b"event: ping\n", b"\n"], ids=["comment", "event-only", "blank"])
def test_timeout_is_a_wall_clock_no_byte_resets(shell, via, unit):
    warm_up(shell, via)
    with serve(trickle(unit)) as url:
        started = time.monotonic()
        result = run(shell, url, f"--via {via} --timeout 1")
        took = time.monotonic() - started
    assert took < 2.0, took
    assert result.status == "failed" and "--timeout of 1 s" in (result.error or ""), result.error
    assert result.text == "kept alive "


def trickled_body(conn: socket.socket) -> None:
    body = json.dumps({"output": [{"type": "message", "id": "m", "content": "x" * 200}]}).encode()
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body))
    for byte in body:
        conn.sendall(bytes([byte]))
        time.sleep(0.2)


def test_timeout_bounds_a_body_trickled_a_byte_at_a_time(shell):
    with serve(trickled_body) as url:
        started = time.monotonic()
        result = run(shell, url, "--via rest --no-stream --timeout 1")
        took = time.monotonic() - started
    assert took < 2.0, took
    assert result.status == "failed" and "--timeout" in (result.error or ""), result.error


def busy_then_silent() -> Script:
    """A 503 asking to come back in 2 s, then (the retry) no byte at all for 20 s."""
    attempts: list[float] = []

    def script(conn: socket.socket) -> None:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            body = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}'
            conn.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 2\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
            )
            return
        time.sleep(20)

    return script


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_the_retry_after_a_wait_gets_only_what_is_left_of_the_timeout(shell, via, stream):
    """--timeout is the whole answer's: a retry does not start a fresh read timeout of its own."""
    warm_up(shell, via)
    with serve(busy_then_silent()) as url:
        started = time.monotonic()
        result = run(shell, url, f"--via {via} {stream} --timeout 3")
        took = time.monotonic() - started
    assert result.status == "failed" and "--timeout of 3 s" in (result.error or ""), result.error
    assert result.request_info.get("retries"), result.request_info  # the 503 was retried
    assert took < 4.0, took  # not 2 s of waiting + a read timeout of 3 s


def stops_mid_sentence(conn: socket.socket) -> None:
    conn.sendall(SSE_HEAD + delta("Half of a sen") + delta("tence and then"))


@pytest.mark.parametrize("via", VIAS)
def test_a_stream_that_just_stops_is_not_completed(shell, via):
    with serve(stops_mid_sentence) as url:
        result = run(shell, url, f"--via {via}")
    assert result.status == "failed", result
    assert result.text == "Half of a sentence and then"
    assert "stopped before the answer ended" in result.error and url in result.error


def completes_without_done(conn: socket.socket) -> None:
    done = {"type": "response.completed", "response": {"output": []}}
    conn.sendall(SSE_HEAD + delta("whole") + b"data: " + json.dumps(done).encode() + b"\n\n")


def test_a_completion_event_without_done_is_completed(shell):
    with serve(completes_without_done) as url:
        result = run(shell, url, "--via rest")
    assert result.ok, result.error
    assert result.text == "whole"


def _bomb(megabytes: int) -> bytes:
    """``megabytes`` MB of zeros, gzipped (~1 KB a MB), built a MB at a time so the test stays small."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    chunk = b"0" * (1024 * 1024)
    return b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()


BOMB = _bomb(400)  # ~400 KB on the wire, 400 MB decoded


def gzip_bomb(status: bytes) -> Script:
    def script(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(BOMB)
        )
        conn.sendall(BOMB)

    return script


def peak_megabytes(call: Callable[[], object]) -> tuple[object, float]:
    """``call()`` and the peak of Python allocations during it, in MB (the process's RSS high-water
    mark would carry whatever earlier tests of the session peaked at)."""
    import tracemalloc

    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        value = call()
        return value, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("status", [b"200 OK", b"500 Internal Server Error"], ids=["answer", "error-body"])
def test_a_gzip_bomb_is_refused_with_bounded_memory(shell, status, via):
    with serve(gzip_bomb(status)) as url:
        result, peak_mb = peak_megabytes(lambda: run(shell, url, f"--via {via} --no-stream"))
    assert result.status == "failed"
    assert "\n" not in result.error and url in result.error, result.error
    if status.startswith(b"200"):
        # decoded 64 KB at a time and refused at the 64 MB cap: the 400 MB body never exists
        assert peak_mb < 64 + 32, f"peak allocations {peak_mb:.0f} MB"
        assert "larger than 64 MB once decoded (gzip" in result.error, result.error
    else:
        assert peak_mb < 16, f"peak allocations {peak_mb:.0f} MB"  # an error body stops at 1 MB
        assert "HTTP 500" in result.error and "error body is larger than 1 MB" in result.error, result.error


def _gzipped_stream(parts: Iterator[bytes]) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(packer.compress(part) for part in parts) + packer.flush()


MB_OF_X = b"x" * (1024 * 1024)
# One event of 300 MB with no line break, gzipped (~300 KB on the wire); and 100 MB of data lines in one event.
HUGE_LINE = _gzipped_stream(iter([delta("kept "), b"data: ", *([MB_OF_X] * 300)]))
HUGE_EVENT = _gzipped_stream(iter([delta("kept "), *([b"data: " + MB_OF_X + b"\n"] * 100)]))


def huge_event(body: bytes, gzip: bool) -> Script:
    def script(conn: socket.socket) -> None:
        encoding = b"content-encoding: gzip\r\n" if gzip else b""
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n" + encoding + b"connection: close\r\n\r\n"
        )
        if gzip:
            conn.sendall(body)
            return
        conn.sendall(delta("kept ") + b"data: ")
        for _ in range(100):  # 100 MB without a line break; the client hangs up at 64 MB
            conn.sendall(MB_OF_X)

    return script


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize(
    ("body", "gzip"),
    [(b"", False), (HUGE_LINE, True), (HUGE_EVENT, True)],
    ids=["100MB-line-plain", "300MB-line-gzip", "100MB-event-gzip"],
)
def test_one_huge_event_fails_with_the_text_kept_and_bounded_memory(shell, via, body, gzip):
    with serve(huge_event(body, gzip)) as url:
        result, peak_mb = peak_megabytes(lambda: run(shell, url, f"--via {via}"))
    assert result.status == "failed", result
    assert result.text == "kept "
    assert "larger than 64 MB" in result.error and "Partial answer kept" in result.error, result.error
    assert "\n" not in result.error
    assert peak_mb < 64 + 32, f"peak allocations {peak_mb:.0f} MB"  # one line/event holds at most 64 MB


def test_client_path_does_not_double_a_route_named_in_the_url(shell):
    paths: list[str] = []

    def answer(conn: socket.socket) -> None:
        conn.sendall(SSE_HEAD + delta("ok") + b"data: [DONE]\n\n")

    with serve(answer, paths) as url:
        result = run(shell, f"{url}/x/responses", "--via client")
    assert result.ok, result.error
    assert paths == ["/x/responses"]


def endless_stream(conn: socket.socket) -> None:
    conn.sendall(SSE_HEAD + delta("kept "))
    piece = delta("y" * 1000) * 64  # ~70 KB of small events
    for _ in range(400):  # ~28 MB at most; the client hangs up at its 2 MB limit
        conn.sendall(piece)


@pytest.mark.parametrize("via", VIAS)
def test_a_stream_that_never_ends_stops_at_the_whole_stream_limit_with_the_text_kept(shell, via, monkeypatch):
    from agent_magics.transport import http

    monkeypatch.setattr(http, "MAX_STREAM", 2 * http.MB)  # 256 MB in use; the same check, sooner
    with serve(endless_stream) as url:
        result = run(shell, url, f"--via {via}")
    assert result.status == "failed", result
    assert result.text.startswith("kept yyy") and 1_000_000 < len(result.text) < 2 * http.MB, len(result.text)
    assert "stream grew larger than 2 MB" in result.error and "Partial answer kept" in result.error, result.error
    assert "\n" not in result.error
