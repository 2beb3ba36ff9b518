"""%agent_sql option parsing: options first, SQL as typed; only clean errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_magics.core.errors import AgentUsageError
from agent_magics.magic.errors import HelpShown
from agent_magics.magic.sql_command import parse_cell, parse_line


def test_options_then_sql_with_quotes_kept_verbatim():
    command = parse_line("""--engine local --concurrency 16 --out df SELECT ai_query("demo-agent", 'it''s') AS a""", {})
    assert command.sql == """SELECT ai_query("demo-agent", 'it''s') AS a"""
    assert command.options.engine == "local" and command.options.concurrency == 16 and command.out == "df"


def test_both_help_pages_list_the_shared_options_with_their_own_result():
    from agent_magics.magic import command, sql_command

    agent = " ".join(command.help_text().split())
    sql = " ".join(sql_command.help_text().split())
    assert "--out NAME store the AgentResult (AgentComparison for several targets) in this variable" in agent
    assert "--quiet no display, not even Out[]; the result is still returned" in agent
    assert "--out NAME store the DataFrame in this variable" in sql
    assert "--quiet no progress display; the result is still returned" in sql
    assert "--debug show full tracebacks" in agent and "--debug show full tracebacks" in sql


def test_double_dash_ends_options():
    command = parse_line("--quiet -- -- a SQL comment\nSELECT 1", {})
    assert command.sql == "-- a SQL comment\nSELECT 1" and command.options.progress == "none"


def test_cell_options_and_custom_inputs_from_a_variable():
    command = parse_cell("--custom-inputs ids --return-trace --stream --timeout 30", "SELECT 1", {"ids": {"id": 5}})
    options = command.options
    assert options.custom_inputs == {"id": 5} and options.return_trace and options.stream and options.timeout == 30


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("--timeout 0 SELECT 1", "--timeout must be a positive"),
        ("--retries -1 SELECT 1", "--retries must be 0 or more"),
        ("--out 1x SELECT 1", "not a valid Python variable name"),
        ("--custom-inputs nothing SELECT 1", "no variable named 'nothing'"),
        ("--concurrency many SELECT 1", "invalid int value"),
    ],
)
def test_bad_options(line, fragment):
    with pytest.raises(AgentUsageError, match=fragment):
        parse_line(line, {})


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("- abcdefghijklmnopqrstuvwxyz0123456789'\"={}:")), max_size=60))
def test_parsing_raises_only_clean_errors(line):
    try:
        parse_line(line, {})
    except (AgentUsageError, HelpShown):
        pass
