"""The fault matrix through %%agent: every failure is one clear line naming the target and
what to do, partial text is kept and marked, retries recover what can be recovered, and the
kernel stays usable. Runs on the client and REST paths, streaming and not."""

from __future__ import annotations

import itertools
import socket
import time

import pytest

PATHS = list(itertools.product(["client", "rest"], ["--stream", "--no-stream"]))
PATH_IDS = [f"{via}{stream}" for via, stream in PATHS]


def run(ip, target: str, options: str, question: str):
    return ip.run_cell_magic("agent", f"{target} {options} --quiet", question)


@pytest.fixture
def fast_retries(shell):
    magics = shell.magics_manager.registry["AgentMagics"]
    magics.retry_max_wait = 0.05
    yield shell
    magics.retry_max_wait = 20.0


def assert_clean_failure(result, target: str, *fragments: str) -> None:
    assert result.status == "failed", result
    message = result.error or ""
    assert "\n" not in message and "Traceback" not in message, message
    assert target in message, message
    for fragment in fragments:
        assert fragment.lower() in message.lower(), (fragment, message)


def assert_kernel_usable(ip) -> None:
    assert run(ip, "demo-agent", "", "Is the kernel still fine?").ok


@pytest.mark.parametrize(("via", "stream"), PATHS, ids=PATH_IDS)
@pytest.mark.parametrize(
    ("target", "fragments"),
    [
        ("fault-401", ("401", "authentication")),
        ("fault-403", ("403", "CAN QUERY")),
        ("fault-500", ("500", "logs")),
        ("fault-429-always", ("429", "rate limited", "gave up after 4 attempts")),
        ("fault-503-always", ("503", "try again", "gave up after 4 attempts")),
    ],
)
def test_http_faults(fast_retries, target, fragments, via, stream):
    result = run(fast_retries, target, f"--api responses --via {via} {stream}", f"{target} {via} {stream}")
    assert_clean_failure(result, target, *fragments)
    assert result.text == ""
    assert_kernel_usable(fast_retries)


@pytest.mark.parametrize(("via", "stream"), PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("target", ["fault-429", "fault-503"])
def test_transient_faults_are_retried(fast_retries, target, via, stream):
    result = run(fast_retries, target, f"--api responses --via {via} {stream}", f"retry {target} {via} {stream}")
    assert result.ok, result.error
    assert result.text


def test_retry_after_is_honoured(shell):
    started = time.monotonic()
    result = run(shell, "fault-429", "--api responses", "honour the Retry-After header please")
    assert result.ok, result.error
    assert time.monotonic() - started >= 2.0  # two 429s, each asking for 1 s


@pytest.mark.parametrize("via", ["client", "rest"])
@pytest.mark.parametrize(
    ("target", "fragments"),
    [
        ("fault-drop", ("dropped",)),
        ("fault-malformed-sse", ("not json",)),
        ("fault-error-event", ("simulated by fault-error-event",)),
        ("fault-error-dict", ("simulated by fault-error-dict",)),
    ],
)
def test_mid_stream_faults_keep_the_partial_answer(shell, target, fragments, via):
    result = run(shell, target, f"--api responses --via {via} --stream", f"{target} mid-stream {via}")
    assert_clean_failure(result, target, *fragments)
    assert result.text, "the text that arrived before the fault is kept"
    assert result.output and result.output[-1]["type"] == "message"
    assert_kernel_usable(shell)


@pytest.mark.parametrize("via", ["client", "rest"])
@pytest.mark.parametrize("target", ["fault-drop", "fault-malformed-sse", "fault-error-event", "fault-error-dict"])
def test_non_streaming_stream_faults(shell, target, via):
    result = run(shell, target, f"--api responses --via {via} --no-stream", f"{target} whole {via}")
    assert_clean_failure(result, target)
    assert_kernel_usable(shell)


@pytest.mark.parametrize("via", ["client", "rest"])
@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_a_request_the_server_received_is_not_sent_again(fast_retries, via, stream):
    """fault-drop closes the connection after the request arrived: the agent may have run (and been
    paid for). openai reports that as a connection error too; only a request that never reached the
    server is retried."""
    result = run(fast_retries, "fault-drop", f"--api responses --via {via} {stream}", f"drop once {via} {stream}")
    assert_clean_failure(result, "fault-drop")
    assert not result.request_info.get("retries"), result.request_info


@pytest.mark.parametrize("via", ["client", "rest"])
def test_timeout_before_first_byte_names_the_limit(shell, via):
    started = time.monotonic()
    result = run(shell, "fault-hang", f"--api responses --via {via} --timeout 1", f"hang {via}")
    assert time.monotonic() - started < 2.5
    assert_clean_failure(result, "fault-hang", "timeout")
    assert "--timeout" in result.error


@pytest.mark.parametrize("via", ["client", "rest"])
def test_connection_refused(shell, via):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    magics = shell.magics_manager.registry["AgentMagics"]
    magics.retry_max_wait = 0.05
    try:
        result = run(shell, f"http://127.0.0.1:{port}", f"--via {via}", "anyone there?")
    finally:
        magics.retry_max_wait = 20.0
    assert_clean_failure(result, f"http://127.0.0.1:{port}", "could not connect")


@pytest.mark.parametrize("via", ["client", "rest"])
def test_unknown_host(shell, via):
    magics = shell.magics_manager.registry["AgentMagics"]
    magics.retry_max_wait = 0.05
    try:
        result = run(shell, "http://no-such-host.invalid", f"--via {via}", "hello?")
    finally:
        magics.retry_max_wait = 20.0
    assert_clean_failure(result, "no-such-host.invalid")
    assert "unknown host" in result.error or "could not connect" in result.error


@pytest.mark.parametrize(("via", "stream"), PATHS, ids=PATH_IDS)
def test_html_login_page_from_an_app(shell, via, stream):
    result = run(shell, "apps/fault-login", f"--via {via} {stream}", "log me in")
    assert_clean_failure(result, "apps/fault-login", "HTML page", "OAuth")


def test_pat_against_an_app_says_apps_need_oauth(shell, local_workspace, monkeypatch):
    from agent_magics.transport.workspace import forget_workspaces

    for name in ("DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_workspace.env(auth="pat").items():
        monkeypatch.setenv(name, value)
    forget_workspaces()
    for via in ("client", "rest"):
        result = run(shell, "apps/demo-app", f"--via {via}", "PAT please")
        assert_clean_failure(result, "apps/demo-app", "OAuth tokens only", "databricks auth login")
    assert run(shell, "demo-agent", "", "PATs still work for serving").ok


@pytest.mark.parametrize("via", ["client", "rest"])
def test_app_that_is_not_responses_compatible(shell, via):
    result = run(shell, "apps/durable-app", f"--via {via}", "hello?")
    assert_clean_failure(result, "apps/durable-app", "404", "does not serve the OpenAI Responses API")


@pytest.mark.parametrize("via", ["client", "rest"])
def test_url_target_with_token_env(shell, local_workspace, monkeypatch, via):
    """Any OpenAI-compatible Responses server by URL; its token comes from the named variable."""
    from databricks.sdk.config import Config

    config = Config(
        host=local_workspace.host,
        client_id=local_workspace.client_id,
        client_secret=local_workspace.client_secret,
        auth_type="oauth-m2m",
    )
    monkeypatch.setenv("MY_APP_TOKEN", config.oauth_token().access_token)
    url = local_workspace.app_url("demo-app")
    result = run(shell, url, f"--via {via} --token-env MY_APP_TOKEN", "What is MLflow?")
    assert result.ok, result.error
    assert "MLflow" in result.text and result.tool_calls


@pytest.mark.parametrize("via", ["client", "rest"])
def test_workspace_credentials_never_go_to_other_hosts(shell, via):
    """A URL target outside the workspace gets no Authorization header from us."""
    import http.server
    import threading

    seen: list[dict[str, str]] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(dict(self.headers))
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b'{"object": "response", "output": []}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.handle_request, daemon=True)  # one request, then stop
    thread.start()
    try:
        result = run(shell, f"http://127.0.0.1:{server.server_port}", f"--via {via} --no-stream", "hello")
        thread.join(timeout=10)
    finally:
        server.server_close()
    assert result.status == "completed", result.error
    assert len(seen) == 1
    assert not any(k.lower() == "authorization" and not v.endswith("unused") for k, v in seen[0].items())


@pytest.mark.parametrize("via", ["client", "rest"])
def test_total_timeout_stops_a_slow_stream_and_keeps_its_text(shell, via):
    slow = """'{"tokens": 400, "tokens_per_second": 40}'"""
    run(shell, "bench-agent", f"--via {via}", "warm up: imports and auth")
    started = time.monotonic()
    result = run(shell, "bench-agent", f"--via {via} --timeout 1 --custom-inputs {slow}", f"slow {via}")
    assert time.monotonic() - started < 2.5  # the whole answer would take 10 s
    assert_clean_failure(result, "bench-agent", "--timeout of 1 s")
    assert result.text


# -- Answers that are not the agent's JSON: a hostile workspace whose endpoint answers a
# login page, a list, an empty or truncated body, or a gzip bomb, on every path.
ANSWER_KINDS = ("html", "html-as-json", "list", "string", "empty", "truncated", "bomb")


@pytest.fixture(scope="module")
def hostile_workspace():
    from robust.hostile_workspace import HostileWorkspace

    with HostileWorkspace() as server:
        yield server


@pytest.mark.parametrize(("via", "stream"), PATHS, ids=PATH_IDS)
@pytest.mark.parametrize("kind", ANSWER_KINDS)
def test_an_answer_that_is_not_the_agents_json(shell, hostile_workspace, monkeypatch, kind, via, stream):
    import os

    from agent_magics.transport.workspace import forget_workspaces

    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    for name, value in hostile_workspace.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    forget_workspaces()
    hostile_workspace.bad["answer"] = kind
    try:
        result = run(shell, "demo", f"--api responses --via {via} {stream}", f"{kind} {via} {stream}")
    finally:
        hostile_workspace.bad.clear()
        forget_workspaces()
    assert_clean_failure(result, "demo")
    assert "unexpected" not in result.error, result.error
    for secret in hostile_workspace.secrets():
        assert secret not in result.error
