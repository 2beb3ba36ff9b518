"""returnType sizes as Databricks has them: an integer or decimal that its type cannot hold is the
row's error (a column could not hold it); decimals round half up to their scale; bare DECIMAL is
DECIMAL(10, 0)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agent_magics.sql.returntype import CoercionError, parse_return_type


@pytest.mark.parametrize(
    ("ddl", "value", "expected"),
    [
        ("TINYINT", 127, 127),
        ("TINYINT", -128, -128),
        ("SMALLINT", "32767", 32767),
        ("INT", 2147483647, 2147483647),
        ("BIGINT", 2**63 - 1, 2**63 - 1),
        ("DECIMAL(5,2)", "1.234", Decimal("1.23")),
        ("DECIMAL(5,2)", "1.235", Decimal("1.24")),  # half up, not to even
        ("DECIMAL(5,2)", "-999.99", Decimal("-999.99")),
        ("DECIMAL", 1.5, Decimal("2")),
        ("DECIMAL(38,0)", "9" * 38, Decimal("9" * 38)),
    ],
)
def test_values_that_fit(ddl: str, value: object, expected: object) -> None:
    assert parse_return_type(ddl).coerce(value) == expected


@pytest.mark.parametrize(
    ("ddl", "value"),
    [
        ("TINYINT", 128),
        ("SMALLINT", -32769),
        ("INT", 3_000_000_000),
        ("BIGINT", 2**63),
        ("DECIMAL(5,2)", "1000"),
        ("DECIMAL(5,2)", "999.995"),  # rounds up past the precision
        ("DECIMAL", "12345678901"),
        ("DECIMAL(38,0)", "9" * 39),
        ("DECIMAL(5,2)", "NaN"),
        ("STRUCT<a: ARRAY<SMALLINT>>", {"a": [1, 70000]}),
    ],
)
def test_values_too_big_for_their_type_are_the_rows_error(ddl: str, value: object) -> None:
    with pytest.raises(CoercionError, match=r"does not fit|expected a decimal"):
        parse_return_type(ddl).coerce(value)


def test_bare_decimal_is_databricks_default_in_the_local_engine() -> None:
    assert parse_return_type("DECIMAL").duckdb == "DECIMAL(10, 0)"
    assert parse_return_type("STRUCT<a: DECIMAL>").duckdb == "STRUCT(a DECIMAL(10, 0))"
