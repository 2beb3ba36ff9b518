"""%agent_sql / %%agent_sql in a real InteractiveShell against the local workspace."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from agent_magics.magic.agent_sql import AgentSqlMagics
from agent_magics.transport.embedded_config import LOCAL_WAREHOUSE_ID
from agent_magics.transport.workspace import forget_workspaces

PAGE = (
    """SELECT ai_query("demo-agent", question) """
    """FROM (VALUES ('what is MLflow?'), ('how does MLflow work?')) AS t(question)"""
)


def point_at(monkeypatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    forget_workspaces()


@pytest.fixture
def shell(local_workspace, monkeypatch):
    point_at(monkeypatch, local_workspace.env(auth="oauth"))
    ip = InteractiveShell.instance()
    ip.register_magics(AgentSqlMagics)
    yield ip
    forget_workspaces()


def test_page_example_as_written(shell, capsys):
    frame = shell.run_line_magic("agent_sql", PAGE)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 2
    assert all("MLflow" in answer for answer in frame.iloc[:, 0])
    assert "ai_query: 2/2 rows · 0 errors" in capsys.readouterr().out  # the text progress line


def test_cell_magic_reads_dataframes_interpolates_and_stores_out(shell):
    shell.user_ns["questions"] = pd.DataFrame({"q": ["What is MLflow?", "What is a ResponsesAgent?"]})
    shell.user_ns["endpoint"] = "demo-chat-agent"
    frame = shell.run_cell_magic(
        "agent_sql",
        "--out answers --concurrency 2 --quiet",
        "SELECT q, ai_query('{endpoint}', q) AS answer\nFROM questions",
    )
    assert shell.user_ns["answers"] is frame
    assert frame["q"].tolist() == ["What is MLflow?", "What is a ResponsesAgent?"]
    assert all(isinstance(a, str) and a for a in frame["answer"])


def test_line_options_then_sql_with_quotes(shell):
    frame = shell.run_line_magic(
        "agent_sql",
        "--quiet --custom-inputs '{\"id\": 5}' --return-trace "
        "SELECT ai_query('demo-agent', named_struct('input', array(named_struct('role', 'user', 'content', "
        '"What\'s MLflow?")))) AS raw',
    )
    assert '"echo": {"id": 5}' in frame["raw"][0]
    assert isinstance(frame["trace"][0], dict) and frame["trace"][0]["info"]["trace_id"]


def test_stream_prints_rows_as_they_finish(shell, capsys):
    shell.run_line_magic("agent_sql", "--stream " + PAGE)
    out = capsys.readouterr().out
    assert "[row 0] what is MLflow? -> " in out and "[row 1] how does MLflow work? -> " in out


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("SELEC ai_query('demo-agent', 'x')", "SQL syntax error"),
        ("--concurrency 0 SELECT 1", "--concurrency must be between 1 and 256"),
        ("--engine lakehouse SELECT 1", "invalid choice: 'lakehouse'"),
        ("--bogus SELECT 1", "unrecognized arguments: --bogus"),
        ("--custom-inputs '{bad' SELECT 1", "--custom-inputs: not valid JSON"),
        ("SELECT ai_query('no-such-agent', 'x')", "ai_query endpoint 'no-such-agent'"),
        ("SELECT * FROM missing_frame", "no DataFrame named missing_frame"),
        ("", "no SQL"),
        ("--engine warehouse --return-trace SELECT 1", "--return-trace: the warehouse engine cannot return traces"),
        ("--engine spark --custom-inputs '{\"a\": 1}' SELECT 1", "--custom-inputs: the spark engine"),
    ],
)
def test_mistakes_are_one_clean_line(shell, line, fragment):
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("agent_sql", "--quiet " + line if line else line)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_run_cell_shows_no_traceback(shell, capsys):
    result = shell.run_cell("%agent_sql SELEC 1")
    assert isinstance(result.error_in_exec, UsageError)
    captured = capsys.readouterr()
    assert "SQL syntax error" in captured.out + captured.err and "Traceback" not in captured.out + captured.err


def test_timeout_returns_what_finished(shell, capsys):
    frame = shell.run_line_magic(
        "agent_sql",
        "--quiet --timeout 1 --concurrency 2 SELECT ai_query('bench-agent', named_struct('input', "
        "array(named_struct('role', 'user', 'content', 'x')), 'custom_inputs', named_struct('first_token_delay', "
        "0.3, 'tokens', 2))) AS a FROM range(40)",
    )
    assert "agent_sql: interrupted · timed out after 1 s" in capsys.readouterr().err
    # the query's own column and rows; the unanswered ones NULL, and the frame says it did not complete
    assert list(frame.columns) == ["a"] and len(frame) == 40 and 0 < frame["a"].notna().sum() < 40
    assert frame.attrs["agent_sql_status"] == "interrupted" and frame.attrs["agent_sql_unanswered"] > 0


def test_a_remote_failure_is_a_failed_result_like_agent(shell, capsys):
    """As %%agent reports a failed answer: one line, no exception (Run All goes on), what finished kept."""
    shell.user_ns["qs"] = pd.DataFrame({"q": ["What is MLflow?"]})
    result = shell.run_cell(
        "%agent_sql --quiet --out got "
        "SELECT q, ai_query('demo-agent', q) AS good, ai_query('fault-500', q) AS bad FROM qs"
    )
    assert result.error_in_exec is None and result.success
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("agent_sql: failed · ai_query('fault-500') failed on row 0")
    frame = shell.user_ns["got"]
    assert list(frame.columns) == ["q", "good", "bad"] and frame.attrs["agent_sql_status"] == "failed"
    assert frame["bad"].isna().all() and "HTTP 500" in frame.attrs["agent_sql_error"]


def test_fail_on_error_false_keeps_structs_and_shows_them_readably(shell):
    shell.user_ns["qs"] = pd.DataFrame({"q": ["What is MLflow?"]})
    frame = shell.run_line_magic(
        "agent_sql",
        "--quiet SELECT q, ai_query('demo-agent', q, failOnError => false) AS ok, "
        "ai_query('fault-500', q, failOnError => false) AS bad FROM qs",
    )
    ok, bad = frame["ok"][0], frame["bad"][0]
    assert isinstance(ok, dict) and "MLflow" in ok["result"] and ok["errorMessage"] is None  # the data: structs
    assert bad["result"] is None and "HTTP 500" in bad["errorMessage"]
    for shown in (repr(frame), frame._repr_html_()):
        assert "{'result'" not in shown and "errorMessage: fault-500: HTTP 500" in shown
    assert ok["result"][:40] in frame._repr_html_()  # the answer itself, where dict reprs were
    assert type(frame[["ok"]]) is pd.DataFrame  # derived frames are plain


def test_warehouse_engine_through_the_magic(statement_server, monkeypatch):
    url, _ = statement_server
    point_at(monkeypatch, {"DATABRICKS_HOST": url, "DATABRICKS_TOKEN": "dapi-test", "DATABRICKS_AUTH_TYPE": "pat"})
    ip = InteractiveShell.instance()
    ip.register_magics(AgentSqlMagics)
    frame = ip.run_line_magic("agent_sql", f"--quiet --engine warehouse --warehouse {LOCAL_WAREHOUSE_ID} {PAGE}")
    assert len(frame) == 2 and all("MLflow" in a for a in frame.iloc[:, 0])
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", LOCAL_WAREHOUSE_ID)  # auto picks the configured warehouse
    frame = ip.run_line_magic("agent_sql", "--quiet SELECT id, named_struct('a', id) AS s FROM range(9) AS r(id)")
    assert frame["s"].tolist()[8] == {"a": 8}
    forget_workspaces()


class FakeSpark:
    def __init__(self):
        self.seen = []

    def sql(self, text):
        self.seen.append(text)
        frame = pd.DataFrame({"answer": ["from spark"]})
        return type("Result", (), {"toPandas": lambda self: frame})()


def test_spark_engine_uses_the_notebooks_session(shell, monkeypatch):
    spark = FakeSpark()
    shell.user_ns["spark"] = spark
    frame = shell.run_line_magic("agent_sql", "--quiet --engine spark " + PAGE)
    assert frame["answer"].tolist() == ["from spark"] and spark.seen == [PAGE]  # the SQL goes as written
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")  # inside Databricks, auto picks Spark
    shell.run_line_magic("agent_sql", "--quiet " + PAGE)
    assert len(spark.seen) == 2
    del shell.user_ns["spark"]


def test_help_prints_and_returns_nothing(shell, capsys):
    assert shell.run_line_magic("agent_sql", "--help") is None
    assert "--engine {auto,local,warehouse,spark}" in capsys.readouterr().out


def test_a_real_interrupt_cancels_and_returns_what_finished(shell, capsys):
    """SIGINT (what Kernel > Interrupt sends) while the batch runs: queued rows dropped, finished ones kept."""
    import signal
    import threading
    import time

    # warm up (imports, the endpoint's interface), so the signal surely lands while the batch runs
    shell.run_line_magic("agent_sql", "--quiet SELECT ai_query('bench-agent', 'warm up') AS a")
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    try:
        frame = shell.run_line_magic(
            "agent_sql",
            "--quiet --concurrency 4 SELECT ai_query('bench-agent', named_struct('input', array("
            "named_struct('role', 'user', 'content', concat('q', id))), 'custom_inputs', named_struct("
            "'first_token_delay', 0.2, 'tokens', 2))) AS a FROM range(200) AS r(id)",
        )
    finally:
        timer.cancel()
    assert time.monotonic() - started < 6  # 200 rows would take ~10 s
    err = capsys.readouterr().err
    assert "agent_sql: interrupted: " in err and "cancelled" in err
    assert list(frame.columns) == ["a"] and len(frame) == 200 and 0 < frame["a"].notna().sum() < 200
