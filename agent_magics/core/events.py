"""The one event vocabulary every engine speaks, and the reducer that folds events into a result.

Engines turn their wire format (Responses SSE, ChatAgent chunks, chat-completion chunks, plain
JSON bodies) into these events. Output items are always in the *Responses* item shape
(``message`` / ``function_call`` / ``function_call_output`` / ``reasoning`` ...), whatever the
wire format was, so views and results never need to know which API carried them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["completed", "failed", "interrupted", "incomplete"]


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text for the message item ``item_id``."""

    item_id: str
    delta: str


@dataclass(frozen=True)
class ItemDone:
    """A finished output item (Responses shape); authoritative over earlier deltas."""

    item: dict[str, Any]


@dataclass(frozen=True)
class CustomOutputs:
    value: dict[str, Any]


@dataclass(frozen=True)
class TraceReceived:
    """A trace came back: the full MLflow trace dict, or only its id (apps)."""

    trace: dict[str, Any] | None = None
    trace_id: str | None = None


# A RequestInfo key for the live view only: the wait a retry is starting ("429 from x: retrying in 1 s, 1 of 3").
RETRY_NOTE = "retry_note"


@dataclass(frozen=True)
class RequestInfo:
    """Server-side request metadata (``databricks_request_id``, usage, ``retries``...)."""

    values: dict[str, Any]


@dataclass(frozen=True)
class ErrorEvent:
    """The agent or the transport failed; ``message`` is already user-readable."""

    message: str


@dataclass(frozen=True)
class Done:
    status: Status = "completed"


Event = TextDelta | ItemDone | CustomOutputs | TraceReceived | RequestInfo | ErrorEvent | Done


def message_text(item: dict[str, Any]) -> str:
    """The visible text of a Responses ``message`` item ("" for other items)."""
    if item.get("type", "message") != "message":
        return ""
    content = item.get("content")
    if isinstance(content, str):
        return content
    parts = []
    for part in content or []:
        if isinstance(part, dict):
            text = part.get("text") if part.get("type") != "refusal" else part.get("refusal")
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts)


@dataclass
class Reduction:
    """What the events of one call add up to. ``AgentResult`` is built from this."""

    output: list[dict[str, Any]] = field(default_factory=list)
    custom_outputs: dict[str, Any] | None = None
    trace: dict[str, Any] | None = None
    trace_id: str | None = None
    request_info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    status: Status | None = None
    # Chunks of message items still streaming (no ItemDone yet), by item id, in arrival order.
    # Kept as lists and joined on demand: appending to a str per token would be quadratic.
    pending_chunks: dict[str, list[str]] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """All answer text so far: finished messages, then any still-streaming message."""
        done = [message_text(item) for item in self.output if item.get("type", "message") == "message"]
        pending = ["".join(chunks) for chunks in self.pending_chunks.values()]
        return "\n\n".join(t for t in [*done, *pending] if t)


def reduce_event(state: Reduction, event: Event) -> Reduction:
    """Fold one event into ``state`` (mutated and returned, so a loop stays cheap)."""
    if isinstance(event, TextDelta):
        chunks = state.pending_chunks.get(event.item_id)
        if chunks is None:
            state.pending_chunks[event.item_id] = [event.delta]
        else:
            chunks.append(event.delta)
            # Merged like a binary counter (sizes decrease along the list): a long answer is a few
            # dozen strings, not one ~60-byte object per token (8x the text), and each character is
            # copied O(log n) times.
            while len(chunks) > 1 and len(chunks[-2]) <= len(chunks[-1]):
                last = chunks.pop()
                chunks[-1] += last
    elif isinstance(event, ItemDone):
        item = event.item
        item_id = item.get("id")
        if item.get("type", "message") == "message" and item_id is not None:
            state.pending_chunks.pop(item_id, None)
        state.output.append(item)
    elif isinstance(event, CustomOutputs):
        state.custom_outputs = {**(state.custom_outputs or {}), **event.value}
    elif isinstance(event, TraceReceived):
        if event.trace is not None:
            state.trace = event.trace
        if event.trace_id:
            state.trace_id = event.trace_id
        elif event.trace is not None:
            info = event.trace.get("info") or {}
            state.trace_id = info.get("trace_id") or info.get("request_id") or state.trace_id
    elif isinstance(event, RequestInfo):
        state.request_info.update(event.values)
    elif isinstance(event, ErrorEvent):
        state.error = event.message if state.error is None else f"{state.error}; {event.message}"
    elif isinstance(event, Done):
        state.status = event.status
    return state


def finish(state: Reduction, status: Status | None = None) -> Reduction:
    """Close a reduction: text still streaming becomes a message item, the status is settled.

    Partial text is never dropped: an interrupted or failed stream keeps what arrived as a
    message item, and the status says it is incomplete.
    """
    for item_id, chunks in list(state.pending_chunks.items()):
        text = "".join(chunks)
        state.output.append(
            {
                "type": "message",
                "id": item_id,
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        )
    state.pending_chunks.clear()
    if status is not None:
        state.status = status
    elif state.status is None or (state.error and state.status == "completed"):
        state.status = "failed" if state.error else "completed"
    return state
