"""Workspace APIs that answer with something other than their JSON.

Table-driven over (API x bad body) against a hostile loopback workspace: every workspace API the
project calls (OIDC discovery, the OAuth token, serving-endpoints get and list, apps get and list,
the traces API, Statement Execution for ``%agent_sql --engine warehouse``) in turn answers an HTML
login page, a 302 to a login page, a JSON list, a JSON string, an empty body, truncated JSON or a
gzip bomb. Each must end as one line that says what came back (status, content type, first bytes,
with secrets redacted) and what to do; the trace fetch after an app's answer must keep the answer.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hostile_workspace import APIS, BAD_KINDS, HostileWorkspace, bad_body
from IPython.core.error import UsageError

from agent_magics.transport.workspace import forget_workspaces


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileWorkspace]:
    with HostileWorkspace() as server:
        yield server


@pytest.fixture
def hostile_shell(shell, hostile, monkeypatch):
    for name in [n for n in os.environ if n.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    for name, value in hostile.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    hostile.bad.clear()
    forget_workspaces()
    yield shell
    hostile.bad.clear()
    forget_workspaces()


def _agent(ip, target: str, options: str = "") -> Any:
    return ip.run_cell_magic("agent", f"{target} {options} --quiet", "Does the answer survive?")


# How each API is reached from a notebook: the call that reads it.
TRIGGERS = {
    "oidc": lambda ip: _agent(ip, "demo", "--api responses"),
    "token": lambda ip: _agent(ip, "demo", "--api responses"),
    "endpoint-get": lambda ip: _agent(ip, "demo"),
    "endpoint-list": lambda ip: ip.run_line_magic("agent", "--list"),
    "app-get": lambda ip: _agent(ip, "apps/demo-app"),
    "app-list": lambda ip: ip.run_line_magic("agent", "--list"),
    "trace": lambda ip: _agent(ip, "apps/demo-app", "--return-trace"),
    "statements": lambda ip: ip.run_line_magic("agent_sql", "--engine warehouse --warehouse wh-1 SELECT 1 AS one"),
}

CASES = list(itertools.product(APIS, BAD_KINDS))


def _outcome(ip, api: str) -> tuple[Any, str]:
    """(the call's value, the one message the user sees)."""
    try:
        value = TRIGGERS[api](ip)
    except UsageError as exc:
        return None, str(exc)
    error = getattr(value, "error", None)
    if api == "trace" and value is not None:
        return value, str((value.request_info or {}).get("trace_note") or error or "")
    return value, str(error or "")


@pytest.mark.parametrize(("api", "kind"), CASES, ids=[f"{a}-{k}" for a, k in CASES])
def test_a_workspace_api_that_answers_no_json(hostile_shell, hostile, api, kind):
    hostile.bad[api] = kind
    value, message = _outcome(hostile_shell, api)
    assert api in hostile.seen, f"{api} was not reached"
    assert message, (api, kind, value)
    assert "\n" not in message and "Traceback" not in message, message
    for leaked in ("unexpected", "JSONDecodeError", "AttributeError", "TypeError", "KeyError"):
        assert leaked not in message, message
    for secret in hostile.secrets():
        assert secret not in message, message
    status = "302" if kind == "redirect" else "200"
    assert f"HTTP {status}" in message, message
    if kind == "bomb":
        assert "larger than 64 MB once decoded (gzip" in message, message
    elif kind == "empty":
        assert "empty body" in message, message
    elif kind == "redirect":
        assert "login.example.com" in message, message
    elif kind in ("html", "html-as-json"):
        assert "<!doctype html>" in message, message
    else:
        assert kind in ("list", "string", "truncated")
        assert ("JSON array" if kind == "list" else "JSON string" if kind == "string" else "not JSON") in message
    assert "check" in message.lower(), message  # and what to do about it
    if api == "trace":  # the answer itself is kept, only the trace is missing
        assert value is not None and value.ok, value
        assert value.text == "The answer survives."
        assert "showing its id only" in message, message


@pytest.mark.parametrize("stream", ["--no-stream", "--stream"])
def test_an_app_asked_through_databricks_openai_is_bounded_and_not_retried_by_the_library(
    hostile_shell, hostile, stream
):
    """DatabricksOpenAI asks ``apps/<name>`` through an OpenAI client it builds per app (openai's own
    2 retries, an httpx client that reads any body whole): ours replaces both."""
    import tracemalloc

    pytest.importorskip("databricks_openai")
    hostile_shell.run_line_magic("config", "AgentMagics.client_library = 'databricks-openai'")
    try:
        assert _agent(hostile_shell, "apps/demo-app", f"--via client {stream}").ok  # the lazy imports, first
        hostile.bad["app-answer"] = "bomb"
        bad_body("bomb", "")
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            result = _agent(hostile_shell, "apps/demo-app", f"--via client {stream}")
            peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        finally:
            tracemalloc.stop()
        assert result.status == "failed" and "larger than 64 MB" in result.error, result.error
        assert peak_mb < 64 + 32, f"peak allocations {peak_mb:.0f} MB"
        hostile.seen.clear()
        hostile.bad["app-answer"] = "busy"  # 503 every time: retried by our policy only (1 retry here)
        hostile_shell.run_line_magic("config", "AgentMagics.max_retries = 1")
        result = _agent(hostile_shell, "apps/demo-app", f"--via client {stream}")
        assert result.status == "failed" and "503" in (result.error or ""), result.error
        assert hostile.seen == ["app-answer"] * 2, hostile.seen  # openai's own 2 retries would make it 6
    finally:
        hostile.bad.pop("app-answer", None)
        hostile_shell.run_line_magic("config", "AgentMagics.max_retries = 3")
        hostile_shell.run_line_magic("config", "AgentMagics.client_library = 'openai'")


@pytest.mark.parametrize("library", ["openai", "databricks-openai"])
@pytest.mark.parametrize("stream", ["--no-stream", "--stream"])
def test_a_bomb_answer_through_either_client_library_is_refused_with_bounded_memory(
    hostile_shell, hostile, library, stream
):
    import tracemalloc

    if library == "databricks-openai":
        pytest.importorskip("databricks_openai")
    hostile_shell.run_line_magic("config", f"AgentMagics.client_library = '{library}'")
    # once before measuring: the client's lazy imports (its resource and type modules) allocate tens of MB
    assert _agent(hostile_shell, "demo", f"--api responses --via client {stream}").ok
    hostile.bad["answer"] = "bomb"  # 100 MB of JSON, gzipped to ~100 KB
    bad_body("bomb", "")  # built before measuring: the server shares the process
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = _agent(hostile_shell, "demo", f"--api responses --via client {stream}")
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
        hostile_shell.run_line_magic("config", "AgentMagics.client_library = 'openai'")
    assert "answer" in hostile.seen
    assert result.status == "failed", result
    assert "larger than 64 MB" in result.error and "\n" not in result.error, result.error
    assert peak_mb < 64 + 32, f"peak allocations {peak_mb:.0f} MB"
