"""The plain-text live view, for terminal IPython and scripts: new text is printed as it arrives.

Nothing is re-rendered: each delta is written once; tool calls, outputs, custom outputs and traces
are one line each; a footer line gives the status at the end. Flushes are coalesced to ``max_rate``
(a terminal write per token is cheap, a flush per token less so), the first one immediately.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

from agent_magics.core.events import (
    RETRY_NOTE,
    CustomOutputs,
    ErrorEvent,
    ItemDone,
    RequestInfo,
    TextDelta,
    TraceReceived,
    message_text,
)
from agent_magics.core.text import terminal_safe
from agent_magics.view import render
from agent_magics.view.coalesce import Coalescer

if TYPE_CHECKING:
    from agent_magics.core.events import Event, Reduction
    from agent_magics.core.result import AgentResult

_LAST = 64


class TextView:
    def __init__(
        self,
        *,
        max_rate: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        stream: IO[str] | None = None,
    ) -> None:
        self._clock = clock
        self._stream = stream
        self.coalescer = Coalescer(max_rate, min_rate=0)
        self._target = ""
        self._t0 = 0.0
        self._last2 = "\n\n"  # the last two characters written ("\n\n": at a paragraph start)
        self._wrote_text = False  # answer text since the last one-liner or separator
        self._item_id: str | None = None
        self._item_chars = 0
        self._item_last = ""
        self._seen_items: set[str] = set()
        self._finished = False

    def _out(self) -> IO[str]:
        return self._stream if self._stream is not None else sys.stdout  # looked up late: may be swapped

    def _write(self, text: str) -> None:
        if text:
            self._out().write(terminal_safe(text))  # agent text: no escape sequence reaches the terminal
            self._last2 = (self._last2 + text)[-2:]

    def _flush(self, force: bool = False) -> None:
        now = self._clock()
        if force or self.coalescer.due(now, 1, 0):
            self._out().flush()
            self.coalescer.mark(now)

    def _line(self, text: str) -> None:
        """A one-liner on its own line."""
        if not self._last2.endswith("\n"):
            self._write("\n")
        self._write(text + "\n")
        self._wrote_text = False
        self._flush(force=True)

    # -- the View interface ------------------------------------------------------------------------
    def start(self, target: str) -> None:
        self._target = target
        self._t0 = self._clock()

    def on_event(self, state: Reduction, event: Event) -> None:
        if self._finished:
            return
        if type(event) is TextDelta:
            if event.item_id != self._item_id:
                self._begin_message(event.item_id)
            self._text(event.delta)
            self._flush()
        elif isinstance(event, ItemDone):
            self._on_item(event.item)
        elif isinstance(event, CustomOutputs):
            self._line("custom outputs: " + render.one_line(json.dumps(event.value, default=str), 200))
        elif isinstance(event, TraceReceived):
            # an app sends the id first and the fetched trace follows: say it once per trace
            if state.trace_id != getattr(self, "_trace_announced", None):
                self._trace_announced = state.trace_id
                self._line(f"trace received{': ' + state.trace_id if state.trace_id else ''}")
        elif isinstance(event, ErrorEvent):
            self._line(f"! {event.message}")
        elif isinstance(event, RequestInfo) and RETRY_NOTE in event.values:
            self._line(f"… {event.values[RETRY_NOTE]}")

    def finish(self, result: AgentResult) -> None:
        if self._finished:
            return
        self._finished = True
        elapsed = result.elapsed if result.elapsed is not None else self._clock() - self._t0
        retries = (result.request_info or {}).get("retries")
        details = [f"{retries} retr{'y' if retries == 1 else 'ies'}"] if isinstance(retries, int) and retries else []
        footer = render.header_text(
            result.target, result.status, elapsed=elapsed, chars=len(result.text or ""), details=details
        )
        if result.status != "completed":
            footer += " — partial answer kept" if result.text else " — no answer text arrived"
            if result.error:
                footer += f": {result.error}"
        self._line(footer)

    # -- text ----------------------------------------------------------------------------------------
    def _text(self, text: str) -> None:
        self._write(text)
        self._wrote_text = True
        self._item_chars += len(text)
        self._item_last = (self._item_last + text)[-_LAST:]

    def _begin_message(self, item_id: str | None) -> None:
        if self._wrote_text:  # a blank line between messages, as in Reduction.text
            newlines = len(self._last2) - len(self._last2.rstrip("\n"))
            self._write("\n" * (2 - newlines))
        self._item_id = item_id
        self._item_chars = 0
        self._item_last = ""
        if item_id is not None:
            self._seen_items.add(item_id)

    def _on_item(self, item: dict[str, Any]) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            final = message_text(item)
            item_id = item.get("id")
            if item_id is not None and item_id == self._item_id:
                n = self._item_chars
                if len(final) > n and final.startswith(self._item_last, n - len(self._item_last)):
                    self._text(final[n:])  # only what the deltas did not already print
            elif (item_id is None or item_id not in self._seen_items) and final:
                self._begin_message(item_id)
                self._text(final)
            self._flush(force=True)
            return
        self._item_id = None
        if kind == "function_call":
            self._line(render.tool_line(item, None))
        elif kind == "function_call_output":
            self._line("  → " + render.one_line(item.get("output", "")))
        elif kind == "reasoning":
            self._line(f"(reasoning: {render.one_line(render.reasoning_text(item)) or 'no text'})")
        else:
            self._line(f"({item.get('type', 'item')}: {render.one_line(item)})")
