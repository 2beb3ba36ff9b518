"""``--into TABLE``: the answers written where they were computed, with ``CREATE TABLE ... AS <query>``.

On a SQL warehouse or Spark the rows never come back to the notebook (no ``toPandas()``, no 25 MiB
INLINE result limit): the engine runs the CTAS, then two small statements read the table's schema
(``DESCRIBE TABLE``) and count its rows and its failed rows (a ``failOnError => false`` column is a
struct with an ``errorMessage`` field; a row failed when one of those is not NULL). The caller gets a
one-row summary DataFrame.

The table name is an identifier, which no engine can bind as a parameter, so it is checked strictly:
one to three dot-separated parts, each ``[A-Za-z_][A-Za-z0-9_]*`` or backtick-quoted (a backtick inside is
doubled, as Databricks SQL writes it). Anything else is refused before any statement runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from agent_magics.core.errors import AgentUsageError

# Unquoted parts start with a letter or _: Spark reads `1e5`, `10L`, `2D` as numbers, not names.
_PART = r"(?:[A-Za-z_][A-Za-z0-9_]*|`(?:[^`\r\n]|``)+`)"
_TABLE = re.compile(rf"{_PART}(?:\.{_PART}){{0,2}}")
_QUERY_START = re.compile(r"\s*(?:\(\s*)*(?:SELECT|WITH|VALUES|FROM|TABLE)\b", re.IGNORECASE)


def check_table_name(name: str) -> str:
    """``name`` if it is a table identifier (see the module docstring), else a one-line usage error."""
    if not isinstance(name, str) or not _TABLE.fullmatch(name):
        raise AgentUsageError(
            f"--into {name!r} is not a table name: write catalog.schema.table, each part letters, digits and _ "
            "(not starting with a digit), or quote a part in backticks (`my-table`)."
        )
    return name


def create_statement(table: str, sql: str) -> str:
    """``CREATE TABLE <table> AS <sql>``; ``sql`` must be one query (a trailing ``;`` is dropped)."""
    query = sql.strip().rstrip(";").rstrip()
    if not _QUERY_START.match(query) or ";" in _outside_quotes(query):
        raise AgentUsageError("--into takes one query (SELECT / WITH / VALUES ...), written as it would run.")
    return f"CREATE TABLE {check_table_name(table)} AS {query}"


def _outside_quotes(sql: str) -> str:
    """``sql`` without its quoted strings and identifiers: what a ``;`` there would mean."""
    return re.sub(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`]|``)*`", "", sql)


def failed_condition(described: Any) -> str | None:
    """SQL true for a row with an ai_query error, from ``DESCRIBE TABLE`` rows; None when no column can fail."""
    checks = []
    for name, dtype in zip(described.iloc[:, 0], described.iloc[:, 1], strict=False):
        if not isinstance(name, str) or not name or name.startswith("#"):  # partition / detail sections
            continue
        if isinstance(dtype, str) and "errormessage" in (f.lower() for f in struct_fields(dtype)):
            checks.append(f"{quote_identifier(name)}.errorMessage IS NOT NULL")
    return " OR ".join(checks) or None


def struct_fields(dtype: str) -> list[str]:
    """The top-level field names of a ``struct<a:string,b:struct<c:int>>`` type ([] for another type):
    a nested ``errorMessage`` is not the column's (``col.errorMessage`` would not resolve)."""
    text = dtype.strip()
    if not (text[:7].lower() == "struct<" and text.endswith(">")):
        return []
    names, depth, start, inner = [], 0, 0, text[7:-1]
    for at, ch in enumerate(inner + ","):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            name = inner[start:at].split(":", 1)[0].strip()
            names.append(name[1:-1].replace("``", "`") if name.startswith("`") and name.endswith("`") else name)
            start = at + 1
    return names


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def summary_statement(table: str, condition: str | None) -> str:
    failed = f"count_if({condition})" if condition else "CAST(0 AS BIGINT)"
    return f"SELECT count(*) AS rows_written, {failed} AS failed_rows FROM {check_table_name(table)}"


def write_into(table: str, sql: str, engine: str, run: Callable[[str, bool], Any]) -> Any:
    """Run the CTAS with ``run(statement, main)`` (``main``: the user's statement, with its parameters and
    progress), then read back the counts; a one-row DataFrame: table, engine, rows_written, failed_rows."""
    import pandas as pd

    run(create_statement(table, sql), True)
    described = run(f"DESCRIBE TABLE {table}", False)
    counts = run(summary_statement(table, failed_condition(described)), False)
    rows, failed = (int(counts.iloc[0, 0]), int(counts.iloc[0, 1])) if len(counts) else (0, 0)
    return pd.DataFrame({"table": [table], "engine": [engine], "rows_written": [rows], "failed_rows": [failed]})


def refuse_locally() -> None:
    raise AgentUsageError(
        "--into writes a table on a SQL warehouse or Spark (--engine warehouse / spark); the local engine's "
        "tables are the notebook's DataFrames and its answers are in this process anyway: use --out NAME "
        "(later %agent_sql queries read it by that name)."
    )
