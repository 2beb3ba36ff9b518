"""AgentComparison: the same question's answers from several targets, in the order the targets were given."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, overload

from agent_magics.core.result import AgentResult, ShownOnce

COLUMNS = (
    "target",
    "status",
    "text",
    "first_text_s",
    "total_s",
    "input_tokens",
    "output_tokens",
    "tool_calls",
    "trace_id",
    "error",
)


@dataclass
class AgentComparison(ShownOnce):
    """Iterable over the ``AgentResult``s in target order, indexable by position or by target."""

    question: str
    results: list[AgentResult]
    # Set by the magic, as on AgentResult: the live view showed it (the cell value is one line), or
    # --quiet (the cell's Out[] shows nothing).
    shown_live: bool = field(default=False, repr=False, compare=False)
    hide_once: bool = field(default=False, repr=False, compare=False)

    def __iter__(self) -> Iterator[AgentResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @overload
    def __getitem__(self, key: int) -> AgentResult: ...
    @overload
    def __getitem__(self, key: str) -> AgentResult: ...
    def __getitem__(self, key: int | str) -> AgentResult:
        if isinstance(key, int):
            return self.results[key]
        for result in self.results:
            if result.target == key:
                return result
        raise KeyError(f"{key!r} was not compared; the targets are {', '.join(self.targets)}")

    @property
    def targets(self) -> list[str]:
        return [result.target for result in self.results]

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def rows(self) -> list[dict[str, Any]]:
        """One row per target: the figures a reader compares."""
        rows = []
        for result in self.results:
            usage = result.usage
            rows.append(
                {
                    "target": result.target,
                    "status": result.status,
                    "text": result.text,
                    "first_text_s": result.timings.get("first_text"),
                    "total_s": result.timings.get("total", result.elapsed),
                    "input_tokens": usage.get("input_tokens"),
                    "output_tokens": usage.get("output_tokens"),
                    "tool_calls": [str(call.get("name", "")) for call in result.tool_calls],
                    "trace_id": result.trace_id,
                    "error": result.error,
                }
            )
        return rows

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(COLUMNS))

    def diff(self, a: int | str = 0, b: int | str = 1, *, context: int = 3) -> str:
        """A unified line diff of two answers' text (by position or target)."""
        first, second = self[a], self[b]
        lines = difflib.unified_diff(
            first.text.splitlines(),
            second.text.splitlines(),
            fromfile=first.target,
            tofile=second.target,
            n=context,
            lineterm="",
        )
        return "\n".join(lines)

    def summary(self) -> str:
        parts = [f"{result.target}: {result.status}" for result in self.results]
        return f"<AgentComparison {'; '.join(parts)}>"

    def __repr__(self) -> str:
        return self.summary()

    def _full_bundle(self) -> dict[str, str]:
        from agent_magics.view.compare import render_comparison_html, render_comparison_text

        return {"text/plain": render_comparison_text(self), "text/html": render_comparison_html(self)}
