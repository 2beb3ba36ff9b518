"""Databricks SQL -> DuckDB: the page's example, named arguments, literals, named_struct, VALUES."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_magics.core.errors import AgentUsageError
from agent_magics.sql.returntype import CoercionError, parse_return_type
from agent_magics.sql.transpile import transpile

PAGE = (
    """SELECT ai_query("demo-agent", question) """
    """FROM (VALUES ('what is MLflow?'), ('how does MLflow work?')) AS t(question)"""
)


def run_with_echo(duck_sql: str, functions: list[str]) -> list[tuple]:
    """Run transpiled SQL on DuckDB with each ai_query UDF replaced by 'echo the request JSON'."""
    con = duckdb.connect()
    for name in functions:
        con.create_function(name, lambda x: x, [duckdb.sqltype("VARCHAR")], duckdb.sqltype("VARCHAR"))
    return con.execute(duck_sql).fetchall()


def test_page_example_double_quoted_literal_is_the_endpoint():
    plan = transpile(PAGE)
    assert [c.endpoint for c in plan.calls] == ["demo-agent"]
    assert plan.calls[0].fail_on_error and plan.calls[0].return_type is None
    rows = run_with_echo(plan.sql, [plan.calls[0].function])
    assert rows == [('"what is MLflow?"',), ('"how does MLflow work?"',)]  # the request reaches us as JSON
    assert "ai_query(demo-agent, question)" in plan.sql  # Databricks' own column name


def test_named_arguments_are_read_not_sent():
    plan = transpile(
        "SELECT ai_query('ep', q, returnType => 'STRUCT<a: INT>', failOnError => false, "
        "modelParameters => named_struct('temperature', 0.5, 'max_tokens', 100, 'stop', array('x')), "
        'responseFormat => \'{"type": "json_object"}\') AS r FROM df'
    )
    call = plan.calls[0]
    assert call.return_type is not None and call.return_type.duckdb == "STRUCT(a INT)"
    assert call.fail_on_error is False
    assert call.model_parameters == {"temperature": 0.5, "max_tokens": 100, "stop": ["x"]}
    assert call.response_format == '{"type": "json_object"}'
    assert plan.tables == ["df"]
    assert "=>" not in plan.sql and "returnType" not in plan.sql


def test_positional_return_type_and_fail_on_error():
    call = transpile("SELECT ai_query('ep', q, 'STRING', false) FROM df").calls[0]
    assert call.return_type is not None and call.return_type.is_string and call.fail_on_error is False


def test_named_endpoint_and_request():
    call = transpile("SELECT ai_query(endpoint => 'ep', request => q) AS a FROM df").calls[0]
    assert call.endpoint == "ep" and call.request_sql == "q"


def test_named_struct_request_becomes_a_json_object():
    plan = transpile(
        "SELECT ai_query('ep', named_struct('messages', array(named_struct('role', 'user', "
        "'content', q)))) AS a FROM (VALUES ('hi')) AS t(q)"
    )
    assert run_with_echo(plan.sql, [plan.calls[0].function]) == [('{"messages":[{"role":"user","content":"hi"}]}',)]


def test_values_as_t_col_and_double_quoted_strings_elsewhere():
    plan = transpile("""SELECT concat("a", col) AS x FROM (VALUES ("b"), ('c')) AS t(col)""")
    assert duckdb.connect().execute(plan.sql).fetchall() == [("ab",), ("ac",)]
    assert plan.calls == []


def test_backticks_are_identifiers_and_field_access_works():
    plan = transpile("SELECT ai_query('ep', `my q`) AS a, `my q` FROM df")
    assert '"my q"' in plan.sql
    plan = transpile("SELECT ai_query('ep', q, returnType => 'STRUCT<m: STRING>').m AS m FROM df")
    assert plan.sql.endswith(".m AS m FROM df")


def test_several_and_nested_calls_get_their_own_functions():
    plan = transpile("SELECT ai_query('a', q) AS x, ai_query('b', ai_query('c', q)) AS y FROM df")
    assert sorted(c.endpoint for c in plan.calls) == ["a", "b", "c"]
    assert len({c.function for c in plan.calls}) == 3
    assert "ai_query" not in plan.sql.replace("__AI_QUERY_", "").replace("__ai_query_", "").lower().replace(
        "ai_query(", ""
    )


def test_named_parameter_becomes_duckdb_parameter():
    plan = transpile("SELECT ai_query('ep', :q) AS a")
    assert "$q" in plan.sql


def test_return_trace_adds_a_trace_column_after_the_users_columns():
    plan = transpile("SELECT q, ai_query('ep', q) AS a FROM df", return_trace=True)
    assert plan.trace_columns == ["trace"]
    assert plan.sql.index(plan.calls[0].function.upper()) < plan.sql.index(plan.calls[0].trace_function.upper())
    with pytest.raises(AgentUsageError, match="outermost SELECT"):
        transpile("SELECT * FROM (SELECT ai_query('ep', q) AS a FROM df)", return_trace=True)


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC ai_query('ep', q)", "SQL syntax error"),
        ("SELECT 1; SELECT 2", "one statement per cell"),
        ("", "no SQL"),
        ("SELECT ai_query(ep, q) FROM df", "string literal"),
        ("SELECT ai_query('ep') FROM df", "endpoint and a request"),
        ("SELECT ai_query('ep', q, temperature => 1) FROM df", "unknown argument"),
        ("SELECT ai_query('ep', q, failOnError => 'no') FROM df", "true or false"),
        ("SELECT ai_query('ep', q, returnType => 'NOT A TYPE<') FROM df", "returnType"),
        ("SELECT ai_query('ep', q, modelParameters => named_struct('t', q)) FROM df", "not a constant"),
        ("SELECT ai_query('ep', q, files => f) FROM df", "files"),
        ("SELECT ai_query('a', q, 'STRING', true, 5) FROM df", "at most 4 positional"),
    ],
)
def test_mistakes_are_one_clean_line(sql, message):
    with pytest.raises(AgentUsageError, match=message) as info:
        transpile(sql)
    assert "\n" not in str(info.value)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("SELECT ai_query(,)'\"=> FROMVALUES:;.{}[]`aq1-")), max_size=60))
def test_transpile_raises_only_clean_errors(text):
    try:
        transpile(text)
    except AgentUsageError:
        pass


def test_return_type_forms_and_coercion():
    assert parse_return_type("a INT, b STRING").duckdb == "STRUCT(a INT, b TEXT)"
    chat = parse_return_type("STRUCT<messages: ARRAY<STRUCT<content: STRING, role: STRING>>, n: BIGINT>")
    value = chat.coerce({"messages": [{"content": "hi", "role": "assistant", "extra": 1}], "N": "3"})
    assert value == {"messages": [{"content": "hi", "role": "assistant"}], "n": 3}
    assert chat.coerce({"other": 1}) == {"messages": None, "n": None}  # missing fields are NULL
    with pytest.raises(CoercionError, match=r"\$\.n: expected an integer"):
        chat.coerce({"n": "many"})
    typed = parse_return_type("STRUCT<d: DATE, t: TIMESTAMP, ok: BOOLEAN, x: DOUBLE, m: MAP<STRING, INT>, j: STRING>")
    out = typed.coerce(
        {"d": "2024-01-02", "t": "2024-01-02T03:04:05Z", "ok": "true", "x": 1, "m": {"a": 1}, "j": {"nested": True}}
    )
    assert str(out["d"]) == "2024-01-02" and out["t"].tzinfo is not None and out["ok"] is True
    assert out["x"] == 1.0 and out["m"] == [("a", 1)] and out["j"] == '{"nested": true}'


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT id FROM range(3)", [(0,), (1,), (2,)]),
        ("SELECT r.id * 2 FROM range(1, 7, 2, 4) AS r ORDER BY 1", [(2,), (6,), (10,)]),  # numPartitions dropped
        ("SELECT range.id FROM range(2)", [(0,), (1,)]),  # Databricks' default table alias
        ("SELECT count(*) FROM range(4) a JOIN range(2) b ON a.id > b.id", [(5,)]),
    ],
)
def test_range_names_its_column_id_as_on_databricks(sql, expected):
    plan = transpile(sql)
    assert duckdb.sql(plan.sql).fetchall() == expected
    assert plan.tables == []  # range(...) is no DataFrame to look up in the notebook
