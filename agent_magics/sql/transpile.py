"""Databricks SQL -> DuckDB SQL, with every ``ai_query(...)`` call turned into a call of our own UDF.

sqlglot does the dialect work (``"..."`` string literals, ``named_struct``, ``array``, ``VALUES ... AS
t(col)``, ``:param``). Each ``ai_query`` call site becomes ``__ai_query_<i>(to_json(<request>))``:
the request reaches Python as JSON text whatever its SQL type (a STRING or a STRUCT), and the
constant arguments (endpoint, returnType, failOnError, modelParameters, responseFormat) are read
here, once, into an :class:`AiCall`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from agent_magics.core.errors import AgentUsageError
from agent_magics.sql.returntype import ReturnType, parse_return_type

UDF_PREFIX = "__ai_query_"
TRACE_PREFIX = "__ai_trace_"
_POSITIONAL = ("endpoint", "request", "returnType", "failOnError")
_NAMED = {"endpoint", "request", "returntype", "failonerror", "modelparameters", "responseformat", "files"}


@dataclass(frozen=True)
class AiCall:
    """One ``ai_query(...)`` call site, with its constant arguments read."""

    index: int
    endpoint: str
    request_sql: str  # the request expression as written (Databricks SQL), for messages
    return_type: ReturnType | None = None
    fail_on_error: bool = True
    model_parameters: dict[str, Any] | None = None
    response_format: str | None = None

    @property
    def function(self) -> str:
        return f"{UDF_PREFIX}{self.index}"

    @property
    def trace_function(self) -> str:
        return f"{TRACE_PREFIX}{self.index}"

    @property
    def label(self) -> str:
        return f"ai_query({self.endpoint!r}, {self.request_sql})"


@dataclass
class Transpiled:
    sql: str  # DuckDB SQL
    calls: list[AiCall] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # unqualified table names the SQL reads
    trace_columns: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)  # the named parameters the DuckDB SQL still uses


def parse(sql: str) -> exp.Expression:
    """The one statement in ``sql`` (Databricks dialect); a clean error for syntax mistakes."""
    try:
        statements = [s for s in sqlglot.parse(sql, read="databricks") if s is not None]
    except (ParseError, TokenError) as exc:
        raise AgentUsageError(f"SQL syntax error: {_parse_message(exc)}") from None
    if not statements:
        raise AgentUsageError("no SQL to run: write a query such as SELECT ai_query('demo-agent', 'Hi!').")
    if len(statements) > 1:
        raise AgentUsageError(f"{len(statements)} SQL statements given: run one statement per cell.")
    return statements[0]  # type: ignore[return-value]  # sqlglot's parse() is typed as Expr


def _parse_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        description = first.get("description") or str(exc)
        where = f" (line {first.get('line')}, column {first.get('col')})" if first.get("line") else ""
        highlight = first.get("highlight")
        near = f" near {highlight!r}" if highlight else ""
        return f"{description}{near}{where}"
    return str(exc).splitlines()[0]


def is_ai_query(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).lower() == "ai_query"


def transpile(sql: str, *, return_trace: bool = False, parameters: dict[str, Any] | None = None) -> Transpiled:
    """Databricks SQL -> DuckDB SQL with ai_query calls replaced; see the module docstring."""
    tree = parse(sql)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = sorted(
        {t.name for t in tree.find_all(exp.Table) if t.name and not t.args.get("db") and t.name.lower() not in ctes}
    )
    _name_outer_columns(tree)
    calls: list[AiCall] = []
    # Innermost first, so an ai_query nested in another's request is rewritten before its parent.
    for node in reversed(list(tree.find_all(exp.Anonymous))):
        if not is_ai_query(node):
            continue
        call, request = read_call(node, len(calls), parameters)
        calls.append(call)
        node.replace(exp.Anonymous(this=call.function, expressions=[_to_json(request)]))
    trace_columns = _add_trace_columns(tree, calls) if return_trace else []
    _range_column_as_id(tree)
    try:
        duck = tree.sql(dialect="duckdb")
    except Exception as exc:  # sqlglot's UnsupportedError and friends
        raise AgentUsageError(f"this SQL cannot run on the local engine: {exc}") from None
    used = sorted({str(p.name) for p in tree.find_all(exp.Placeholder) if p.name})
    return Transpiled(duck, calls, tables, trace_columns, used)


def _range_column_as_id(tree: exp.Expression) -> None:
    """Databricks' ``range(...)`` table names its column ``id``; DuckDB's names it ``range``.

    Each ``range(...)`` in a FROM/JOIN becomes ``(SELECT range AS id FROM range(...)) AS <its alias>``
    (``range`` when it had none). Databricks' fourth argument (numPartitions) has no DuckDB meaning.
    """
    for table in list(tree.find_all(exp.Table)):
        function = table.this
        if not (isinstance(function, exp.Anonymous) and str(function.this).lower() == "range"):
            continue
        args = [arg.copy() for arg in function.expressions[:3]]
        inner = exp.select(exp.alias_(exp.column("range"), "id")).from_(
            exp.Table(this=exp.Anonymous(this="range", expressions=args))
        )
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier("range"))
        table.replace(exp.Subquery(this=inner, alias=alias.copy()))


def _to_json(request: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this="to_json", expressions=[request.copy()])


def read_call(
    node: exp.Anonymous, index: int, parameters: dict[str, Any] | None = None
) -> tuple[AiCall, exp.Expression]:
    """The AiCall for one ``ai_query(...)`` node, and its request expression.

    A constant argument given as a named parameter (``ai_query(:endpoint, q)``) is read from
    ``parameters``, as a value.
    """
    args: dict[str, exp.Expression] = {}
    positional = 0
    for arg in node.expressions:
        if isinstance(arg, exp.Kwarg):
            name = arg.this.name
            if name.lower() not in _NAMED:
                raise AgentUsageError(
                    f"ai_query: unknown argument {name!r}; use returnType, failOnError, modelParameters "
                    "or responseFormat."
                )
            args[name.lower()] = arg.expression
            continue
        if positional >= len(_POSITIONAL):
            raise AgentUsageError(
                "ai_query takes at most 4 positional arguments (endpoint, request, "
                "returnType, failOnError); name the others (modelParameters => ...)."
            )
        args[_POSITIONAL[positional].lower()] = arg
        positional += 1
    if "endpoint" not in args or "request" not in args:
        raise AgentUsageError("ai_query needs an endpoint and a request: ai_query('my-endpoint', question).")
    for name, arg in args.items():
        if name != "request" and isinstance(arg, exp.Placeholder) and parameters and arg.name in parameters:
            args[name] = _literal(parameters[arg.name])
    if "files" in args:
        raise AgentUsageError("ai_query files => is not supported on the local engine (use --engine warehouse).")
    endpoint = _string_constant(args["endpoint"], "the endpoint (first argument)")
    return_type = args.get("returntype")
    fail = args.get("failonerror")
    call = AiCall(
        index=index,
        endpoint=endpoint,
        request_sql=args["request"].sql(dialect="databricks"),
        return_type=parse_return_type(_string_constant(return_type, "returnType")) if return_type else None,
        fail_on_error=_boolean_constant(fail, "failOnError") if fail is not None else True,
        model_parameters=_parameters(args.get("modelparameters")),
        response_format=_string_constant(args["responseformat"], "responseFormat")
        if "responseformat" in args
        else None,
    )
    return call, args["request"]


def _literal(value: Any) -> exp.Expression:
    """A parameter's value as a SQL constant node (read by the constant readers below, never run)."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if value is None:
        return exp.Null()
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _string_constant(node: exp.Expression, what: str) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    raise AgentUsageError(
        f"ai_query: {what} must be a string literal such as 'my-endpoint', not {node.sql(dialect='databricks')}."
    )


def _boolean_constant(node: exp.Expression, what: str) -> bool:
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    raise AgentUsageError(f"ai_query: {what} must be true or false, not {node.sql(dialect='databricks')}.")


def _parameters(node: exp.Expression | None) -> dict[str, Any] | None:
    if node is None:
        return None
    value = constant_value(node)
    if not isinstance(value, dict):
        raise AgentUsageError("ai_query: modelParameters must be named_struct('temperature', 0.2, ...).")
    return value


def constant_value(node: exp.Expression) -> Any:
    """A constant SQL expression (literals, named_struct, array) as a Python value."""
    if isinstance(node, exp.Literal):
        if node.is_string:
            return str(node.this)
        text = str(node.this)
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg):
        return -constant_value(node.this)
    if isinstance(node, exp.Paren):
        return constant_value(node.this)
    if isinstance(node, exp.Struct):
        out: dict[str, Any] = {}
        for item in node.expressions:
            if not isinstance(item, exp.PropertyEQ):
                raise AgentUsageError("ai_query: named_struct(...) arguments must be 'name', value pairs.")
            out[item.this.name] = constant_value(item.expression)
        return out
    if isinstance(node, exp.Array):
        return [constant_value(item) for item in node.expressions]
    raise AgentUsageError(
        f"ai_query: {node.sql(dialect='databricks')} is not a constant; modelParameters takes literals only."
    )


def spark_column_name(node: exp.Expression) -> str:
    """The column name Databricks gives an unaliased expression (``ai_query(ep, question)``)."""
    if is_ai_query(node):
        parts = []
        for arg in node.expressions[:2]:
            value = arg.expression if isinstance(arg, exp.Kwarg) else arg
            parts.append(
                str(value.this)
                if isinstance(value, exp.Literal) and value.is_string
                else value.sql(dialect="databricks")
            )
        return f"ai_query({', '.join(parts)})"
    return node.sql(dialect="databricks")


def _name_outer_columns(tree: exp.Expression) -> None:
    """Give unaliased outer columns that call ai_query the name Databricks would show."""
    for select in _outer_selects(tree):
        for item in list(select.expressions):
            if isinstance(item, exp.Alias) or not any(is_ai_query(n) for n in item.find_all(exp.Anonymous)):
                continue
            name = spark_column_name(item)
            item.replace(exp.alias_(item.copy(), exp.to_identifier(name, quoted=True)))


def _outer_selects(tree: exp.Expression) -> list[exp.Select]:
    if isinstance(tree, exp.Select):
        return [tree]
    if isinstance(tree, exp.SetOperation):
        return [*_outer_selects(tree.this), *_outer_selects(tree.expression)]
    if isinstance(tree, exp.Subquery):
        return _outer_selects(tree.this)
    return []


def _add_trace_columns(tree: exp.Expression, calls: list[AiCall]) -> list[str]:
    """``--return-trace``: one ``trace`` column per ai_query call in the outermost SELECT list.

    The trace UDF is appended after the user's columns, so DuckDB evaluates it after the ai_query UDF of
    the same chunk; it returns the trace that call recorded for the same request (see local_engine).
    """
    if not isinstance(tree, exp.Select):
        raise AgentUsageError(
            "--return-trace needs a plain SELECT (not UNION/INSERT/...) with ai_query in its column list."
        )
    found: list[tuple[AiCall, exp.Expression]] = []
    by_function = {call.function: call for call in calls}
    for item in tree.expressions:
        for node in item.find_all(exp.Anonymous):
            call = by_function.get(str(node.this))
            if call is not None and _in_select_list(node, tree):
                found.append((call, node.expressions[0]))
    if not found:
        raise AgentUsageError("--return-trace needs ai_query(...) in the outermost SELECT's column list.")
    names = ["trace"] if len(found) == 1 else [f"trace_{i + 1}" for i in range(len(found))]
    for (call, request_json), name in zip(found, names):
        lookup = exp.Anonymous(this=call.trace_function, expressions=[request_json.copy()])
        tree.append("expressions", exp.alias_(lookup, exp.to_identifier(name, quoted=True)))
    return names


def _in_select_list(node: exp.Expression, select: exp.Select) -> bool:
    """True when ``node`` belongs to ``select``'s own column list (not to a subquery inside it)."""
    parent = node.parent
    while parent is not None and parent is not select:
        if isinstance(parent, (exp.Select, exp.Subquery)):
            return False
        parent = parent.parent
    return parent is select
