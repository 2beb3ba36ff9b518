"""Static rendering of a finished (or failed / interrupted) ``AgentResult``: sanitised HTML and text.

This is what stays in the notebook once the live view is gone, so it must read well without
JavaScript, widgets or stylesheets: inline ``style=`` attributes only (JupyterLab's untrusted-output
sanitiser, nbconvert, GitHub and Databricks keep those but drop ``<style>`` blocks), ``<details>``
for everything collapsible. Every piece of agent data passes through ``sanitize``.

The fragment builders (``header_html``, ``tool_entry_html``, ...) are shared with the live views so
that the live and the final output look the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from agent_magics.core.text import one_line as text_one_line
from agent_magics.core.text import terminal_safe
from agent_magics.view.sanitize import NO_MATH, escape, markdown_to_html, pre_block, to_display_text
from agent_magics.view.trace_style import themed

# -- inline styles (rgba colours so that light and dark themes both work) --------------------------
ROOT_STYLE = "line-height:1.5;" + themed("font-size", "--jp-content-font-size1", "14px") + ";"
ANSWER_STYLE = "line-height:1.5;"
_HEADER = "margin:0 0 .3em 0;font-size:.9em;line-height:1.5;"
_MUTED = "opacity:0.7;"
_BADGE = "padding:0 .45em;border-radius:.6em;font-size:.85em;white-space:nowrap;"
_BADGE_COLOURS = {
    "completed": "background:rgba(46,160,67,.18);",
    "streaming": "background:rgba(56,139,253,.18);",
    "connecting": "background:rgba(127,127,127,.18);",
    "failed": "background:rgba(218,54,51,.22);",
    "interrupted": "background:rgba(210,153,34,.25);",
    "incomplete": "background:rgba(210,153,34,.25);",
}
_ENTRY = "margin:.2em 0;padding-left:.6em;border-left:3px solid rgba(127,127,127,.35);"
_SUMMARY = "cursor:pointer;"
_LABEL = "font-size:.8em;opacity:0.7;margin-top:.2em;"
_PRE = "max-height:24em;overflow:auto;margin:.1em 0;padding:.3em .5em;font-size:.85em;white-space:pre-wrap;"
_ERROR = "margin:.3em 0;padding:.3em .6em;border-left:3px solid rgba(218,54,51,.9);background:rgba(218,54,51,.08);"

# Limits for data shown verbatim (tool arguments/outputs, custom outputs): the result keeps it all.
ARGS_LIMIT = 4000
OUTPUT_LIMIT = 4000
CUSTOM_LIMIT = 8000
_PREVIEW = 80


# -- small helpers ----------------------------------------------------------------------------------
def fmt_seconds(seconds: float | None) -> str:
    """A call's elapsed time as its header shows it: tenths of a second, then minutes.

    Not ``core.trace.format_duration`` (ms precision for spans): this one ticks in a live header ten
    times a second, where ms digits would flicker, and a header without a time says nothing."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s"


def fmt_chars(n: int) -> str:
    return f"{n:,} char" + ("" if n == 1 else "s")


def _pre(value: Any, limit: int | None) -> str:
    # pre_block escapes its content; only its fixed opening tag is touched here, to add the style.
    opening = f'<pre class="am-pre {NO_MATH}">'
    return pre_block(value, limit).replace(opening, f'<pre class="am-pre {NO_MATH}" style="{_PRE}">', 1)


def one_line(value: Any, limit: int = _PREVIEW) -> str:
    return text_one_line(to_display_text(value), limit)


def _details(summary_html: str, body_html: str, *, open_: bool = False) -> str:
    return (
        f'<details class="{NO_MATH}" style="{_ENTRY}"' + (" open" if open_ else "") + ">"
        f'<summary style="{_SUMMARY}">{summary_html}</summary>{body_html}</details>'
    )


LIVE_STATES = ("connecting", "retrying", "streaming")


def badge(state: str) -> str:
    style = _BADGE + _BADGE_COLOURS.get(state, _BADGE_COLOURS["connecting"])
    live = ' class="am-live"' if state in LIVE_STATES else ""  # the answer is still coming
    return f'<span{live} style="{style}">{escape(state)}</span>'


def answer_html(markdown_text: str) -> str:
    """Agent markdown → sanitised HTML, in a block that undoes the widget's 28px line height."""
    return f'<div class="am-answer {NO_MATH}" style="{ANSWER_STYLE}">{markdown_to_html(markdown_text)}</div>'


# -- fragments shared with the live views -----------------------------------------------------------
# What each number in the header counts (its tooltip; the README says the same).
TOKENS_TITLE = "tokens the server counted (usage): in = the whole input sent, out = the answer"
FIRST_TOKEN_TITLE = "time to first token: from sending the request to the first answer text"
RATE_TITLE = "output tokens per second, from the first answer text to the end"
TOTAL_TITLE = "duration: from sending the request to the complete answer"


@dataclass(frozen=True)
class Metric:
    """One number of the header: what it shows, and what it counts."""

    text: str
    title: str = ""
    name: str = ""  # for tests and CSS: am-metric-<name>


def header_html(
    target: str,
    state: str,
    *,
    elapsed: float | None = None,
    chars: int | None = None,
    details: Iterable[str] = (),
    metrics: Iterable[Metric] = (),
) -> str:
    parts = [Metric(fmt_seconds(elapsed), TOTAL_TITLE, "total")] if elapsed is not None else []
    if chars is not None:
        parts.append(Metric(fmt_chars(chars), "characters of answer text", "chars"))
    parts += [*metrics, *(Metric(d) for d in details if d)]
    spans = " · ".join(
        f'<span class="am-metric am-metric-{escape(m.name)}"' + (f' title="{escape(m.title)}"' if m.title else "")
        + f">{escape(m.text)}</span>"
        for m in parts
        if m.text
    )  # fmt: skip
    info = f' <span style="{_MUTED}">· {spans}</span>' if spans else ""
    head = f"<strong>{escape(target)}</strong> {badge(state)}{info}"
    return f'<div class="am-header {NO_MATH}" style="{_HEADER}">{head}</div>'


def result_metrics(result: Any) -> list[Metric]:
    """Tokens in/out (usage), time to first token and tokens/s of a finished result, when known."""
    usage = result.usage
    metrics: list[Metric] = []
    if "input_tokens" in usage or "output_tokens" in usage:
        counts = [
            f"{usage[k]:,} {label}" for k, label in (("input_tokens", "in"), ("output_tokens", "out")) if k in usage
        ]
        metrics.append(Metric(" / ".join(counts) + " tokens", TOKENS_TITLE, "tokens"))
    first = result.timings.get("first_text")
    if first is not None:
        metrics.append(Metric(f"first token {fmt_seconds(first)}", FIRST_TOKEN_TITLE, "first-token"))
    rate = result.tokens_per_second
    if rate is not None:
        metrics.append(Metric(f"{rate:,.0f} tokens/s", RATE_TITLE, "rate"))
    return metrics


_QUESTION = "margin:0 0 .3em 0;font-size:.85em;"
_QUESTION_TEXT = (
    "white-space:pre-wrap;margin:.2em 0 .1em 0;padding:.3em .6em;border-radius:3px;background:rgba(127,127,127,.08);"
)


def asked(items: list[dict[str, Any]]) -> tuple[str, int] | None:
    """The last user message sent (the question, after ``{name}`` filling) and its turn number."""
    users = [item for item in items if item.get("role") == "user"]
    if not users:
        return None
    content = users[-1].get("content")
    if isinstance(content, list):  # Responses content parts
        content = "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return (content if isinstance(content, str) else to_display_text(content)), len(users)


def question_html(items: list[dict[str, Any]]) -> str:
    """The question actually sent, collapsed to one line above the answer; ``turn N`` after the first."""
    found = asked(items)
    if found is None:
        return ""
    from agent_magics.core.secrets import redact

    text, turn = redact(found[0]), found[1]
    label = f"asked · turn {turn}" if turn > 1 else "asked"
    summary = f'<span style="{_MUTED}">{escape(label)}:</span> {escape(one_line(text))}'
    return (
        f'<details class="am-question {NO_MATH}" style="{_QUESTION}">'
        f'<summary style="{_SUMMARY}">{summary}</summary><div style="{_QUESTION_TEXT}">{escape(text)}</div></details>'
    )


def tool_entry_html(call: dict[str, Any] | None, output: dict[str, Any] | None, *, live: bool = False) -> str:
    """A tool call and its output (either may be missing) as one collapsible entry."""
    name = str((call or {}).get("name") or "tool")
    args = (call or {}).get("arguments")
    summary = f"⚙ <code>{escape(name)}</code>"
    if call is not None:
        summary += f'<span style="{_MUTED}">({escape(one_line(args or ""))})</span>'
    if output is None:
        summary += f' <span style="{_MUTED}">{"running…" if live else "no output"}</span>'
    body = ""
    if call is not None:
        body += f'<div style="{_LABEL}">arguments</div>{_pre(args if args is not None else "", ARGS_LIMIT)}'
    if output is not None:
        value = output.get("output", "")
        summary += f' <span style="{_MUTED}">→ {escape(fmt_chars(len(to_display_text(value))))}</span>'
        body += f'<div style="{_LABEL}">output</div>{_pre(value, OUTPUT_LIMIT)}'
    return _details(summary, body)


def reasoning_text(item: dict[str, Any]) -> str:
    parts: list[str] = []
    for key in ("summary", "content"):
        parts_of = item.get(key)
        for part in parts_of if isinstance(parts_of, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "\n\n".join(parts)


def reasoning_html(item: dict[str, Any]) -> str:
    text = reasoning_text(item)
    body = answer_html(text) if text else f'<div style="{_MUTED}">(no reasoning text)</div>'
    return _details(f'<span style="{_MUTED}">reasoning</span>', body)


def other_item_html(item: dict[str, Any]) -> str:
    kind = str(item.get("type") or "item")
    return _details(f'<span style="{_MUTED}">{escape(kind)}</span>', _pre(item, OUTPUT_LIMIT))


def unreadable_html(payload: Any, exc: Exception) -> str:
    summary = f'<span style="{_MUTED}">unreadable item ({escape(type(exc).__name__)})</span>'
    return _details(summary, _pre(repr(payload), OUTPUT_LIMIT))


def custom_outputs_html(value: dict[str, Any]) -> str:
    keys = ", ".join(str(k) for k in value)
    summary = f'custom outputs <span style="{_MUTED}">({escape(one_line(keys))})</span>'
    return _details(summary, _pre(value, CUSTOM_LIMIT))


def trace_section_html(trace: dict[str, Any] | None, trace_id: str | None) -> str:
    if trace is None:
        if not trace_id:
            return ""
        return f'<div class="{NO_MATH}" style="{_HEADER}{_MUTED}">trace id <code>{escape(trace_id)}</code></div>'
    try:
        from agent_magics.view.trace_html import trace_to_html

        return trace_to_html(trace)
    except Exception:  # the trace renderer is optional here: never lose the answer over it
        label = f"trace <code>{escape(trace_id)}</code>" if trace_id else "trace"
        return _details(label, _pre(trace, CUSTOM_LIMIT))


def error_html(status: str, error: str | None, chars: int) -> str:
    """The highlighted note shown when a call did not complete (or completed with an error)."""
    if status == "completed" and not error:
        return ""
    head = {"failed": "Failed", "interrupted": "Interrupted", "incomplete": "Incomplete"}.get(status, "Error")
    message = f": {escape(error)}" if error else ""
    if status == "completed":
        kept = ""
    elif not chars:
        kept = "no answer text arrived"
    elif error and "partial answer kept" in error:  # the runner's interrupt message already says so
        kept = fmt_chars(chars)
    else:
        kept = f"partial answer kept ({fmt_chars(chars)})"
    tail = f' <span style="{_MUTED}">— {kept}</span>' if kept else ""
    return f'<div class="am-error {NO_MATH}" style="{_ERROR}"><strong>{head}</strong>{message}{tail}</div>'


# -- the ordered body: messages, tool calls with their outputs, reasoning, other items -------------
def _body_items(output: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """Output items in order as (kind, payload); tool outputs attach to their call by call_id."""
    outputs = {
        item.get("call_id"): item
        for item in output
        if item.get("type") == "function_call_output" and item.get("call_id") is not None
    }
    call_ids = {item.get("call_id") for item in output if item.get("type") == "function_call"}
    body: list[tuple[str, Any]] = []
    for item in output:
        kind = item.get("type", "message")
        if kind == "message":
            body.append(("message", item))
        elif kind == "function_call":
            body.append(("tool", (item, outputs.get(item.get("call_id")))))
        elif kind == "function_call_output":
            if item.get("call_id") not in call_ids:  # an output whose call we never saw
                body.append(("tool", (None, item)))
        elif kind == "reasoning":
            body.append(("reasoning", item))
        else:
            body.append(("other", item))
    return body


def _header_details(result: Any) -> list[str]:
    extra = []
    if result.interface:
        extra.append(result.interface + (f" via {result.via}" if result.via else ""))
    elif result.via:
        extra.append(f"via {result.via}")
    retries = (result.request_info or {}).get("retries")
    if isinstance(retries, int) and retries > 0:
        extra.append(f"{retries} retr{'y' if retries == 1 else 'ies'}")
    return extra


@dataclass(frozen=True)
class Part:
    """One piece of the static rendering, in order: ``head`` (header + error note), then the body
    (``message`` with its ``text``, ``tool``, ``reasoning``, ``other``), then ``custom`` and ``trace``."""

    kind: str
    html: str
    text: str = ""


def result_parts(result: Any, *, render_messages: bool = True) -> list[Part]:
    """The static rendering of a result as its ordered, non-empty parts (each sanitised HTML).

    ``render_messages=False`` leaves the HTML of messages empty (their ``text`` is there): a live
    view that already shows them compares texts and need not render a long answer once more.
    """
    from agent_magics.core.events import message_text

    def answer(text: str) -> str:
        return answer_html(text) if render_messages else ""

    text = result.text or ""
    head = header_html(
        result.target,
        result.status,
        elapsed=result.elapsed,
        chars=len(text),
        details=_header_details(result),
        metrics=result_metrics(result),
    ) + error_html(result.status, result.error, len(text))
    parts = [Part("head", head + question_html(result.input))]
    body = _body_items(result.output)
    if not any(kind == "message" for kind, _ in body) and text:  # text without message items
        parts.append(Part("message", answer(text), text))
    for kind, payload in body:
        try:
            if kind == "message":
                message = message_text(payload)
                if message:
                    parts.append(Part("message", answer(message), message))
            elif kind == "tool":
                parts.append(Part("tool", tool_entry_html(*payload)))
            elif kind == "reasoning":
                parts.append(Part("reasoning", reasoning_html(payload)))
            else:
                parts.append(Part("other", other_item_html(payload)))
        except Exception as exc:  # agent data no renderer foresaw: say so, keep the rest
            parts.append(Part("other", unreadable_html(payload, exc)))
    if result.custom_outputs:
        parts.append(Part("custom", custom_outputs_html(result.custom_outputs)))
    trace = trace_section_html(result.trace_dict, result.trace_id)
    if trace:
        parts.append(Part("trace", trace))
    return parts


def render_result_html(result: Any) -> str:
    """The static, sanitised HTML of a result (self-contained, inline styles only)."""
    html = "".join(part.html for part in result_parts(result))
    return f'<div class="agent-magics-result {NO_MATH}" style="{ROOT_STYLE}">{html}</div>'


# -- plain text ------------------------------------------------------------------------------------
def header_text(
    target: str,
    state: str,
    *,
    elapsed: float | None,
    chars: int,
    details: Iterable[str] = (),
    metrics: Iterable[Metric] = (),
) -> str:
    parts = [target, state, fmt_seconds(elapsed), fmt_chars(chars), *(m.text for m in metrics), *details]
    return "[" + " · ".join(p for p in parts if p) + "]"


def tool_line(call: dict[str, Any] | None, output: dict[str, Any] | None) -> str:
    name = str((call or {}).get("name") or "tool")
    line = f"⚙ {name}({one_line((call or {}).get('arguments') or '')})" if call is not None else f"⚙ {name}"
    if output is not None:
        line += f" → {one_line(output.get('output', ''))}"
    return line


def trace_summary_text(trace: dict[str, Any] | None, trace_id: str | None) -> str:
    if trace is None:
        return f"trace id: {trace_id}" if trace_id else ""
    try:
        from agent_magics.view.trace_html import trace_to_text

        return trace_to_text(trace)
    except Exception:
        spans = ((trace.get("data") or {}).get("spans")) if isinstance(trace, dict) else None
        count = f" ({len(spans)} spans)" if isinstance(spans, list) else ""
        return f"trace{': ' + trace_id if trace_id else ''}{count}"


def _clip(text: str, budget: int | None) -> tuple[str, int]:
    """``text`` cut to ``budget`` characters (None: no limit), and how many were left out.

    Not ``core.text.shorten``: the caller says how many characters were left out, so the cut is exact
    and unmarked here."""
    if budget is None or len(text) <= budget:
        return text, 0
    return text[:budget], len(text) - budget


def render_result_text(result: Any, *, max_answer_chars: int | None = None) -> str:
    """A compact plain-text version: header, answer, one line per tool call, custom outputs, trace, error.

    ``max_answer_chars`` shortens the answer part (the live views use it for the text/plain part of
    their final bundle, next to the full HTML, to keep notebooks and the wire small).
    """
    from agent_magics.core.events import message_text

    text = result.text or ""
    found = asked(result.input)
    turn = [f"turn {found[1]}"] if found is not None and found[1] > 1 else []
    lines = [header_text(result.target, result.status, elapsed=result.elapsed, chars=len(text),
                         details=[*_header_details(result), *turn], metrics=result_metrics(result))]  # fmt: skip
    if result.status != "completed" or result.error:
        note = f"{result.status}: {result.error}" if result.error else result.status
        if result.status != "completed" and not text:
            note += " — no answer text arrived"
        elif result.status != "completed" and "partial answer kept" not in note:
            note += f" — partial answer kept ({fmt_chars(len(text))})"
        lines.append("! " + note)
    body: list[str] = []
    budget, omitted = max_answer_chars, 0
    body_items = _body_items(result.output)
    if not any(kind == "message" for kind, _ in body_items):  # text without message items
        body_items = [("text", text)] if text else []
        body_items += _body_items(result.output)
    for kind, payload in body_items:
        if kind in ("message", "text"):
            message = payload if kind == "text" else message_text(payload)
            shown, cut = _clip(message, budget)
            omitted += cut
            if budget is not None:
                budget -= len(shown)
            if shown:
                body.append(shown + ("…" if cut else ""))
        elif kind == "tool":
            body.append(tool_line(*payload))
        elif kind == "reasoning":
            body.append(f"(reasoning: {one_line(reasoning_text(payload)) or 'no text'})")
        else:
            body.append(f"({payload.get('type', 'item')}: {one_line(payload)})")
    if omitted:
        body.append(f"[… {omitted:,} more characters of answer: the full text is in the result's .text]")
    lines.extend(body)
    if result.custom_outputs:
        lines.append("custom outputs: " + one_line(json.dumps(result.custom_outputs, default=str), 200))
    trace = trace_summary_text(result.trace_dict, result.trace_id)
    if trace:
        lines.append(trace)
    return terminal_safe("\n".join(lines))  # terminal IPython prints it as it is
