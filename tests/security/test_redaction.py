"""Every secret the process holds is redacted from everything shown or stored, whatever the other
side echoes: a loopback workspace/agent puts the request headers (the bearer token) into the answer,
a tool output, custom outputs, an HTTP error body and an in-stream error event.

Auth kinds: a PAT, OAuth M2M (the server mints the access tokens), and a ``--token-env`` token for a
URL target; both transports, streaming and not; then ``%agent --list`` and ``%agent_sql``.
"""

from __future__ import annotations

import itertools
import json
import secrets as random
from collections.abc import Iterator
from typing import Any

import pytest
from echo_server import MODES, EchoServer
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from agent_magics.core import secrets
from agent_magics.transport.workspace import forget_workspaces
from agent_magics.view.render import render_result_html, render_result_text

AUTHS = ("pat", "oauth", "token-env")


@pytest.fixture(scope="module")
def echo() -> Iterator[EchoServer]:
    with EchoServer() as server:
        yield server


@pytest.fixture
def echo_shell(shell, echo, monkeypatch):
    """The shell, pointed at the echoing workspace; ``configure(auth)`` returns (target, options, secrets)."""

    def configure(auth: str) -> tuple[str, str, list[str]]:
        for name in ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET", "DATABRICKS_AUTH_TYPE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("DATABRICKS_HOST", echo.host)
        forget_workspaces()
        if auth == "pat":
            monkeypatch.setenv("DATABRICKS_TOKEN", echo.pat)
            monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "pat")
            return "echo-agent", "", [echo.pat]
        if auth == "oauth":
            monkeypatch.setenv("DATABRICKS_CLIENT_ID", echo.client_id)
            monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", echo.client_secret)
            monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "oauth-m2m")
            return "echo-agent", "", [echo.client_secret]
        token = "tok-" + random.token_hex(20)
        monkeypatch.setenv("ECHO_TOKEN", token)
        return echo.host + "/", "--token-env ECHO_TOKEN", [token]

    return shell, configure


def _shown(result: Any, printed: str) -> str:
    stored = json.dumps([result.output, result.custom_outputs, result.request_info, result.trace_dict], default=str)
    return "\n".join(
        [
            printed,
            result.text,
            result.error or "",
            repr(result),
            render_result_html(result),
            render_result_text(result),
            stored,
        ]
    )


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
@pytest.mark.parametrize("via", ["rest", "client"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("auth", AUTHS)
def test_echoed_credentials_are_redacted(echo_shell, echo, capsys, auth, mode, via, stream):
    ip, configure = echo_shell
    target, options, known = configure(auth)
    result = ip.run_cell_magic("agent", f"{target} --api responses --via {via} {stream} {options}", f"{mode} please")
    printed = capsys.readouterr()
    shown = _shown(result, printed.out + printed.err)
    for secret in [*known, *echo.access_tokens]:
        assert secret not in shown, f"{auth} secret shown ({mode}, {via}, {stream})"
    assert "Authorization: Bearer [REDACTED]" in shown, shown[:2000]  # the server did echo it
    if mode == "tool":  # echoed into the trace and the request info too, and redacted there
        assert "[REDACTED]" in json.dumps(result.trace_dict) and "[REDACTED]" in json.dumps(result.request_info)
    conversation = json.dumps(list(ip.magics_manager.registry["AgentMagics"].conversations.values()), default=str)
    assert not any(secret in conversation for secret in known)


@pytest.mark.parametrize("auth", ["pat", "oauth"])
def test_list_error_body_is_redacted(echo_shell, echo, auth):
    ip, configure = echo_shell
    _, _, known = configure(auth)
    with pytest.raises(UsageError) as raised:
        ip.run_line_magic("agent", "--list")
    message = str(raised.value)
    assert "Bearer [REDACTED]" in message, message
    assert not any(secret in message for secret in [*known, *echo.access_tokens])


@pytest.mark.parametrize("auth", ["pat", "oauth"])
def test_agent_sql_rows_and_row_errors_are_redacted(echo_shell, echo, auth, capsys):
    ip, configure = echo_shell
    _, _, known = configure(auth)
    frame = ip.run_line_magic(
        "agent_sql",
        "--quiet --engine local SELECT ai_query('echo-agent', 'answer please') AS answer, "
        "ai_query('echo-agent', 'http-error please', failOnError => false) AS failed",
    )
    cells = frame.to_json()
    assert "Bearer [REDACTED]" in cells, cells[:1000]
    assert not any(secret in cells for secret in [*known, *echo.access_tokens])
    capsys.readouterr()
    # a remote failure is a failed result (one line, the statement's rows kept), as %%agent reports it
    failed = ip.run_line_magic("agent_sql", "--quiet --engine local SELECT ai_query('echo-agent', 'http-error please')")
    message = capsys.readouterr().err + failed.attrs["agent_sql_error"] + failed.to_json()
    assert "agent_sql: failed · " in message and "Bearer [REDACTED]" in message, message
    assert not any(secret in message for secret in [*known, *echo.access_tokens]), (
        message,
        known,
        echo.access_tokens,
    )


# -- the redactor itself: a secret split anywhere across deltas is still caught ---------------------
SECRET_A, SECRET_B = "dapi" + "0123456789abcdef" * 2, "eyJ" + "zyxw" * 10


def expected_shown(text: str) -> str:
    """``text`` redacted; an end that is the start of a secret (4+ characters) redacted too (brute
    force, over every secret the process holds: other tests register theirs, e.g. ``dapid...``)."""
    shown = secrets.redact(text)
    held = list(secrets._secrets)
    for size in range(len(shown), 3, -1):
        if any(len(s) > size and s.startswith(shown[-size:]) for s in held):
            return shown[:-size] + secrets.REDACTED
    return shown


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(["", " ", "d", "dapi", "ey", SECRET_A, SECRET_B, SECRET_A[:12], "text "]), max_size=8
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_stream_redactor_catches_secrets_split_across_chunks(parts, cuts):
    secrets.register(SECRET_A, SECRET_B)  # made-up values: nothing else in the tests contains them
    text = "".join(parts)
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    redactor = secrets.StreamRedactor()
    emitted = [redactor.feed(text[a:b]) for a, b in itertools.pairwise(bounds)]
    emitted.append(redactor.flush())
    # all of it, redacted; an end that is the start of a secret (the stream stopped there) too
    assert "".join(emitted) == expected_shown(text)
    assert SECRET_A not in "".join(emitted) and SECRET_B not in "".join(emitted)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from(["", " ", "d", "dapi", "ey", SECRET_A, SECRET_B, "text "]), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    usage_after=st.lists(st.booleans(), max_size=12),
    end=st.sampled_from(["done", "error", "interrupt"]),
)
def test_a_secret_split_across_chat_chunks_with_usage_between_them_is_still_caught(parts, cuts, usage_after, end):
    """A chat stream reports usage after every chunk: that must not flush the held-back start of a
    secret, which the next chunk completes; and a start left held at the end is redacted."""
    from agent_magics.core.events import Done, ErrorEvent, RequestInfo, TextDelta
    from agent_magics.run import Redactor

    secrets.register(SECRET_A, SECRET_B)
    text = "".join(parts) + SECRET_A[:14]  # ends with most of a secret: the stream stops there
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    redactor, shown = Redactor(), []
    for index, (a, b) in enumerate(itertools.pairwise(bounds)):
        shown += redactor.events(TextDelta("m1", text[a:b]))
        if index < len(usage_after) and usage_after[index]:
            shown += redactor.events(RequestInfo({"usage": {"completion_tokens": index}}))
    if end == "interrupt":
        shown += redactor.flush()
    else:
        shown += redactor.events(Done("completed") if end == "done" else ErrorEvent("reset"))
    joined = "".join(e.delta for e in shown if isinstance(e, TextDelta))
    assert SECRET_A not in joined and SECRET_B not in joined
    assert joined == expected_shown(text)


@pytest.mark.parametrize("item_id", ["m1", "ANONYMOUS"])
def test_a_stream_stopped_inside_a_secret_keeps_it_redacted_in_the_result(item_id):
    """The finished message replaces the deltas in the result: it must end as the live text did
    (the held-back start redacted), and deltas with no item id still join it, not doubled."""
    from agent_magics.core.events import ANONYMOUS, Done, ItemDone, Reduction, TextDelta, finish, reduce_event
    from agent_magics.run import Redactor

    secrets.register(SECRET_A, SECRET_B)
    text = "The key is " + SECRET_A[:14]  # cut off by max_tokens in the middle of the echoed token
    delta_id = ANONYMOUS if item_id == "ANONYMOUS" else item_id
    message = {"type": "message", "id": "m1", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
    redactor, state = Redactor(), Reduction()
    for event in [TextDelta(delta_id, text[:9]), TextDelta(delta_id, text[9:]), ItemDone(message), Done("completed")]:
        for shown in redactor.events(event):
            reduce_event(state, shown)
    finish(state, None)
    assert state.text == "The key is [REDACTED]", state.text
