"""The one event vocabulary every engine speaks, and the reducer that folds events into a result.

Engines turn their wire format (Responses SSE, ChatAgent chunks, chat-completion chunks, plain
JSON bodies) into these events. Output items are always in the *Responses* item shape
(``message`` / ``function_call`` / ``function_call_output`` / ``reasoning`` ...), whatever the
wire format was, so views and results never need to know which API carried them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from agent_magics.core.text import content_text

Status = Literal["completed", "failed", "interrupted", "incomplete"]


# The item id the wire parsers give text that came without one.
ANONYMOUS = "message"


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text for the message item ``item_id`` (``ANONYMOUS`` when the server named none)."""

    item_id: str
    delta: str


@dataclass(frozen=True)
class ItemDone:
    """A finished output item (Responses shape); authoritative over earlier deltas.

    Made readable on construction (:func:`readable_item`), so no view or renderer meets an id that
    is a list or a string that cannot be encoded.
    """

    item: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "item", readable_item(self.item))


@dataclass(frozen=True)
class CustomOutputs:
    value: dict[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", scrub(self.value))


@dataclass(frozen=True)
class TraceReceived:
    """A trace came back: the full MLflow trace dict, or only its id (apps)."""

    trace: dict[str, Any] | None = None
    trace_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "trace", scrub(self.trace))
        if self.trace_id is not None:
            object.__setattr__(self, "trace_id", scrub_text(str(self.trace_id)))


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


def scrub_text(text: str) -> str:
    """``text`` without lone surrogates (JSON allows ``"\\ud800"``; UTF-8, hence a notebook, does not)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


MAX_DEPTH = 64  # nesting kept in agent data; deeper is no real answer, and rendering it would recurse
TOO_DEEP = "[nested too deep]"


def scrub(value: Any, depth: int = 0) -> Any:
    """``value`` with every string scrubbed, and anything nested deeper than ``MAX_DEPTH`` replaced by
    ``TOO_DEEP`` (the same object when nothing needed either)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, (dict, list)) and depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        pairs = [(scrub(k) if isinstance(k, str) else k, scrub(v, depth + 1)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if isinstance(value, list):
        items = [scrub(v, depth + 1) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


_STRING_FIELDS = ("type", "id", "call_id", "name", "role", "status")


def readable_item(item: Any) -> dict[str, Any]:
    """An output item whose key fields have the types every view expects; nothing else changes.

    Agent data is untrusted: an id may be a list, a name a number, ``arguments`` an object.
    Those become their JSON text, so the item still shows what the agent sent.
    """
    if not isinstance(item, dict):
        return {"type": "unreadable", "value": scrub(item)}
    item = scrub(item)
    fixed: dict[str, Any] | None = None
    for key in _STRING_FIELDS:
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            fixed = fixed if fixed is not None else dict(item)
            fixed[key] = _as_text(value)
    arguments = item.get("arguments")
    if arguments is not None and not isinstance(arguments, str):
        fixed = fixed if fixed is not None else dict(item)
        fixed["arguments"] = _as_text(arguments)
    return fixed if fixed is not None else item


def _as_text(value: Any) -> str:
    import json

    return json.dumps(value, default=str, ensure_ascii=False)


Event = TextDelta | ItemDone | CustomOutputs | TraceReceived | RequestInfo | ErrorEvent | Done


def message_text(item: dict[str, Any]) -> str:
    """The visible text of a Responses ``message`` item ("" for other items)."""
    if item.get("type", "message") != "message":
        return ""
    return content_text(item.get("content"))


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
        if item.get("type", "message") == "message":
            if item_id in state.pending_chunks:
                state.pending_chunks.pop(item_id)
            elif ANONYMOUS in state.pending_chunks and message_text(item).startswith(
                "".join(state.pending_chunks[ANONYMOUS])
            ):  # deltas without an item id, then the finished message with one: the same message
                state.pending_chunks.pop(ANONYMOUS)
        state.output.append(item)
    elif isinstance(event, CustomOutputs):
        state.custom_outputs = {**(state.custom_outputs or {}), **event.value}
    elif isinstance(event, TraceReceived):
        if event.trace is not None:
            state.trace = event.trace
        if event.trace_id:
            state.trace_id = event.trace_id
        elif event.trace is not None:
            info = event.trace.get("info")
            found = (info.get("trace_id") or info.get("request_id")) if isinstance(info, dict) else None
            state.trace_id = str(found) if found else state.trace_id
    elif isinstance(event, RequestInfo):
        state.request_info.update(event.values)
    elif isinstance(event, ErrorEvent):
        message = scrub_text(event.message)
        state.error = message if state.error is None else f"{state.error}; {message}"
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
