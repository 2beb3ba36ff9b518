"""AgentResult: what one query to an agent produced, complete or not."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from agent_magics.core.events import Reduction, Status, message_text

_USAGE_NAMES = {
    "input_tokens": ("input_tokens", "prompt_tokens"),
    "output_tokens": ("output_tokens", "completion_tokens"),
    "total_tokens": ("total_tokens",),
}


class ShownOnce:
    """How a result shows as its cell's Out[] right after a magic that already showed it.

    The magic sets ``shown_live`` (its live view showed the answer: the Out[] is then one summary
    line, so the answer is not shown twice) or ``hide_once`` (--quiet: no Out[] at all). Either
    holds for the next Out[] only, and only until the user runs another cell (``magic.shown_once``
    clears them then). Anything else, ``display(r)`` in the same cell included, shows it in full:
    the user asked for it."""

    shown_live: bool
    hide_once: bool

    def summary(self) -> str:
        raise NotImplementedError

    def _full_bundle(self) -> dict[str, str]:
        raise NotImplementedError

    @property
    def _ipython_display_(self) -> Any:
        # IPython asks for this first; an object that "displays itself" leaves no Out[] at all.
        # Only present while hide_once is set and IPython is writing Out[]: else the bundle below.
        if not (self.hide_once and _writing_out()):
            raise AttributeError("_ipython_display_")
        return self._hide

    def _hide(self) -> None:
        self.hide_once = False

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        if self.shown_live and _writing_out():
            self.shown_live = False
            return {"text/plain": self.summary()}
        return self._full_bundle()


# IPython writes a cell's Out[] from DisplayHook.__call__ (ipykernel's subclass keeps that method);
# display() and the other formatters never go through it. Matched by file, not imported: this
# layer does not import IPython.
_DISPLAYHOOK_FILE = os.path.join("IPython", "core", "displayhook.py")


def _writing_out() -> bool:
    """Is IPython formatting this object as a cell's Out[] (its display hook is on the stack)?"""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__call__" and code.co_filename.endswith(_DISPLAYHOOK_FILE):
            return True
        frame = frame.f_back
    return False


@dataclass
class AgentResult(ShownOnce):
    """The finished answer of ``%%agent`` (also what a failed or interrupted call left behind).

    ``status`` is ``completed``, ``failed``, ``interrupted`` or ``incomplete``; on anything but
    ``completed`` the text holds whatever arrived before the stop, and ``error`` says why.
    """

    target: str
    text: str
    output: list[dict[str, Any]] = field(default_factory=list)
    custom_outputs: dict[str, Any] | None = None
    trace_dict: dict[str, Any] | None = field(default=None, repr=False)
    trace_id: str | None = None
    status: Status = "completed"
    error: str | None = None
    request_info: dict[str, Any] = field(default_factory=dict)
    interface: str | None = None  # responses | chat | invocations
    via: str | None = None  # client | rest
    elapsed: float | None = None  # seconds, from the request's start to the result
    # Seconds from the request's start: "first_text" (time to first token) and "total" (duration).
    timings: dict[str, float] = field(default_factory=dict)
    input: list[dict[str, Any]] = field(default_factory=list, repr=False)  # what was sent
    # Set by the magic when its live view showed the answer: its cell's Out[] is then one line.
    shown_live: bool = field(default=False, repr=False, compare=False)
    # Set by the magic for --quiet: its cell's Out[] shows nothing at all.
    hide_once: bool = field(default=False, repr=False, compare=False)

    @classmethod
    def from_reduction(cls, target: str, state: Reduction, **extra: Any) -> AgentResult:
        return cls(
            target=target,
            text=state.text,
            output=list(state.output),
            custom_outputs=state.custom_outputs,
            trace_dict=state.trace,
            trace_id=state.trace_id,
            status=state.status or "completed",
            error=state.error,
            request_info=dict(state.request_info),
            **extra,
        )

    @property
    def ok(self) -> bool:
        return self.status == "completed" and self.error is None

    @property
    def trace(self) -> Any:
        """The returned trace as a parsed ``Trace`` (span tree), or None. Parsed once."""
        if self.trace_dict is None:
            return None
        cached = self.__dict__.get("_trace")
        if cached is None or cached[0] is not self.trace_dict:
            from agent_magics.core.trace import parse_trace

            cached = (self.trace_dict, parse_trace(self.trace_dict))
            self.__dict__["_trace"] = cached
        return cached[1]

    @property
    def usage(self) -> dict[str, int]:
        """Token counts the server reported, as ``input_tokens`` / ``output_tokens`` / ``total_tokens``.

        Chat completions say ``prompt_tokens`` / ``completion_tokens``; both shapes are read. Empty when
        the server reported none.
        """
        raw = self.request_info.get("usage")
        if not isinstance(raw, dict):
            return {}
        counts: dict[str, int] = {}
        for name, aliases in _USAGE_NAMES.items():
            for alias in aliases:
                value = raw.get(alias)
                # No answer has 10**15 tokens: a larger count is junk (and would overflow a float).
                if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
                    counts[name] = value
                    break
        if "total_tokens" not in counts and {"input_tokens", "output_tokens"} <= counts.keys():
            counts["total_tokens"] = counts["input_tokens"] + counts["output_tokens"]
        return counts

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens (``usage``) a second, from the first answer text to the end; None if unknown.

        An answer that came in one piece (not streamed: first text and end nearly together) is
        measured over the whole call instead.
        """
        out = self.usage.get("output_tokens")
        total = self.timings.get("total", self.elapsed)
        if not out or total is None or total <= 0:
            return None
        first = self.timings.get("first_text")
        span = total - first if first is not None and total - first >= 0.1 else total
        return out / span

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [item for item in self.output if item.get("type") == "function_call"]

    @property
    def messages(self) -> list[str]:
        return [message_text(item) for item in self.output if item.get("type", "message") == "message"]

    def __str__(self) -> str:
        return self.text

    def summary(self) -> str:
        """One line: target, status, size, tool calls, trace."""
        parts = [self.status, f"{len(self.text):,} chars"]
        if self.tool_calls:
            parts.append(f"{len(self.tool_calls)} tool call(s)")
        if self.trace_dict is not None or self.trace_id:
            parts.append("trace")
        if self.elapsed is not None:
            parts.append(f"{self.elapsed:.2f} s")
        return f"<AgentResult {self.target}: {', '.join(parts)}>"

    def _full_bundle(self) -> dict[str, str]:
        from agent_magics.view.render import render_result_html, render_result_text

        return {"text/plain": render_result_text(self), "text/html": render_result_html(self)}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        from agent_magics.view.render import render_result_text

        printer.text(render_result_text(self))
