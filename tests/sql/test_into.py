"""--into TABLE: CREATE TABLE ... AS on the warehouse (the local workspace's Statement Execution API), the
table name checked as an identifier, the local engine's refusal."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from test_magics import point_at

from agent_magics.core.errors import AgentUsageError
from agent_magics.magic.agent_sql import AgentSqlMagics
from agent_magics.sql.execute import run_sql
from agent_magics.sql.into import check_table_name, create_statement, failed_condition
from agent_magics.sql.warehouse_engine import run_warehouse
from agent_magics.transport.embedded_config import LOCAL_WAREHOUSE_ID
from agent_magics.transport.workspace import forget_workspaces

QUESTIONS = "FROM (VALUES ('what is MLflow?'), ('how does MLflow work?'), ('what is a trace?')) AS t(q)"


@pytest.mark.parametrize(
    "name", ["answers", "main.default.answers", "`my-catalog`.default.`odd``name`", "a_1.B_2.c3", "`2024`.x"]
)
def test_table_names_that_are_identifiers(name):
    assert check_table_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "answers; DROP TABLE x",
        "a.b.c.d",
        "answers--",
        "a b",
        "`unclosed",
        "`a`b`",
        "a.",
        "answers AS SELECT 1",
        "x`; DROP TABLE y; --`",
        "1e5",
        "main.default.10L",
    ],
)
def test_anything_else_is_refused_before_any_statement(name):
    with pytest.raises(AgentUsageError, match=r"^--into .* is not a table name"):
        create_statement(name, "SELECT 1")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab_1.`;'\" -()/*\n"), max_size=24))
def test_an_accepted_name_is_one_table_never_more_sql(name):
    """Whatever text --into gets: refused, or a CTAS that parses as one CREATE of one table named by it."""
    import sqlglot
    from sqlglot import exp

    try:
        statement = create_statement(name, "SELECT 1 AS x")
    except AgentUsageError:
        return
    trees = sqlglot.parse(statement, read="databricks")
    assert len(trees) == 1 and isinstance(trees[0], exp.Create)
    target = trees[0].this
    assert isinstance(target, exp.Table) and len(target.parts) == name.count(".") - _quoted_dots(name) + 1


def _quoted_dots(name: str) -> int:
    inside, dots = False, 0
    for char in name:
        if char == "`":
            inside = not inside
        elif char == "." and inside:
            dots += 1
    return dots


def test_into_takes_one_query():
    assert create_statement("t", "SELECT 1 ;\n") == "CREATE TABLE t AS SELECT 1"
    assert create_statement("t", "SELECT ';' AS s").endswith("SELECT ';' AS s")
    for sql in ("DROP TABLE x", "SELECT 1; DROP TABLE x", "INSERT INTO y SELECT 1"):
        with pytest.raises(AgentUsageError, match="--into takes one query"):
            create_statement("t", sql)


def test_failed_rows_are_read_from_error_struct_columns():
    import pandas as pd

    described = pd.DataFrame(
        {
            "col_name": ["q", "r", "s", "# Partition Information"],
            "data_type": ["string", "struct<result:string,errorMessage:string>", "struct<a:int>", None],
        }
    )
    assert failed_condition(described) == "`r`.errorMessage IS NOT NULL"
    assert failed_condition(described.iloc[[0, 2]]) is None


@pytest.mark.parametrize(
    ("dtype", "fails"),
    [
        ("struct<info:struct<errorMessage:string>>", False),  # nested: `meta`.errorMessage would not resolve
        ("struct<a:decimal(10,2),`errorMessage`:string>", True),
        ("STRUCT<result: STRING, errorMessage: STRING>", True),
        ("array<struct<errorMessage:string>>", False),
        ("struct<result:map<string,struct<errorMessage:int>>,n:int>", False),
    ],
)
def test_only_a_top_level_error_field_counts(dtype, fails):
    import pandas as pd

    described = pd.DataFrame({"col_name": ["meta"], "data_type": [dtype]})
    assert (failed_condition(described) == "`meta`.errorMessage IS NOT NULL") is fails


def test_warehouse_writes_the_table_and_returns_a_summary(warehouse_client, statement_server, monkeypatch):
    url, _ = statement_server
    point_at(monkeypatch, {"DATABRICKS_HOST": url, "DATABRICKS_TOKEN": "dapi-test", "DATABRICKS_AUTH_TYPE": "pat"})
    table = f"main.default.answers_{uuid.uuid4().hex[:8]}"
    sql = f"SELECT q, ai_query('demo-agent', q) AS a, ai_query('fault-500', q, failOnError => false) AS r {QUESTIONS}"
    summary = run_sql(sql, {}, engine="warehouse", warehouse=LOCAL_WAREHOUSE_ID, into=table, progress="none")
    assert summary.to_dict("records") == [{"table": table, "engine": "warehouse", "rows_written": 3, "failed_rows": 3}]
    # the answers are in the warehouse's table, read back by a later statement (as a user would)
    back = run_warehouse(
        f"SELECT q, a, r.errorMessage AS e FROM {table} ORDER BY q", warehouse_client, LOCAL_WAREHOUSE_ID
    )
    assert len(back) == 3 and all("MLflow" in a or "trace" in a.lower() for a in back["a"])
    assert all("HTTP 500" in e for e in back["e"])
    with pytest.raises(Exception, match="TABLE_OR_VIEW_ALREADY_EXISTS"):  # CTAS never overwrites
        run_sql("SELECT 1 AS x", {}, engine="warehouse", warehouse=LOCAL_WAREHOUSE_ID, into=table, progress="none")
    forget_workspaces()


def test_through_the_magic_with_no_failures_and_a_parameter(statement_server, monkeypatch):
    url, _ = statement_server
    point_at(monkeypatch, {"DATABRICKS_HOST": url, "DATABRICKS_TOKEN": "dapi-test", "DATABRICKS_AUTH_TYPE": "pat"})
    ip = InteractiveShell.instance()
    ip.register_magics(AgentSqlMagics)
    ip.user_ns["topic"] = "MLflow"
    table = f"`answers-{uuid.uuid4().hex[:8]}`"
    summary = ip.run_cell_magic(
        "agent_sql",
        f"--quiet --engine warehouse --warehouse {LOCAL_WAREHOUSE_ID} --into {table} --out s",
        "SELECT id, ai_query('demo-agent', concat('what is ', '{topic}')) AS a FROM range(4) AS r(id)",
    )
    assert ip.user_ns["s"] is summary
    assert summary[["rows_written", "failed_rows"]].iloc[0].tolist() == [4, 0]
    forget_workspaces()


def test_the_local_engine_says_to_use_out(local_workspace, monkeypatch):
    point_at(monkeypatch, local_workspace.env(auth="oauth"))
    ip = InteractiveShell.instance()
    ip.register_magics(AgentSqlMagics)
    with pytest.raises(UsageError, match=r"--into writes a table on a SQL warehouse or Spark .* use --out NAME"):
        ip.run_line_magic("agent_sql", "--engine local --into answers SELECT 1 AS x")
    with pytest.raises(UsageError, match="is not a table name"):
        ip.run_line_magic("agent_sql", "--engine warehouse --into 'a;b' SELECT 1 AS x")
    forget_workspaces()
