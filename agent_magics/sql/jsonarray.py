"""The Statement Execution API's JSON_ARRAY cell format, both ways.

Every cell is a string (or null); nested values (STRUCT, ARRAY, MAP) are JSON text. ``decode_column``
turns a column of such strings into typed Python values by the manifest's ``type_name`` (client side);
``encode_cell`` and ``databricks_type`` do the opposite for the local warehouse (server side).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

_INTS = {"INT", "LONG", "SHORT", "BYTE"}
_FLOATS = {"DOUBLE", "FLOAT"}
_NESTED = {"STRUCT", "ARRAY", "MAP"}


def decode_cell(value: str | None, type_name: str) -> Any:
    if value is None:
        return None
    if type_name in _INTS:
        return int(value)
    if type_name in _FLOATS:
        return float(value)  # also "NaN", "Infinity"
    if type_name == "DECIMAL":
        return Decimal(value)
    if type_name == "BOOLEAN":
        return value.lower() == "true"
    if type_name == "DATE":
        return dt.date.fromisoformat(value)
    if type_name == "TIMESTAMP":
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    if type_name in _NESTED:
        return json.loads(value)
    if type_name == "BINARY":
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            return value
    return value


def decode_column(values: list[str | None], type_name: str) -> Any:
    """A pandas Series-ready column: numpy dtypes where the column has no nulls, nullable ones otherwise."""
    import pandas as pd

    decoded = [decode_cell(v, type_name) for v in values]
    has_null = any(v is None for v in decoded)
    if type_name in _INTS:
        return pd.array(decoded, dtype="Int64" if has_null else "int64")
    if type_name in _FLOATS:
        return pd.array([math.nan if v is None else v for v in decoded], dtype="float64")
    if type_name == "BOOLEAN":
        return pd.array(decoded, dtype="boolean" if has_null else "bool")
    if type_name == "TIMESTAMP":
        return pd.to_datetime(pd.Series(decoded, dtype="object"), utc=True).array
    return decoded  # strings, dates, decimals, nested values: pandas infers as it does for DuckDB results


# -- server side ---------------------------------------------------------------------------------


def encode_cell(value: Any) -> str | None:
    """A DuckDB result value as the string a Databricks warehouse would send."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, dt.datetime):
        return _timestamp_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(_jsonable(value), separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _float_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _timestamp_text(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return _float_text(value)
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return encode_cell(value)


def databricks_type(duckdb_type: str) -> tuple[str, str]:
    """(type_name, type_text) of a DuckDB column type, as a Databricks manifest names them."""
    from sqlglot import exp

    if duckdb_type.strip('"') == "NULL":
        return "NULL", "VOID"
    try:
        dtype = exp.DataType.build(duckdb_type, dialect="duckdb")
    except Exception:  # a DuckDB type sqlglot does not know: its values still arrive as strings
        return "STRING", "STRING"
    t = exp.DataType.Type
    names = {
        t.TINYINT: "BYTE",
        t.SMALLINT: "SHORT",
        t.INT: "INT",
        t.BIGINT: "LONG",
        t.UTINYINT: "SHORT",
        t.USMALLINT: "INT",
        t.UINT: "LONG",
        t.FLOAT: "FLOAT",
        t.DOUBLE: "DOUBLE",
        t.DECIMAL: "DECIMAL",
        t.BOOLEAN: "BOOLEAN",
        t.DATE: "DATE",
        t.TIMESTAMP: "TIMESTAMP",
        t.TIMESTAMPTZ: "TIMESTAMP",
        t.TIMESTAMPLTZ: "TIMESTAMP",
        t.TIMESTAMPNTZ: "TIMESTAMP",
        t.DATETIME: "TIMESTAMP",
        t.STRUCT: "STRUCT",
        t.ARRAY: "ARRAY",
        t.LIST: "ARRAY",
        t.MAP: "MAP",
        t.VARBINARY: "BINARY",
        t.BINARY: "BINARY",
        t.INTERVAL: "INTERVAL",
        t.NULL: "NULL",
    }
    name = names.get(dtype.this, "STRING")
    if dtype.this in (t.UBIGINT, t.INT128, t.UINT128):
        return "DECIMAL", "DECIMAL(38,0)"
    if name == "STRING":
        return "STRING", "STRING"
    return name, dtype.sql(dialect="databricks")
