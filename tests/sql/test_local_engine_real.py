"""The local engine against the real local workspace: every interface, structs, faults, 1,000-row batches."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from agent_magics.core.errors import AgentError
from agent_magics.sql.invocations import WorkspaceInvoker
from agent_magics.sql.local_engine import LocalOptions, run_local

PAGE = (
    """SELECT ai_query("demo-agent", question) """
    """FROM (VALUES ('what is MLflow?'), ('how does MLflow work?')) AS t(question)"""
)


def test_page_example_gives_two_answered_rows(invoker):
    out = run_local(PAGE, {}, invoker)
    assert list(out.columns) == ["ai_query(demo-agent, question)"]
    answers = out.iloc[:, 0].tolist()
    assert len(answers) == 2 and all("MLflow" in a for a in answers)
    assert answers[0] != answers[1]


@pytest.mark.parametrize("endpoint", ["demo-agent", "demo-chat-agent", "demo-chat-model", "demo-llm"])
def test_string_request_to_every_interface_gives_the_answer_text(invoker, endpoint):
    out = run_local(f"SELECT ai_query('{endpoint}', 'What is MLflow?') AS a", {}, invoker)
    assert "MLflow" in out["a"][0] and not out["a"][0].startswith("{")


def test_struct_request_to_chat_agent_with_return_type(invoker):
    out = run_local(
        "SELECT ai_query('demo-chat-agent', named_struct('messages', array(named_struct('role', 'user', "
        "'content', q))), returnType => 'STRUCT<messages: ARRAY<STRUCT<role: STRING, content: STRING>>>')"
        ".messages AS m FROM (VALUES ('What is MLflow?')) AS t(q)",
        {},
        invoker,
    )
    messages = list(out["m"][0])
    assert messages[-1]["role"] == "assistant" and "MLflow" in messages[-1]["content"]


def test_struct_request_to_responses_agent_with_return_type(invoker):
    out = run_local(
        "SELECT ai_query('demo-agent', named_struct('input', array(named_struct('role', 'user', 'content', "
        "'What is MLflow?'))), returnType => 'STRUCT<output: ARRAY<STRUCT<type: STRING, "
        "content: ARRAY<STRUCT<type: STRING, text: STRING>>>>>') AS r",
        {},
        invoker,
    )
    output = list(out["r"][0]["output"])
    assert [item["type"] for item in output][-1] == "message"
    assert "MLflow" in output[-1]["content"][0]["text"]


def test_struct_request_without_return_type_is_the_reply_json_and_row_order_holds(invoker):
    df = pd.DataFrame({"i": range(40), "q": ["What is MLflow?"] * 40})
    out = run_local(
        "SELECT i, ai_query('demo-agent', named_struct('input', array(named_struct('role', 'user', 'content', q)), "
        "'custom_inputs', named_struct('row', i))) AS raw FROM df",
        {"df": df},
        invoker,
        LocalOptions(concurrency=8),
    )
    echoed = [json.loads(raw)["custom_outputs"]["echo"]["row"] for raw in out["raw"]]
    assert echoed == out["i"].tolist() == list(range(40))


def test_model_parameters_reach_a_chat_model(invoker):
    out = run_local(
        "SELECT ai_query('demo-chat-model', 'What is MLflow?', "
        "modelParameters => named_struct('temperature', 0.0, 'max_tokens', 64)) AS a",
        {},
        invoker,
    )
    assert "MLflow" in out["a"][0]


def test_custom_inputs_and_return_trace(invoker):
    out = run_local(
        "SELECT ai_query('demo-agent', named_struct('input', array(named_struct('role', 'user', 'content', q)))) "
        "AS raw FROM (VALUES ('What is MLflow?'), ('How do I pass custom inputs?')) AS t(q)",
        {},
        invoker,
        LocalOptions(custom_inputs={"id": 5}, return_trace=True),
    )
    assert [json.loads(r)["custom_outputs"]["echo"] for r in out["raw"]] == [{"id": 5}, {"id": 5}]
    for trace in out["trace"]:
        assert isinstance(trace, dict) and trace["info"]["trace_id"] and "spans" in trace["data"]


@pytest.mark.parametrize("endpoint", ["fault-429", "fault-503"])
def test_retried_faults_are_answered(invoker, endpoint):
    out = run_local(f"SELECT ai_query('{endpoint}', q) AS a FROM (VALUES ('one'), ('two')) AS t(q)", {}, invoker)
    assert all(isinstance(a, str) and a for a in out["a"])


def test_fault_500_fails_the_query_or_fills_error_message(invoker):
    with pytest.raises(AgentError, match=r"ai_query\('fault-500'\) failed on row 0 .*HTTP 500"):
        run_local("SELECT ai_query('fault-500', 'x') AS a", {}, invoker)
    out = run_local(
        "SELECT ai_query('fault-500', q, failOnError => false) AS r FROM (VALUES ('a'), ('b')) AS t(q)", {}, invoker
    )
    assert [r["result"] for r in out["r"]] == [None, None]
    assert all("HTTP 500" in r["errorMessage"] for r in out["r"])


def test_unknown_endpoint_is_one_clean_line(invoker):
    with pytest.raises(AgentError, match=r"ai_query endpoint 'no-such-agent'.*404") as info:
        run_local("SELECT ai_query('no-such-agent', 'x')", {}, invoker)
    assert "\n" not in str(info.value)


def flaky_questions(n: int = 1000) -> pd.DataFrame:
    return pd.DataFrame({"i": range(n), "q": [f"Question {i}: what is MLflow?" for i in range(n)]})


def test_thousand_flaky_rows_without_retries_keep_every_row(sql_workspace):
    no_retries = WorkspaceInvoker(sql_workspace, retries=0)
    out = run_local(
        "SELECT i, ai_query('flaky-agent', q, failOnError => false) AS r FROM df",
        {"df": flaky_questions()},
        no_retries,
        LocalOptions(concurrency=16),
    )
    assert out["i"].tolist() == list(range(1000))
    failed = [r for r in out["r"] if r["errorMessage"] is not None]
    answered = [r for r in out["r"] if r["result"] is not None]
    assert len(failed) + len(answered) == 1000
    assert 10 <= len(failed) <= 100  # ~5% injected 503s
    assert all("HTTP 503" in r["errorMessage"] for r in failed)


def test_thousand_flaky_rows_with_retries_are_all_answered(sql_workspace):
    retrying = WorkspaceInvoker(sql_workspace, retries=3, backoff=0.05)
    out = run_local(
        "SELECT i, ai_query('flaky-agent', q) AS a FROM df",
        {"df": flaky_questions()},
        retrying,
        LocalOptions(concurrency=16),
    )
    assert out["i"].tolist() == list(range(1000))
    assert out["a"].map(lambda a: isinstance(a, str) and "MLflow" in a).all()


STRUCT_REQUEST = "named_struct('input', array(named_struct('role', 'user', 'content', q)))"
THREE_ROWS = "FROM (VALUES ('What is MLflow?'), ('What is Databricks?'), ('What is a trace?')) AS t(q)"


@pytest.mark.parametrize("field_type", ["SMALLINT", "TINYINT", "DECIMAL(5,2)", "DECIMAL(9,0)"])
def test_a_typed_answer_too_big_for_its_type_is_that_rows_error(invoker, field_type):
    # created_at (epoch seconds, ~1.8e9) fits none of these: each row says so; the statement keeps every row.
    out = run_local(
        f"SELECT q, ai_query('demo-agent', {STRUCT_REQUEST}, returnType => 'STRUCT<created_at: {field_type}>', "
        f"failOnError => false) AS r {THREE_ROWS}",
        {},
        invoker,
    )
    assert len(out) == 3
    for struct in out["r"]:
        assert struct["result"] is None and "does not fit" in struct["errorMessage"], struct


def test_typed_answers_that_fit_are_kept(invoker):  # rounding: tests/sql/test_returntype_sizes.py
    out = run_local(
        f"SELECT ai_query('demo-agent', {STRUCT_REQUEST}, returnType => "
        f"'STRUCT<usage: STRUCT<output_tokens: TINYINT, total_tokens: DECIMAL>>') AS r {THREE_ROWS}",
        {},
        invoker,
    )
    for struct in out["r"]:
        usage = struct["usage"]
        assert 0 < usage["output_tokens"] <= 127 and usage["total_tokens"] == int(usage["total_tokens"]), usage
