"""``{name}`` in ``%agent_sql`` is a value, never SQL: whatever a notebook variable holds (quotes,
``'||``, a ``read_text(...)`` subquery an agent wrote) comes back as the same value, on the local
engine and on the warehouse engine (Statement Execution parameters, over HTTP), and the local
DuckDB engine cannot reach files, the network or extensions whatever the SQL says.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from agent_magics.transport.embedded_config import LOCAL_WAREHOUSE_ID

HOSTILE = [
    "What's MLflow?",
    "x' || (SELECT content FROM read_text('~/.databrickscfg')) || '",
    "'; DROP TABLE questions; --",
    '" OR 1=1 --',
    "\\' || version() || '",
    "{not_a_name}",
    "$1 :x ? $x",
    "*/ SELECT 1 /*",
    "line\nbreak\ttab",
    "back\\slash",
    "",
]
VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    st.builds(
        lambda a, b: f"{a}' || {b} || '",
        st.sampled_from(["x", "read_text('/etc/passwd')"]),
        st.text(max_size=8).filter(lambda s: "\x00" not in s),
    ),
)
ENGINES = {
    "local": "--engine local",
    "warehouse": f"--engine warehouse --warehouse {LOCAL_WAREHOUSE_ID}",
}


def _select(ip, engine: str, sql: str):
    return ip.run_cell_magic("agent_sql", f"--quiet {ENGINES[engine]}", sql)


@pytest.mark.parametrize("engine", list(ENGINES))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUES)
def test_an_interpolated_value_comes_back_unchanged(shell, engine, value):
    shell.user_ns["v"] = value
    frame = _select(shell, engine, "SELECT {v} AS bare, '{v}' AS quoted, 'say: {v}!' AS mixed, length({v}) AS n")
    row = frame.iloc[0]
    assert (row["bare"], row["quoted"], row["mixed"]) == (value, value, f"say: {value}!")
    assert int(row["n"]) == len(value)


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_in_an_ai_query_prompt(shell, engine, value):
    """The page's pattern: a question from the notebook in the prompt; it reaches the agent as text."""
    shell.user_ns["question"] = value
    frame = _select(shell, engine, "SELECT '{question}' AS q, ai_query('demo-agent', 'Answer: {question}') AS a")
    assert frame["q"][0] == value
    assert isinstance(frame["a"][0], str) and frame["a"][0]


def test_numbers_stay_numbers_and_braces_escape(shell):
    shell.user_ns.update(n=2, ratio=0.5, flag=True, endpoint="demo-agent")
    frame = _select(
        shell, "local", "SELECT {n} + 1 AS n, {ratio} * 2 AS r, {flag} AS f, '{{literal}}' AS b FROM range(5) LIMIT {n}"
    )
    assert frame["n"].tolist() == [3, 3] and frame["r"][0] == 1.0 and bool(frame["f"][0]) is True
    assert frame["b"][0] == "{literal}"
    answer = _select(shell, "local", "SELECT ai_query('{endpoint}', 'What is MLflow?') AS a")
    assert "MLflow" in answer["a"][0]  # a constant argument from a parameter is read as a value


@pytest.mark.parametrize("engine", list(ENGINES))
def test_missing_values_are_null_and_a_dict_is_its_json(shell, engine):
    import json

    import pandas as pd

    shell.user_ns.update(na=pd.NA, nat=pd.NaT, body={"messages": [{"role": "user", "content": "it's"}]}, items=[1, "a"])
    frame = _select(shell, engine, "SELECT {na} IS NULL AS na, {nat} IS NULL AS nat, {body} AS body, {items} AS items")
    row = frame.iloc[0]
    assert bool(row["na"]) and bool(row["nat"])
    assert json.loads(row["body"]) == shell.user_ns["body"] and json.loads(row["items"]) == [1, "a"]


# Each reaches DuckDB (the SQL parses) and is refused there: by the disabled external access, or by
# the locked configuration when the SQL tries to turn it back on.
EXTERNAL = [
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_json_auto('/etc/hostname')",
    "SELECT * FROM read_ndjson('/etc/hostname')",
    "SELECT * FROM read_parquet('/tmp/x.parquet')",
    "SELECT * FROM read_csv('https://example.com/x.csv')",
    "COPY (SELECT 1) TO '/tmp/agent_magics_copy.csv'",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
]
REFUSED = ("Permission Error", "the configuration has been locked")


@pytest.mark.parametrize("sql", EXTERNAL)
def test_the_local_engine_refuses_external_access(shell, sql):
    with pytest.raises(UsageError) as raised:
        _select(shell, "local", sql)
    message = str(raised.value)
    assert any(reason in message for reason in REFUSED), message
    assert "\n" not in message


def test_dataframes_and_ai_query_still_work_with_external_access_off(shell):
    shell.user_ns["questions"] = pd.DataFrame({"q": ["What is MLflow?", "What is a ResponsesAgent?"]})
    frame = _select(shell, "local", "SELECT q, ai_query('demo-agent', q) AS a FROM questions")
    assert len(frame) == 2 and all("MLflow" in a or "Responses" in a for a in frame["a"])


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_literal_with_a_value_reads_its_escapes_as_databricks_does(shell, engine):
    """The literal around {x} becomes one STRING parameter: its text must be what Databricks reads."""
    shell.user_ns["x"] = "V"
    sql = (
        r"SELECT 'caf\u00e9 {x}' AS accent, '50\% {x}' AS percent, 'a\tb {x}' AS tab, "
        r"r'C:\dir\{x}' AS raw_path, 'x\101 {x}' AS octal"
    )
    row = _select(shell, engine, sql).iloc[0]
    assert row["accent"] == "café V"
    assert row["percent"] == "50\\% V"  # kept for LIKE, as Databricks keeps it
    assert row["tab"] == "a\tb V"
    assert row["raw_path"] == "C:\\dir\\V"  # a raw literal: no escapes
    assert row["octal"] == "xA V"


def test_a_raw_literal_beside_another_keeps_both(shell):
    shell.user_ns["x"] = "V"
    row = _select(shell, "local", r"SELECT r'C:\' AS p, '{x}' AS q").iloc[0]
    assert (row["p"], row["q"]) == ("C:\\", "V")
