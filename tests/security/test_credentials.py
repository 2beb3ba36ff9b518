"""A credential with stray whitespace (a token read from a file or a mounted secret ends in a newline)
works on every surface, and one with a control character inside is refused by name, never shown.

Every credential source x every whitespace/control variant x every surface that sends it, through
the real client libraries against the local workspace over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from agent_magics.transport.embedded import LocalWorkspace
from agent_magics.transport.embedded_config import LOCAL_WAREHOUSE_ID
from agent_magics.transport.workspace import forget_workspaces

# What a file, a mounted secret or a copy-paste leaves around a credential
DIRT = {
    "newline": lambda s: s + "\n",
    "crlf": lambda s: s + "\r\n",
    "tab": lambda s: s + "\t",
    "space-newline": lambda s: s + " \n",
    "nul": lambda s: s + "\x00",
    "leading-tab": lambda s: "\t" + s,
}
# A control character inside: no cleaning can say what was meant
INNER = {
    "inner-newline": lambda s: s[:10] + "\n" + s[10:],
    "inner-nul": lambda s: s[:10] + "\x00" + s[10:],
    "inner-escape": lambda s: s[:10] + "\x1b" + s[10:],
}
SQL = "SELECT ai_query('demo-agent', 'What is MLflow?') AS answer"
SURFACES: dict[str, Callable[[Any], Any]] = {
    "agent-rest": lambda ip: ip.run_cell_magic("agent", "demo-agent --via rest --quiet", "What is MLflow?"),
    "agent-client": lambda ip: ip.run_cell_magic("agent", "demo-agent --via client --quiet", "What is MLflow?"),
    "agent-list": lambda ip: ip.run_line_magic("agent", "--list"),
    "sql-local": lambda ip: ip.run_line_magic("agent_sql", f"--quiet --engine local {SQL}"),
    "sql-warehouse": lambda ip: ip.run_line_magic(
        "agent_sql", f"--quiet --engine warehouse --warehouse {LOCAL_WAREHOUSE_ID} {SQL}"
    ),
}


def _env_token(ws: LocalWorkspace, mp: pytest.MonkeyPatch, dirty: Callable[[str], str], tmp: Path) -> tuple[str, str]:
    for name, value in ws.env(auth="pat").items():
        mp.setenv(name, value)
    mp.setenv("DATABRICKS_TOKEN", dirty(ws.token))
    return ws.token, "DATABRICKS_TOKEN"


def _env_client_secret(
    ws: LocalWorkspace, mp: pytest.MonkeyPatch, dirty: Callable[[str], str], tmp: Path
) -> tuple[str, str]:
    for name, value in ws.env(auth="oauth").items():
        mp.setenv(name, value)
    mp.setenv("DATABRICKS_CLIENT_SECRET", dirty(ws.client_secret))
    return ws.client_secret, "DATABRICKS_CLIENT_SECRET"


def _profile_token(
    ws: LocalWorkspace, mp: pytest.MonkeyPatch, dirty: Callable[[str], str], tmp: Path
) -> tuple[str, str]:
    for name in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        mp.delenv(name, raising=False)
    mp.delenv("DATABRICKS_AUTH_TYPE", raising=False)
    config = tmp / "databrickscfg"
    # configparser strips a trailing newline or tab itself; NUL and inner characters survive it
    config.write_text(f"[DEFAULT]\nhost = {ws.host}\ntoken = {dirty(ws.token)}\n")
    mp.setenv("DATABRICKS_CONFIG_FILE", str(config))
    return ws.token, "token"


SOURCES = {"env-token": _env_token, "env-client-secret": _env_client_secret, "profile-token": _profile_token}


def _combinations(variants: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, variant) pairs a real setup can produce: an environment variable cannot hold a NUL."""
    return [
        (source, variant)
        for source in SOURCES
        for variant in variants
        if not (source.startswith("env-") and "nul" in variant)
        and not (source.startswith("profile-") and variant == "inner-newline")  # no longer one INI value
    ]


def _run(ip: Any, surface: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    forget_workspaces()
    try:
        value = SURFACES[surface](ip)
    except UsageError as exc:
        return exc, capsys.readouterr().out
    captured = capsys.readouterr()
    return value, captured.out + captured.err


def _pieces(secret: str, size: int = 8) -> list[str]:
    return [secret[i : i + size] for i in range(0, len(secret) - size + 1, 4)]


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize(("source", "dirt"), _combinations(DIRT))
def test_stray_whitespace_is_stripped_on_every_surface(
    shell, local_workspace, monkeypatch, tmp_path, capsys, source, dirt, surface
):
    secret, _ = SOURCES[source](local_workspace, monkeypatch, DIRT[dirt], tmp_path)
    value, printed = _run(shell, surface, capsys)
    shown = f"{value!r} {value} {printed}"
    assert secret not in shown, f"{source} with a {dirt} printed in full on {surface}"
    assert not isinstance(value, Exception), f"{source} with a {dirt} failed on {surface}: {value}"
    if surface.startswith("agent-") and surface != "agent-list":
        assert value.ok and "MLflow" in value.text, value.error
    elif surface.startswith("sql-"):
        assert "MLflow" in value["answer"][0]
    else:
        assert any(row["target"] == "demo-agent" for row in value.rows)


@pytest.mark.parametrize(("source", "inner"), _combinations(INNER))
def test_an_inner_control_character_is_refused_by_name(
    shell, local_workspace, monkeypatch, tmp_path, capsys, source, inner
):
    secret, name = SOURCES[source](local_workspace, monkeypatch, INNER[inner], tmp_path)
    value, printed = _run(shell, "agent-rest", capsys)
    message = str(value.error if hasattr(value, "error") and value.error else value)
    assert isinstance(value, UsageError), f"{source} with an {inner} was not refused: {message}"
    assert name in message and "control character" in message, message
    assert not any(piece in message + printed for piece in _pieces(secret)), message


@pytest.fixture
def app_token(local_workspace) -> str:
    from databricks.sdk.config import Config

    config = Config(
        host=local_workspace.host,
        client_id=local_workspace.client_id,
        client_secret=local_workspace.client_secret,
        auth_type="oauth-m2m",
    )
    return str(config.oauth_token().access_token)


@pytest.mark.parametrize("via", ["rest", "client"])
@pytest.mark.parametrize("dirt", [d for d in DIRT if "nul" not in d])
def test_token_env_with_stray_whitespace(shell, local_workspace, monkeypatch, app_token, capsys, dirt, via):
    monkeypatch.setenv("MY_APP_TOKEN", DIRT[dirt](app_token))
    url = local_workspace.app_url("demo-app")
    result = shell.run_cell_magic("agent", f"{url} --via {via} --token-env MY_APP_TOKEN --quiet", "What is MLflow?")
    captured = capsys.readouterr()
    assert app_token not in f"{result!r} {result.error} {captured.out}{captured.err}"
    assert result.ok, result.error
    assert "MLflow" in result.text


@pytest.mark.parametrize("via", ["rest", "client"])
@pytest.mark.parametrize("inner", [i for i in INNER if "nul" not in i])
def test_token_env_with_an_inner_control_character(shell, local_workspace, monkeypatch, app_token, inner, via):
    monkeypatch.setenv("MY_APP_TOKEN", INNER[inner](app_token))
    url = local_workspace.app_url("demo-app")
    result = shell.run_cell_magic("agent", f"{url} --via {via} --token-env MY_APP_TOKEN --quiet", "What is MLflow?")
    assert result.status == "failed"
    assert re.search(r"\$MY_APP_TOKEN .*control character", result.error or ""), result.error
    assert not any(piece in (result.error or "") for piece in _pieces(app_token)), result.error


@pytest.mark.parametrize("dirt", list(DIRT))
def test_register_ai_query_token_is_cleaned_and_registered(dirt):
    from agent_magics.core import secrets
    from agent_magics.sql.spark_udf import _config_attributes

    token = "dapi" + "5" * 32
    attributes = _config_attributes(None, None, "https://example.invalid", DIRT[dirt](token))
    assert attributes["token"] == token and token in secrets.known()
    with pytest.raises(ValueError, match=r"register_ai_query\(token=\.\.\.\) holds a control character") as raised:
        _config_attributes(None, None, "https://example.invalid", INNER["inner-escape"](token))
    assert token[:12] not in str(raised.value)
