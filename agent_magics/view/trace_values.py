"""Span inputs and outputs as a reader wants them: no null fields, chats as conversations, bounded.

A Responses request logged as a span input carries a wall of ``"tool_choice": null,
"truncation": null, ...``: :func:`prune` drops null and empty fields. Chat messages (Chat
Completions, ChatAgent, Responses items) are shown as a conversation: role, text, tool calls as
name + arguments, tool outputs. Everything else is pretty-printed JSON.

Sizes are bounded by a :class:`Budget` shared by one panel: each value shows its first
``max_chars`` characters (a small overflow is shown whole rather than cut), the next part up to
``EXPAND_CHARS`` behind a "more" toggle, and past that only its full size is stated; once the
panel's budget is spent, values are left out with their size. The whole trace stays on the result.
All text reaches the markup through :func:`~agent_magics.view.sanitize.escape`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from agent_magics.core.text import shorten
from agent_magics.view import trace_style as st
from agent_magics.view.sanitize import escape, to_display_text

EXPAND_CHARS = 8_000  # characters of one value a panel can hold in all (head + "more")
PANEL_BUDGET = 300_000  # characters of escaped values (and the markup around messages) in one panel
MAX_MESSAGES = 50  # chat messages or items shown for one value; the rest are counted
_PRUNE_DEPTH = 40  # deeper structures are shown as they are
_CHAT_ROLES = frozenset({"user", "assistant", "system", "developer", "tool", "function"})
_ITEM_TYPES = frozenset({"message", "function_call", "function_call_output", "reasoning"})
_TEXT_PARTS = frozenset({"text", "input_text", "output_text", "summary_text", "reasoning_text"})
_ENVELOPE = frozenset({"object"})  # "object": "response" says nothing next to the conversation
WHOLE_TRACE = "the whole trace is on the result (result.trace)"


def prune(value: Any, depth: int = 0) -> Any:
    """``value`` without None, empty strings, empty lists and empty dicts inside dicts.

    List items are kept in place (their position means something), pruned inside.
    """
    if depth > _PRUNE_DEPTH:
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = prune(item, depth + 1)
            if not _is_empty(item):
                out[key] = item
        return out
    if isinstance(value, list):
        return [prune(item, depth + 1) for item in value]
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


class Budget:
    """Escapes text into ``<pre>``/text blocks, cut to size, within one panel's budget."""

    def __init__(self, max_chars: int, total: int = PANEL_BUDGET) -> None:
        self.max_chars = max(0, max_chars)
        self.left = total

    @property
    def full(self) -> bool:
        return self.left <= 0

    def spend(self, markup: str) -> str:
        """``markup`` (already escaped) counted against the panel's budget; returned as it is."""
        self.left -= len(markup)
        return markup

    def with_markup(self, build: Callable[[], str]) -> str:
        """What ``build`` makes, its markup counted too (its text counts itself through :meth:`text`)."""
        before = self.left
        html = build()
        self.left -= max(0, len(html) - (before - self.left))
        return html

    def text(self, text: str, style: str = st.PRE, tag: str = "pre") -> str:
        """``text`` escaped in a ``<tag>``: cut past ``max_chars`` (with slack), the rest stated."""
        limit = self.max_chars
        slack = max(limit // 4, 200)  # "51 more characters" is not worth a cut
        head_len = len(text) if len(text) <= limit + slack else limit
        head = escape(text[:head_len])
        if len(head) > self.left:
            return (
                f'<div style="{st.LABEL}">({len(text):,} characters left out: this panel is full; {WHOLE_TRACE})</div>'
            )
        self.left -= len(head)
        if head_len == len(text):
            return f'<{tag} style="{style}">{head}</{tag}>'
        return f'<{tag} style="{style}">{head}…</{tag}>{self._rest(text, head_len, style, tag)}'

    def _rest(self, text: str, shown: int, style: str, tag: str) -> str:
        """The part after the head, up to ``EXPAND_CHARS`` of the value, behind a toggle."""
        end = min(len(text), max(EXPAND_CHARS, shown))
        more = len(text) - shown
        rest = escape(text[shown:end])
        if end <= shown or len(rest) > self.left:
            return f'<div style="{st.LABEL}">{more:,} more characters ({len(text):,} in all; {WHOLE_TRACE})</div>'
        self.left -= len(rest)
        if end == len(text):
            label = f"{more:,} more characters"
        else:
            label = f"{end - shown:,} more characters of {more:,} ({len(text):,} in all; {WHOLE_TRACE})"
        return (
            f'<details><summary style="cursor:pointer;{st.LABEL}">{label}</summary>'
            f'<{tag} style="{style}">{rest}</{tag}></details>'
        )


def display(value: Any) -> str:
    try:
        return to_display_text(prune(value))
    except RecursionError:  # a value nested deeper than json can walk
        return "(value too deeply nested to show)"


def value_html(label: str, value: Any, budget: Budget) -> str:
    """A labelled input/output: a conversation when it holds chat messages, else JSON or text."""
    value = prune(value) if isinstance(value, (dict, list)) else value
    if _is_empty(value):
        return ""
    parts = [f'<div style="{st.LABEL}">{escape(label)}</div>']
    if budget.full:  # one short line for the whole value, not one per message
        return parts[0] + f'<div style="{st.LABEL}">(left out: this panel is full; {WHOLE_TRACE})</div>'
    messages, rest = conversation(value)
    if messages:
        for index, message in enumerate(messages):
            if index == MAX_MESSAGES or budget.full:
                left = len(messages) - index
                parts.append(f'<div style="{st.LABEL}">{left:,} more message{"s" * (left != 1)} ({WHOLE_TRACE})</div>')
                break
            parts.append(budget.with_markup(functools.partial(message_html, message, budget)))
        if rest:
            parts.append(f'<div style="{st.LABEL}">other fields</div>{budget.text(display(rest))}')
    else:
        parts.append(budget.text(display(value)))
    return "".join(parts)


# -- conversations -----------------------------------------------------------------------------


def conversation(value: Any) -> tuple[list[dict[str, Any]], Any]:
    """(the chat messages/items in ``value``, what else it holds) — ([], value) when it is no chat."""
    if _is_chat(value):
        return list(value), None
    if not isinstance(value, dict):
        return [], value
    if _is_chat([value]) and ("content" in value or "tool_calls" in value):  # one message
        return [value], None
    for key in ("messages", "input", "output"):
        if _is_chat(value.get(key)):
            rest = {k: v for k, v in value.items() if k != key and k not in _ENVELOPE}
            return list(value[key]), rest or None
    request = value.get("request")  # a ResponsesAgent's predict(request) span
    if len(value) == 1 and isinstance(request, dict):
        messages, rest = conversation(request)
        if messages:
            return messages, rest
    choices = value.get("choices")
    if isinstance(choices, list) and choices and all(isinstance(c, dict) for c in choices):
        found = [c.get("message") or c.get("delta") for c in choices]
        if all(isinstance(m, dict) for m in found):
            return found, {k: v for k, v in value.items() if k != "choices"} or None
    return [], value


def _is_chat(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    return all(
        isinstance(item, dict) and (_one_of(item.get("role"), _CHAT_ROLES) or _one_of(item.get("type"), _ITEM_TYPES))
        for item in value
    )


def _one_of(value: Any, names: frozenset[str]) -> bool:
    return isinstance(value, str) and value in names  # agent data: a list here must not raise


def message_html(item: dict[str, Any], budget: Budget) -> str:
    """One chat message or Responses item: role and text, tool calls as name + arguments."""
    kind = item.get("type")
    if kind == "function_call":
        return _tool_call_html(item.get("name"), item.get("arguments"), budget)
    if kind == "function_call_output" or item.get("role") in ("tool", "function"):
        output = item.get("output", item.get("content"))
        text = _as_text(output)
        block = budget.text(text) if text[:1] in ("{", "[") else budget.text(text, st.TEXT, "div")
        return _block("tool output", st.ROLE_COLOURS["tool"], block)
    if kind == "reasoning":
        return _block("reasoning", st.UNKNOWN_COLOUR, budget.text(_parts_text(item.get("summary")), st.TEXT, "div"))
    role = item.get("role")
    role = shorten(role, 40) if isinstance(role, str) and role else "message"  # agent data: any size, any type
    body = []
    text = _parts_text(item.get("content"))
    if text:
        body.append(budget.text(text, st.TEXT, "div"))
    calls = item.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        if isinstance(call, dict):
            inner = call.get("function")
            function: dict[str, Any] = inner if isinstance(inner, dict) else call
            body.append(_tool_call_html(function.get("name"), function.get("arguments"), budget))
    colour = st.ROLE_COLOURS.get(role, st.UNKNOWN_COLOUR)
    return _block(role, colour, "".join(body) or f'<div style="{st.MUTED}">(empty)</div>')


def _tool_call_html(name: Any, arguments: Any, budget: Budget) -> str:
    tool = f" <code>{escape(name[:200])}</code>" if isinstance(name, str) and name else ""
    return _block("tool call", st.ROLE_COLOURS["tool"], budget.text(_as_text(arguments)), tool)


def _block(label: str, colour: str, body: str, after_label: str = "") -> str:
    return (
        f'<div style="{st.MESSAGE}{colour}"><div><span style="{st.ROLE}">{escape(label)}</span>{after_label}</div>'
        f"{body}</div>"
    )


def _parts_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts.

    Not ``core.text.content_text``: a trace shows everything it recorded, so parts that are not
    text are shown as JSON, and parts are kept apart by blank lines."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else display(content)
    texts = []
    for part in content:
        if (
            isinstance(part, dict)
            and _one_of(part.get("type", "text"), _TEXT_PARTS)
            and isinstance(part.get("text"), str)
        ):
            texts.append(part["text"])
        elif isinstance(part, str):
            texts.append(part)
        elif part is not None:
            texts.append(display(part))
    return "\n\n".join(texts)


def _as_text(value: Any) -> str:
    """Tool arguments and outputs: JSON text pretty-printed without its null fields."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return display(parsed) if isinstance(parsed, (dict, list)) else value
    return "" if value is None else display(value)
