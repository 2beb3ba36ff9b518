"""Fourth security round: secrets in text that is cut before it is shown."""

from __future__ import annotations

import json
import secrets as random

import pytest

from agent_magics.core import secrets
from agent_magics.transport.failures import MAX_DETAIL, describe_http_error, excerpt


def test_an_http_error_detail_is_redacted_before_it_is_cut() -> None:
    token = "dapi" + random.token_hex(16)
    secrets.register(token)
    for filler in range(MAX_DETAIL - 40, MAX_DETAIL + 5, 3):  # the token across the cut, at every offset
        body = json.dumps({"message": "x" * filler + f" Authorization: Bearer {token}"})
        shown = describe_http_error("demo-agent", 403, body)
        assert token[:8] not in shown, (filler, shown)


def test_an_excerpt_cut_inside_a_secret_shows_none_of_it() -> None:
    token = "dapi" + random.token_hex(16)
    secrets.register(token)
    for spaces in range(4096 - len(token), 4096 - 4):  # the 4 KB read ends inside the token
        shown = excerpt(b" " * spaces + token.encode() + b" tail")
        assert token[:6] not in shown and "[REDACTED]" in shown, (spaces, shown)


def test_redact_cut_leaves_ordinary_text_alone() -> None:
    token = "dapi" + random.token_hex(16)
    secrets.register(token)
    assert secrets.redact_cut("nothing secret here") == "nothing secret here"
    assert secrets.redact_cut(f"a {token} b") == "a [REDACTED] b"


def test_struct_cells_keep_their_shape_when_redacted() -> None:
    """Spark's toPandas gives struct cells as Row objects (failOnError => false): redacting them
    kept nothing (``Row(generator)``), and the frame could not be shown."""
    from collections import namedtuple

    pyspark_sql = pytest.importorskip("pyspark.sql")
    token = "dapi" + random.token_hex(16)
    secrets.register(token)
    row = pyspark_sql.Row(result=f"echo {token}", errorMessage=None)
    redacted = secrets.redact_value(row)
    assert isinstance(redacted, pyspark_sql.Row) and redacted.asDict() == {
        "result": "echo [REDACTED]",
        "errorMessage": None,
    }
    nested = secrets.redact_value(pyspark_sql.Row(outer=pyspark_sql.Row(inner=token), n=1))
    assert nested.outer.inner == "[REDACTED]" and nested.n == 1
    Pair = namedtuple("Pair", "a b")
    assert secrets.redact_value(Pair(token, 2)) == Pair("[REDACTED]", 2)
    assert secrets.redact_value((token, [token])) == ("[REDACTED]", ["[REDACTED]"])
