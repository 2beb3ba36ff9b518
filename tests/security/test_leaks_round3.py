"""Third security round: secrets in exception messages and auth headers, credentials in URL
targets, endpoint names read from rows going into URL paths."""

from __future__ import annotations

import secrets as random
from typing import Any

import pytest
from IPython.core.error import UsageError

from agent_magics.core import secrets
from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.transport.targets import parse_target


def test_an_error_message_never_holds_a_known_secret() -> None:
    token = "dapi" + random.token_hex(16)
    secrets.register(token)
    body = f'{{"message": "forbidden for Bearer {token}"}}'  # a server's reply echoing the header
    for error in (AgentError(f"demo-agent: HTTP 403 {body}"), AgentUsageError(f"bad {token}")):
        assert token not in str(error) and token not in repr(error) and "[REDACTED]" in str(error)


def test_every_auth_header_is_a_secret() -> None:
    bearer, management = random.token_hex(20), random.token_hex(20)
    secrets.register_auth_headers(
        {"Authorization": f"Bearer {bearer}", "X-Databricks-Azure-SP-Management-Token": management}
    )
    shown = secrets.redact(f"Authorization: Bearer {bearer}; X-Databricks-Azure-SP-Management-Token: {management}")
    assert bearer not in shown and management not in shown


def test_a_url_python_cannot_parse_is_one_line() -> None:
    with pytest.raises(AgentUsageError, match="is not a valid URL target"):
        parse_target("https://[::1")


@pytest.mark.parametrize("url", ["https://me:hunter2pass@agent.example/v1", "http://token@127.0.0.1:9/x"])
def test_a_url_with_credentials_is_refused_without_showing_them(url: str) -> None:
    with pytest.raises(AgentUsageError) as raised:
        parse_target(url)
    message = str(raised.value)
    assert "--token-env" in message and "hunter2" not in message and "token@" not in message


def test_the_magic_refuses_a_url_with_credentials_in_one_line(shell: Any) -> None:
    with pytest.raises(UsageError) as raised:
        shell.run_cell_magic("agent", "https://me:hunter2pass@127.0.0.1:9/ --quiet", "q")
    assert "hunter2pass" not in str(raised.value) and "\n" not in str(raised.value)


NAMES = ["../../api/2.0/secrets/list", "demo-agent/../x", "a b"]


@pytest.mark.parametrize("name", NAMES)
def test_an_endpoint_name_must_be_a_name(shell: Any, name: str) -> None:
    with pytest.raises(UsageError) as raised:
        shell.run_line_magic("agent_sql", f"--quiet --engine local SELECT ai_query('{name}', 'hi') AS a")
    assert "is not a serving endpoint name" in str(raised.value), raised.value


@pytest.mark.parametrize("name", NAMES)
def test_an_endpoint_name_from_the_rows_is_checked_before_any_request(name: str) -> None:
    # Spark's ai_query UDF reads the endpoint from each row (tests/sql/test_spark_* run it on Spark);
    # the check is RowAsker.prepare's, before the invoker sees the name. In-process: no request is made.
    from agent_magics.sql.rows import RowAsker
    from agent_magics.sql.transpile import AiCall

    class Invoker:
        def interface(self, endpoint: str) -> str:
            raise AssertionError(f"asked about {endpoint!r}")

    call = AiCall(index=0, endpoint=name, request_sql="q")
    with pytest.raises(AgentUsageError, match="is not a serving endpoint name"):
        RowAsker(Invoker()).prepare(call)  # type: ignore[arg-type]


def test_streamed_rows_are_redacted_before_they_are_cut() -> None:
    from agent_magics.sql.batch import RowRecord
    from agent_magics.sql.batch_progress import row_line
    from agent_magics.sql.semantics import Answer

    token = "dapi" + random.token_hex(16)
    secrets.register(token)
    padding = "x" * 90  # the secret straddles the line's 100-character cut
    for answer in (Answer(text=f"{padding} Bearer {token}"), Answer(error=f"{padding} Bearer {token}")):
        line = row_line(RowRecord(call=0, row=1, request=f'"{padding}{token}"', answer=answer, seconds=0.1))
        for shown in (line.request, line.outcome):
            assert "Bearer d" not in shown and f"{padding}d" not in shown, shown  # not one character of it
