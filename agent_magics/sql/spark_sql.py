"""``%agent_sql --engine spark`` off Databricks: register our ``ai_query`` and give its calls their types.

The registered UDF returns a STRING (see :mod:`.spark_udf`). So that the SQL as written gets what
Databricks' ai_query returns, each call whose type is not STRING is wrapped, in the SQL sent to Spark:

* ``failOnError => false``: ``from_json(ai_query(...), 'STRUCT<result: T, errorMessage: STRING, response: T>')``
* a STRUCT / ARRAY / MAP ``returnType``: ``from_json(ai_query(...), 'T')``
* another non-STRING ``returnType`` (INT, DOUBLE, DATE, ...): ``CAST(ai_query(...) AS T)``

An unaliased outer column keeps the name Databricks gives it (``ai_query(ep, question)``). SQL with no
such call is sent exactly as written.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from agent_magics.sql.transpile import AiCall, _outer_selects, is_ai_query, parse, read_call, spark_column_name


def has_native_ai_query(spark: Any) -> bool:
    """True on Databricks (Runtime, Connect, SQL): its ai_query is a built-in; ours is not."""
    from agent_magics.core.environment import in_databricks_runtime
    from agent_magics.sql.spark_udf import registered_here

    if registered_here(spark):
        return False
    if in_databricks_runtime():
        return True
    try:
        return bool(spark.catalog.functionExists("ai_query"))
    except Exception:  # a session we cannot ask: run the SQL as written (an UNRESOLVED_ROUTINE says what to do)
        return True


def typed_sql(sql: str, parameters: dict[str, Any] | None = None) -> str:
    """``sql`` with the calls that need a non-STRING type wrapped (see the module docstring)."""
    if "ai_query" not in sql.lower():
        return sql
    tree = parse(sql)
    outer = {id(item) for select in _outer_selects(tree) for item in select.expressions}
    wrapped = False
    for index, node in enumerate(reversed([n for n in tree.find_all(exp.Anonymous) if is_ai_query(n)])):
        call, _ = read_call(node, index, parameters)  # checks the arguments before Spark sees them
        schema = _schema(call)
        if schema is None:
            continue
        name = spark_column_name(node) if id(node) in outer else None
        if call.fail_on_error and _scalar(call):
            typed: exp.Expression = exp.cast(node.copy(), exp.DataType.build(schema, dialect="spark"))
        else:
            typed = exp.Anonymous(this="from_json", expressions=[node.copy(), exp.Literal.string(schema)])
        node.replace(exp.alias_(typed, exp.to_identifier(name, quoted=True)) if name else typed)
        wrapped = True
    return tree.sql(dialect="spark") if wrapped else sql


def _schema(call: AiCall) -> str | None:
    value = (
        "STRING"
        if call.return_type is None or call.return_type.is_string
        else call.return_type.dtype.sql(dialect="spark")
    )
    if not call.fail_on_error:
        return f"STRUCT<result: {value}, errorMessage: STRING, response: {value}>"
    return None if value == "STRING" else value


def _scalar(call: AiCall) -> bool:
    kinds = (exp.DataType.Type.STRUCT, exp.DataType.Type.ARRAY, exp.DataType.Type.MAP)
    return call.return_type is not None and call.return_type.dtype.this not in kinds
