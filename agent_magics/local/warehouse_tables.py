"""Tables of the local SQL warehouse: what ``CREATE TABLE ... AS`` writes and later statements read.

A real warehouse writes a CTAS into Unity Catalog. The local one keeps each created table in memory as
an Arrow table (struct columns stay structs), under its last name part: ``main.default.answers`` and
``answers`` are the same table here (one namespace is enough for a test bed). Statements that name a
stored table read it; ``DESCRIBE TABLE`` answers ``col_name`` / ``data_type`` / ``comment`` rows in
Databricks' type names, as the warehouse does.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_PART = r"(?:[A-Za-z0-9_]+|`(?:[^`\r\n]|``)+`)"
_NAME = rf"{_PART}(?:\.{_PART}){{0,2}}"
_CREATE = re.compile(
    rf"\s*CREATE\s+(?P<replace>OR\s+REPLACE\s+)?TABLE\s+(?P<name>{_NAME})\s+AS\s+(?P<query>.+?)[\s;]*\Z",
    re.IGNORECASE | re.DOTALL,
)
_DESCRIBE = re.compile(rf"\s*DESCRIBE\s+(?:TABLE\s+)?(?P<name>{_NAME})[\s;]*\Z", re.IGNORECASE)
_PARTS = re.compile(_PART)


def table_key(name: str) -> str:
    """The stored name of ``name``: its last part, unquoted, lower case."""
    last = _PARTS.findall(name)[-1]
    return (last[1:-1].replace("``", "`") if last.startswith("`") else last).lower()


class WarehouseTables:
    def __init__(self) -> None:
        self._tables: dict[str, Any] = {}
        self._lock = threading.Lock()

    def namespace(self) -> dict[str, Any]:
        """The tables by stored name, as the local engine reads a notebook's DataFrames."""
        with self._lock:
            return dict(self._tables)

    def exists(self, name: str) -> bool:
        with self._lock:
            return table_key(name) in self._tables

    def put(self, name: str, table: Any) -> None:
        with self._lock:
            self._tables[table_key(name)] = table

    def resolve(self, sql: str) -> str:
        """``sql`` with the catalog / schema of stored tables dropped (the local engine reads bare names)."""
        known = self.namespace()
        if not known or not any(key in sql.lower() for key in known):
            return sql
        import sqlglot
        from sqlglot import exp

        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except Exception:  # the engine reports the SQL's own error
            return sql
        changed = False
        for table in tree.find_all(exp.Table):
            if table.name.lower() in known and (table.args.get("db") or table.args.get("catalog")):
                table.set("db", None)
                table.set("catalog", None)
                changed = True
        return tree.sql(dialect="databricks") if changed else sql


def parse_create(sql: str) -> tuple[str, str, bool] | None:
    """(table, query, or_replace) of a ``CREATE [OR REPLACE] TABLE name AS query``; None for other SQL."""
    match = _CREATE.match(sql)
    if match is None:
        return None
    return match.group("name"), match.group("query"), bool(match.group("replace"))


def parse_describe(sql: str) -> str | None:
    match = _DESCRIBE.match(sql)
    return match.group("name") if match else None


def arrow_result(cursor: Any) -> Any:
    """The statement's rows as an Arrow table (one copy, which DuckDB warns about: fine for a test bed)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning)
        return cursor.to_arrow_table()
