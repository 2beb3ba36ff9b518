"""``returnType`` of ai_query: parse the Databricks DDL, give its DuckDB type, coerce JSON values to it.

Coercion follows ``from_json``'s spirit (missing fields and extra fields are fine: NULL and ignored) but
a value of the wrong kind is an error for that row, so ``failOnError => false`` can report it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from sqlglot import exp
from sqlglot.errors import ParseError

from agent_magics.core.errors import AgentUsageError

T = exp.DataType.Type
_STRINGS = {T.TEXT, T.VARCHAR, T.CHAR, T.NCHAR, T.NVARCHAR, T.NAME}
_INTS = {T.TINYINT, T.SMALLINT, T.INT, T.BIGINT, T.UTINYINT, T.USMALLINT, T.UINT, T.UBIGINT}
_FLOATS = {T.FLOAT, T.DOUBLE}
_TIMESTAMPS = {T.TIMESTAMP, T.TIMESTAMPTZ, T.TIMESTAMPLTZ, T.TIMESTAMPNTZ, T.DATETIME}


class CoercionError(ValueError):
    """The endpoint's answer does not fit the returnType (message names the field)."""


@dataclass(frozen=True)
class ReturnType:
    ddl: str
    dtype: exp.DataType = field(repr=False, compare=False)

    @property
    def duckdb(self) -> str:
        return self.dtype.sql(dialect="duckdb")

    @property
    def is_string(self) -> bool:
        return self.dtype.this in _STRINGS

    def coerce(self, value: Any) -> Any:
        return coerce(value, self.dtype)


def parse_return_type(ddl: str) -> ReturnType:
    """A Databricks type (``STRUCT<a: INT>``, ``ARRAY<STRING>``, or ``a INT, b STRING``) as a ReturnType."""
    text = ddl.strip()
    for candidate in (text, f"STRUCT<{text}>"):
        try:
            dtype = exp.DataType.build(candidate, dialect="databricks")
        except (ParseError, ValueError):
            continue
        if _valid(dtype):
            return ReturnType(ddl, _decimals_sized(dtype))
    raise AgentUsageError(
        f"ai_query returnType {ddl!r} is not a type: write a DDL type such as 'STRING' or "
        "'STRUCT<answer: STRING, score: DOUBLE>'."
    )


def _valid(dtype: exp.DataType) -> bool:
    """sqlglot is lenient: refuse unknown type names and STRUCTs without proper fields."""
    for node in dtype.find_all(exp.DataType):
        if node.this is T.USERDEFINED:
            return False
        if node.this is T.STRUCT and (
            not node.expressions
            or not all(isinstance(c, exp.ColumnDef) and c.args.get("kind") is not None for c in node.expressions)
        ):
            return False
    return True


# Databricks' bare DECIMAL is DECIMAL(10, 0) (DuckDB's would be (18, 3)): the local engine follows Databricks.
DEFAULT_DECIMAL = (10, 0)
_INT_BITS = {T.TINYINT: 8, T.SMALLINT: 16, T.INT: 32, T.BIGINT: 64}
_UINT_BITS = {T.UTINYINT: 8, T.USMALLINT: 16, T.UINT: 32, T.UBIGINT: 64}


def _decimals_sized(dtype: exp.DataType) -> exp.DataType:
    for node in dtype.find_all(exp.DataType):
        if node.this is T.DECIMAL and not node.expressions:
            node.set("expressions", [exp.DataTypeParam(this=exp.Literal.number(n)) for n in DEFAULT_DECIMAL])
    return dtype


def _decimal_size(dtype: exp.DataType) -> tuple[int, int]:
    params = [int(p.this.this) for p in dtype.expressions if isinstance(p, exp.DataTypeParam)]
    precision = params[0] if params else DEFAULT_DECIMAL[0]
    return precision, params[1] if len(params) > 1 else 0


def _in_range(number: int, kind: Any, path: str) -> int:
    """An integer that fits ``kind`` (a column of it could not hold more: the row's error, not the statement's)."""
    if kind in _INT_BITS:
        low, high = -(2 ** (_INT_BITS[kind] - 1)), 2 ** (_INT_BITS[kind] - 1) - 1
    else:
        low, high = 0, 2 ** _UINT_BITS[kind] - 1
    if not low <= number <= high:
        raise CoercionError(f"{path}: {str(number)[:40]} does not fit {kind.value} ({low} to {high})")
    return number


def _sized_decimal(number: Decimal, dtype: exp.DataType, path: str) -> Decimal:
    """Rounded to the scale (half up, as Databricks casts); more integer digits than the type holds is an error."""
    precision, scale = _decimal_size(dtype)
    if not number.is_finite():
        raise CoercionError(f"{path}: expected a decimal number, got {number}")
    whole_digits = precision - scale
    too_big = f"{path}: {str(number)[:40]} does not fit DECIMAL({precision},{scale})"
    if number != 0 and number.adjusted() >= whole_digits:  # before rounding: quantize could overflow
        raise CoercionError(too_big)
    with localcontext() as context:
        context.prec = precision + 2  # the default 28 digits would refuse DECIMAL(38, s)
        rounded = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    if rounded != 0 and rounded.adjusted() >= whole_digits:  # 999.995 rounds up to 1000.00
        raise CoercionError(too_big)
    return rounded


def coerce(value: Any, dtype: exp.DataType, path: str = "$") -> Any:
    """``value`` (parsed JSON) as a Python value of ``dtype``; CoercionError names the field."""
    if value is None:
        return None
    kind = dtype.this
    if kind in _STRINGS:
        return value if isinstance(value, str) else json.dumps(value)
    if kind is T.JSON:
        return json.dumps(value)
    if kind is T.BOOLEAN:
        return _boolean(value, path)
    if kind in _INTS:
        return _in_range(_integer(value, path), kind, path)
    if kind in _FLOATS:
        return _float(value, path)
    if kind is T.DECIMAL:
        return _sized_decimal(_decimal(value, path), dtype, path)
    if kind is T.DATE:
        return _date(value, path)
    if kind in _TIMESTAMPS:
        return _timestamp(value, path)
    if kind is T.ARRAY:
        if not isinstance(value, list):
            raise CoercionError(f"{path}: expected an array, got {_kind(value)}")
        element = dtype.expressions[0] if dtype.expressions else exp.DataType.build("STRING")
        return [coerce(item, element, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind is T.MAP:
        if not isinstance(value, dict):
            raise CoercionError(f"{path}: expected an object (MAP), got {_kind(value)}")
        key_type, value_type = dtype.expressions
        return [(coerce(k, key_type, path), coerce(v, value_type, f"{path}.{k}")) for k, v in value.items()]
    if kind is T.STRUCT:
        return _struct(value, dtype, path)
    return value if isinstance(value, str) else json.dumps(value)


def struct_fields(dtype: exp.DataType) -> list[tuple[str, exp.DataType]]:
    fields = []
    for column in dtype.expressions:
        if isinstance(column, exp.ColumnDef):
            fields.append((column.name, column.args["kind"]))
    return fields


def _struct(value: Any, dtype: exp.DataType, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CoercionError(f"{path}: expected an object (STRUCT), got {_kind(value)}")
    lowered = {str(k).lower(): v for k, v in value.items()}
    out = {}
    for name, field_type in struct_fields(dtype):
        raw = value[name] if name in value else lowered.get(name.lower())
        out[name] = coerce(raw, field_type, f"{path}.{name}")
    return out


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _boolean(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise CoercionError(f"{path}: expected a boolean, got {_kind(value)}")


def _integer(value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise CoercionError(f"{path}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise CoercionError(f"{path}: expected an integer, got {_kind(value)} {str(value)[:40]!r}")


def _float(value: Any, path: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise CoercionError(f"{path}: expected a number, got {_kind(value)} {str(value)[:40]!r}")


def _decimal(value: Any, path: str) -> Decimal:
    if isinstance(value, (int, float, str)) and not isinstance(value, bool):
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            pass
    raise CoercionError(f"{path}: expected a decimal number, got {_kind(value)} {str(value)[:40]!r}")


def _date(value: Any, path: str) -> dt.date:
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise CoercionError(f"{path}: expected a date 'YYYY-MM-DD', got {_kind(value)} {str(value)[:40]!r}")


def _timestamp(value: Any, path: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc)
    raise CoercionError(f"{path}: expected an ISO timestamp, got {_kind(value)} {str(value)[:40]!r}")
