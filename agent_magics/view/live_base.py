"""What the widget and display views share: turning events into view changes, and when to send them.

The answer is tracked from the events themselves (never ``state.text``, which joins the whole
answer): text deltas go into a ``MarkdownBlocks`` splitter, so finished blocks are rendered and
sent once and only the tail is re-rendered. Tool calls, reasoning and other items end the current
text segment and appear in order between the segments, as in the final rendering.

Text deltas are coalesced (``Coalescer``: ~5 updates a second whatever the token rate, more when
cheap), and so is a finished message (it usually ends the
stream, and ``finish()`` replaces everything anyway). Other milestones (a tool call or output,
reasoning, custom outputs, a trace, an error) are sent at once: they are rare, and with no timer
thread one held back could stay invisible while the agent waits for a tool.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_magics.core.events import (
    ANONYMOUS,
    RETRY_NOTE,
    CustomOutputs,
    ErrorEvent,
    ItemDone,
    RequestInfo,
    TextDelta,
    TraceReceived,
    message_text,
)
from agent_magics.view import render
from agent_magics.view.blocks import MarkdownBlocks
from agent_magics.view.coalesce import Coalescer

if TYPE_CHECKING:
    from agent_magics.core.events import Event, Reduction
    from agent_magics.core.result import AgentResult

_LAST = 64  # characters of the streaming item kept to check that its final text extends them


class LiveView:
    """Base of the incremental views; subclasses implement the ``_open`` ... ``_finish`` hooks."""

    OVERHEAD = 650  # bytes of one Jupyter message beyond its content (envelope, ids, signature)
    HEADER_PERIOD = 1.0  # seconds between header refreshes while only the counters change
    # Answer characters before a finished block is cut off the tail (MarkdownBlocks): every block is
    # cut as soon as it ends, so that only the block being written is ever re-sent.
    MIN_BLOCK = 1

    def __init__(
        self,
        *,
        max_rate: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        min_rate: float = 5.0,
        resend_ratio: float = 0.0,
        min_block: int | None = None,
        max_tail: int = 4096,
        plain_limit: int | None = 2000,
    ) -> None:
        """``max_rate``: updates a second at most; ``min_rate``/``resend_ratio``: see ``Coalescer``;
        ``min_block``/``max_tail``: see ``MarkdownBlocks``; ``plain_limit``: answer characters in
        the final text/plain part (None: all)."""
        self._clock = clock
        self.coalescer = Coalescer(max_rate, min_rate=min_rate, resend_ratio=resend_ratio)
        self._blocks = MarkdownBlocks(min_block=min_block or self.MIN_BLOCK, max_tail=max_tail)
        # text/plain of the final bundle shows this much answer; the HTML part has all of it.
        self.plain_limit = plain_limit
        self._target = ""
        self._t0 = 0.0
        self._state = "connecting"
        self._note = ""  # a retry's wait, in the header until the answer starts
        self._started = self._finished = False
        # Answer characters so far (as in Reduction.text), for the header: counted here, as deriving
        # it from the Reduction would join the whole answer on every refresh.
        self._chars = 0
        self._new_chars = 0  # since the last update
        self._first_at: float | None = None  # seconds from start() to the first answer text
        self._tail_shown = 0  # characters of the unfinished block on screen (the next update re-sends them)
        self._segment_chars = 0  # in the current text segment (since the last tool call etc.)
        self._item_id: str | None = None  # message item streaming now
        self._item_chars = 0
        self._item_last = ""
        self._seen_items: set[str] = set()
        # Text of anonymous deltas in earlier segments that no finished message has claimed yet: the
        # Reduction keeps all anonymous deltas as one pending message, across tool calls.
        self._anon_chars = 0
        self._anon_last = ""
        self._calls: dict[str, tuple[Any, dict[str, Any]]] = {}  # call_id -> (entry token, call)
        self._header_sent = ""
        self._header_state = ""
        self._header_at = 0.0
        self.sent_bytes = 0  # what the view has sent so far (its messages, envelopes included)

    # -- the View interface ------------------------------------------------------------------------
    def start(self, target: str) -> None:
        self._target = target
        self._t0 = self._clock()
        self._started = True
        self._header_sent = self._header_html(self._t0)
        self._header_state, self._header_at = self._state, self._t0
        self._open(self._header_sent)
        render.answer_html("")  # import and build the markdown parser now, not on the first chunk

    def on_event(self, state: Reduction, event: Event) -> None:
        if self._finished:
            return
        spent_before = self.sent_bytes
        if type(event) is TextDelta:  # the hot path: once per token
            if event.item_id != self._item_id:
                self._begin_message(event.item_id)
            self._feed(event.delta)
            self._maybe_flush(spent_before)
            return
        if isinstance(event, ItemDone):
            if event.item.get("type", "message") == "message":
                # Usually the end of the stream: coalesced like text, so that a fast answer is not
                # sent whole once more just before finish() replaces it.
                self._on_message_done(event.item)
                self._maybe_flush(spent_before)
                return
            self._on_item(event.item)
        elif isinstance(event, CustomOutputs):
            self._set_section("custom", render.custom_outputs_html(state.custom_outputs or {}))
        elif isinstance(event, TraceReceived):
            self._set_section("trace", render.trace_section_html(state.trace, state.trace_id))
        elif isinstance(event, ErrorEvent):
            self._set_section("error", render.error_html("failed", state.error, self._chars))
        elif isinstance(event, RequestInfo) and RETRY_NOTE in event.values:
            self._state, self._note = "retrying", str(event.values[RETRY_NOTE])
        else:  # other RequestInfo, Done: nothing to show (finish() follows Done)
            return
        self._flush(self._clock(), spent_before)

    def finish(self, result: AgentResult) -> None:
        if not self._started:
            self.start(result.target)
        if result.elapsed is None:
            result = dataclasses.replace(result, elapsed=self._clock() - self._t0)
        self._finished = True
        self._finish(result)

    def flush(self) -> None:
        """Send what is pending now (the coalescer would have sent it at the next due event)."""
        if self._started and not self._finished:
            self._flush(self._clock(), self.sent_bytes)

    # -- event handling ----------------------------------------------------------------------------
    def _feed(self, text: str) -> None:
        if self._state in ("connecting", "retrying"):
            self._state, self._note = "streaming", ""
            self._first_at = self._clock() - self._t0
        self._blocks.feed(text)
        n = len(text)
        self._chars += n
        self._new_chars += n
        self._segment_chars += n
        self._item_chars += n
        self._item_last = (self._item_last + text)[-_LAST:]

    def _begin_message(self, item_id: str | None) -> None:
        if self._segment_chars:  # each message is its own piece, as in the static rendering
            self._end_segment()
        self._leave_item()
        # Reduction.text joins messages with a blank line, tool calls between or not; anonymous
        # deltas after earlier unclaimed ones go on the same pending message there.
        if self._chars and not (item_id == ANONYMOUS and self._anon_chars):
            self._chars += 2
        self._item_id = item_id
        self._item_chars = 0
        self._item_last = ""
        if item_id is not None:
            self._seen_items.add(item_id)

    def _on_item(self, item: dict[str, Any]) -> None:
        kind = item.get("type", "message")
        self._end_segment()
        if kind == "function_call":
            call_id = item.get("call_id")
            token = self._add(render.tool_entry_html(item, None, live=True), "tool")
            if isinstance(call_id, str):  # agent data: a list or a number cannot key the table
                self._calls[call_id] = (token, item)
        elif kind == "function_call_output":
            call_id = item.get("call_id")  # agent data: not always a string
            known = self._calls.pop(call_id, None) if isinstance(call_id, str) else None
            if known is not None:
                self._set(known[0], render.tool_entry_html(known[1], item))
            else:
                self._add(render.tool_entry_html(None, item), "tool")
        elif kind == "reasoning":
            self._add(render.reasoning_html(item), "reasoning")
        else:
            self._add(render.other_item_html(item), "other")

    def _on_message_done(self, item: dict[str, Any]) -> None:
        """A finished message is authoritative: show text it has beyond what streamed.

        A final text that contradicts the streamed one is left to the static rendering at the end
        (rare, and re-rendering everything live would cost more than it shows).
        """
        final = message_text(item)
        item_id = item.get("id")
        same = item_id is not None and item_id == self._item_id  # the message that streamed
        # Deltas without an id (ANONYMOUS), then the finished message with one or none: the same
        # message when its text goes on from theirs (as Reduction reads it), even when a tool call
        # came between. It now has that id, so anonymous deltas after it start a message of their own.
        if not same and item_id not in self._seen_items:
            same = self._claim_anonymous(final, item_id)
        n = self._item_chars
        extends = final.startswith(self._item_last, n - len(self._item_last))  # (true when nothing streamed)
        if same:
            if len(final) > n and extends:
                self._feed(final[n:])
        elif (item_id is None or item_id not in self._seen_items) and final:
            self._begin_message(item_id)
            self._feed(final)

    def _claim_anonymous(self, final: str, item_id: str | None) -> bool:
        """Whether the finished message ``final`` is the one the unclaimed anonymous deltas were; if
        so, it becomes the message streaming now, with those deltas as its text so far."""
        if self._item_id not in (ANONYMOUS, None):  # a named message is streaming: not theirs
            return False
        current = self._item_id == ANONYMOUS
        chars = self._anon_chars + (self._item_chars if current else 0)
        last = (self._anon_last + (self._item_last if current else ""))[-_LAST:]
        if chars == 0 or not final.startswith(last, chars - len(last)):
            return False
        self._anon_chars, self._anon_last = 0, ""
        self._item_id, self._item_chars, self._item_last = item_id, chars, last
        if item_id is not None:
            self._seen_items.add(item_id)
        return True

    def _leave_item(self) -> None:
        """The message streaming now is left unfinished (a tool call or another message comes)."""
        if self._item_id == ANONYMOUS:
            self._anon_chars += self._item_chars
            self._anon_last = (self._anon_last + self._item_last)[-_LAST:]
        self._item_id = None
        self._item_chars, self._item_last = 0, ""

    def _end_segment(self) -> None:
        """Freeze all answer text so far (a tool call etc. comes next)."""
        if self._segment_chars:
            frozen, _ = self._blocks.take()
            for source in [*frozen, self._blocks.close()]:
                self._add_answer(source)
            self._set_tail("")
            self._tail_shown = 0
            self._end_message()
        self._segment_chars = 0
        self._leave_item()  # that message is over here: a later one is not its end

    # -- sending -----------------------------------------------------------------------------------
    def _maybe_flush(self, spent_before: int) -> None:
        now = self._clock()
        if self.coalescer.due(now, self._new_chars, self._tail_shown):
            self._flush(now, spent_before)

    def _flush(self, now: float, spent_before: int) -> None:
        """Send what is pending; the coalescer is told how much of it was already on screen."""
        resent = self._tail_shown
        frozen, tail = self._blocks.take()
        for source in frozen:
            self._add_answer(source)
        self._set_tail(render.answer_html(tail) if tail.strip() else "")
        self._tail_shown = len(tail)
        if now - self._header_at >= self.HEADER_PERIOD or self._state != self._header_state:
            header = self._header_html(now)
            if header != self._header_sent:
                self._set_header(header)
                self._header_sent = header
            self._header_state, self._header_at = self._state, now
        self.coalescer.mark(now, self._new_chars, resent)
        self._new_chars = 0

    def _header_html(self, now: float) -> str:
        details = (self._note,) if self._note else ()
        metrics = []
        if self._first_at is not None:
            first = f"first token {render.fmt_seconds(self._first_at)}"
            metrics.append(render.Metric(first, render.FIRST_TOKEN_TITLE, "first-token"))
        return render.header_html(
            self._target, self._state, elapsed=now - self._t0, chars=self._chars, details=details, metrics=metrics
        )

    def _spend(self, content_bytes: int) -> None:
        """Count one message carrying ``content_bytes`` (the views call it as they send)."""
        self.sent_bytes += self.OVERHEAD + content_bytes

    def _final_plain(self, result: AgentResult) -> str:
        return render.render_result_text(result, max_answer_chars=self.plain_limit)

    # -- hooks ---------------------------------------------------------------------------------------
    def _open(self, header_html: str) -> None:
        raise NotImplementedError

    def _add(self, html: str, kind: str = "message") -> Any:
        """Append a finished piece (an answer block, or a ``tool`` / ``reasoning`` / ``other`` entry)
        to the body; returns a token for _set."""
        raise NotImplementedError

    def _add_answer(self, source: str) -> None:
        """Append a finished block of the answer (markdown ``source``; may be blank)."""
        if source.strip():
            self._add(render.answer_html(source))

    def _end_message(self) -> None:
        """The message whose text was streaming is complete (all its blocks were added)."""

    def _set(self, token: Any, html: str) -> None:
        raise NotImplementedError

    def _set_tail(self, html: str) -> None:
        raise NotImplementedError

    def _set_header(self, html: str) -> None:
        raise NotImplementedError

    def _set_section(self, name: str, html: str) -> None:
        """Set the ``error``, ``custom`` or ``trace`` section."""
        raise NotImplementedError

    def _finish(self, result: AgentResult) -> None:
        """Leave the static rendering of ``result`` (by default: replace everything with its bundle)."""
        self._replace({"text/plain": self._final_plain(result), "text/html": render.render_result_html(result)})

    def _replace(self, bundle: dict[str, str]) -> None:
        raise NotImplementedError
