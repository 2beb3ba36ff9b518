"""Retries are visible: each wait in the live view, the count in request_info and the final header,
and the last 429's advice names the options of the magic that was used."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("via", ["rest", "client"])
def test_retried_429_is_shown_counted_and_in_the_header(kernel: Any, via: str) -> None:
    out = kernel.run(f"%%agent fault-429 --via {via} --out r\nWhat is MLflow, {via}?")
    assert not out.errors, out.errors
    waits = [line for line in out.stdout.splitlines() if "retrying in" in line]
    assert waits == [
        "… 429 from fault-429: retrying in 1 s, 1 of 3",
        "… 429 from fault-429: retrying in 1 s, 2 of 3",
    ], out.stdout
    assert kernel.value("r.request_info['retries']") == 2
    footer = out.stdout.strip().splitlines()[-1]
    assert "completed" in footer and "2 retries" in footer, footer
    html = kernel.value("r._repr_mimebundle_()['text/html']")
    assert "2 retries" in html


def test_display_view_header_shows_the_wait_while_it_waits(kernel: Any) -> None:
    kernel.run("%config AgentMagics.max_retries = 1")
    out = kernel.run("%%agent fault-429-always --view display --out r\nq")
    kernel.run("%config AgentMagics.max_retries = 3")
    assert not out.errors, out.errors
    html = " ".join(d.get("text/html", "") for d in out.displays)
    assert "429 from fault-429-always: retrying in 1 s, 1 of 1" in html, html[-600:]


@pytest.mark.parametrize(
    ("code", "wanted", "unwanted"),
    [
        ("%%agent fault-429-always --quiet --out r\nq", "max_retries", "--concurrency"),
        (
            "%agent_sql --quiet --retries 0 --out r "
            "SELECT ai_query('fault-429-always', 'q', failOnError => false) AS a",
            "--concurrency",
            "max_retries",
        ),
    ],
)
def test_the_429_advice_belongs_to_the_magic(kernel: Any, code: str, wanted: str, unwanted: str) -> None:
    kernel.run("%config AgentMagics.max_retries = 0")
    out = kernel.run(code)
    kernel.run("%config AgentMagics.max_retries = 3")
    assert not out.errors, out.errors
    message = kernel.value("str(r.error if hasattr(r, 'error') else r['a'][0]['errorMessage'])")
    assert "429" in message and wanted in message and unwanted not in message, message
