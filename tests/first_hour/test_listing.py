"""``%agent --list`` in a real kernel: a description column, and the README's table names exactly its targets."""

from __future__ import annotations

import re
from pathlib import Path

from kernel_helpers import Kernel

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_targets() -> set[str]:
    """Every `name` in the first column of the README's table of the local workspace's agents."""
    text = README.read_text()
    table = text[text.index("| name | what it is |") :].split("\n\n", 1)[0]
    names: set[str] = set()
    for row in table.splitlines()[2:]:
        names.update(re.findall(r"`([^`]+)`", row.split("|")[1]))
    return names


def test_list_shows_descriptions_and_the_readme_table_matches(kernel: Kernel) -> None:
    out = kernel.run("%agent --list")
    assert not out.errors, out.errors
    plain = out.results[0]["text/plain"]
    lines = plain.splitlines()
    assert lines[0].startswith("Agents on http://127.0.0.1:")
    assert lines[1].split() == ["target", "kind", "interface", "task", "state", "description"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert "ResponsesAgent answering questions" in rows["demo-agent"]
    assert "DurableAgentServer-style app" in rows["apps/durable-app"]
    html = out.results[0]["text/html"]
    assert "<th style='text-align:left'>description</th>" in html
    # the whole description in HTML, one line of at most 60 characters in text
    assert "a set rate; custom_inputs: tokens, tokens_per_second, first_token_delay" in html
    assert all(len(line.split("  ")[-1].strip()) <= 60 for line in lines[2:])
    assert set(rows) == readme_targets(), set(rows) ^ readme_targets()
