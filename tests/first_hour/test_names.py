"""A misspelt endpoint or app: the same one-line usage error for both, with the close names."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("target", "suggestion"),
    [
        ("demo-agnet", "did you mean demo-agent"),
        ("apps/demo-ap", "did you mean apps/demo-app"),
        ("zzzz-nothing-like-it", None),
        ("apps/zzzz-nothing-like-it", None),
    ],
)
def test_unknown_names_are_reported_alike(kernel: Any, target: str, suggestion: str | None) -> None:
    out = kernel.run(f"%%agent {target} --out r\nq")
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"UsageError: {target}: no "), out
    assert "of that name in this workspace" in lines[0] and "%agent --list" in lines[0], lines[0]
    if suggestion:
        assert suggestion in lines[0].lower(), lines[0]
    else:
        assert "did you mean" not in lines[0].lower(), lines[0]
