"""The trace panel's HTML (agent_magics.view.trace_html and its modules) and the text tree.

The structure is read back with html.parser: one ``<details class="am-span">`` row per span, as
siblings; the time axis; bar offsets and widths; what a span's details show. The size bound is a
resource limit: a 50,000-span trace with big hostile values saves less than a
fixed number of bytes, whatever it holds.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from agent_magics.core.trace import Trace, format_duration, parse_trace
from agent_magics.view import trace_style
from agent_magics.view.trace_html import MAX_SPANS, trace_to_html, trace_to_text
from agent_magics.view.trace_values import EXPAND_CHARS, PANEL_BUDGET, prune

FIXTURES = Path(__file__).parent / "fixtures" / "traces"

# Our own markup: nothing else may appear, whatever the agent put in the trace.
ALLOWED_TAGS = {"div", "span", "b", "code", "details", "summary", "pre"}
ALLOWED_ATTRS = {"style", "open", "class"}
ALLOWED_CLASSES = {
    "am-trace", "tex2jax_ignore", "mathjax_ignore", "am-trace-header", "am-trace-axis", "am-trace-tick",
    "am-span", "am-span-name", "am-span-type", "am-trace-bar", "am-trace-error", "am-trace-rest",
}  # fmt: skip
# CSS properties used, all in JupyterLab's untrusted-output sanitiser allowlist (apputils Sanitizer).
ALLOWED_CSS = {
    "background", "border", "border-bottom", "box-sizing", "border-left", "border-radius", "color", "cursor",
    "display", "float", "font-size", "font-weight", "height", "line-height", "margin", "margin-left",
    "margin-right", "margin-top", "max-height", "min-width", "opacity", "overflow", "overflow-wrap", "padding",
    "padding-left", "padding-right", "text-align", "text-overflow", "text-transform", "vertical-align",
    "white-space", "width",
}  # fmt: skip

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '"><svg onload=alert(1)>',
    "</pre></details></div><iframe src=//evil>",
    "';background:url(//evil/x);'",
    r"$\href{http://attacker/phish}{https://bank}$",
]


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def v3() -> Trace:
    return parse_trace(load("v3_agent"))


class Markup(HTMLParser):
    """Tags, text, and the span rows: each row's name, nesting, open state, indent and bar."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.ticks: list[str] = []

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = dict(attrs_list)
        classes = set((attrs.get("class") or "").split())
        self.tags.append((tag, attrs))
        if tag == "details" and "am-span" in classes:
            nested = sum(1 for t, a in self.stack if t == "details")
            self.rows.append({"open": "open" in attrs, "nested": nested, "style": attrs.get("style") or ""})
        if self.rows and tag == "span" and self._in_summary():
            style = attrs.get("style") or ""
            if "am-trace-bar" in classes:
                self.rows[-1]["bar"] = style
            elif m := re.fullmatch(r"display:inline-block;width:(\d+)px", style):
                self.rows[-1]["indent"] = int(m.group(1))
        self.stack.append((tag, attrs))

    def _in_summary(self) -> bool:
        return any(t == "summary" for t, _ in self.stack)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1][0] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        top_classes = set((self.stack[-1][1].get("class") or "").split()) if self.stack else set()
        if "am-span-name" in top_classes:
            self.rows[-1]["name"] = data
        if "am-trace-tick" in top_classes:
            self.ticks.append(data)
        if self.rows and self._in_summary():
            self.rows[-1].setdefault("summary", []).append(data)


def parse(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    markup.close()
    assert markup.stack == [], f"unclosed tags: {markup.stack}"
    return markup


def declarations(style: str) -> list[tuple[str, str]]:
    return [(d.partition(":")[0], d.partition(":")[2]) for d in style.split(";") if d]


def assert_safe(html: str) -> Markup:
    markup = parse(html)
    for tag, attrs in markup.tags:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= ALLOWED_ATTRS, attrs
        assert set((attrs.get("class") or "").split()) <= ALLOWED_CLASSES, attrs
        for prop, css in declarations(attrs.get("style") or ""):
            assert prop in ALLOWED_CSS, (prop, css)
            assert re.fullmatch(r"[a-z0-9 .,%#()-]+", css), (prop, css)  # no url(), quotes, data
    lowered = html.lower()
    for needle in ("<script", "<img", "<svg", "<iframe", "<a ", "<style"):
        assert needle not in lowered, needle
    return markup


def text_of(html: str) -> str:
    return "".join(parse(html).text)


def part_text(html: str, css_class: str) -> str:
    """The text of the first ``<div class=css_class>`` (which holds no other div)."""
    match = re.search(rf'<div class="{css_class}"[^>]*>(.*?)</div>', html)
    assert match, css_class
    return text_of(match.group(1))


# -- the rows, the axis, the bars -----------------------------------------------------------------


def test_header_and_one_row_per_span_in_tree_order(v3: Trace) -> None:
    html = trace_to_html(v3)
    markup = assert_safe(html)
    header = part_text(html, "am-trace-header")
    assert v3.trace_id in header and "6 spans" in header and "1 error" in header
    assert [row["name"] for row in markup.rows] == [s.name for s in v3.root.walk()]
    for row, span in zip(markup.rows, v3.root.walk(), strict=True):
        summary = "".join(row["summary"])
        assert span.span_type in summary and format_duration(span.duration) in summary
        assert row["indent"] == span.depth * trace_style.INDENT_PX  # the tree, by indentation


def test_rows_are_siblings_and_the_root_starts_collapsed(v3: Trace) -> None:
    rows = parse(trace_to_html(v3)).rows
    assert {row["nested"] for row in rows} == {0}  # no row hides another: all visible at once
    assert not any(row["open"] for row in rows)  # every row (the root too) is one line
    assert [r["open"] for r in parse(trace_to_html(v3, open_depth=1)).rows] == [True] + [False] * 5


def test_time_axis_has_quarter_ticks(v3: Trace) -> None:
    markup = parse(trace_to_html(v3))
    total = (v3.end_time_ns - v3.start_time_ns) / 1e9
    assert markup.ticks == ["0"] + [format_duration(total * i / 4) for i in (1, 2, 3)]
    assert format_duration(total) in part_text(trace_to_html(v3), "am-trace-header")  # the end: the duration


def test_bars_at_start_offset_sized_by_duration(v3: Trace) -> None:
    rows = parse(trace_to_html(v3)).rows
    total = v3.end_time_ns - v3.start_time_ns
    for row, span in zip(rows, v3.root.walk(), strict=True):
        left, width = re.search(r"margin-left:([0-9.]+)%;width:([0-9.]+)%", row["bar"]).groups()
        assert float(left) == pytest.approx((span.start_ns - v3.start_time_ns) / total * 100, abs=0.006)
        assert float(width) == pytest.approx((span.end_ns - span.start_ns) / total * 100, abs=0.006)
    assert "margin-left:0.00%;width:100.00%" in rows[0]["bar"]  # the root spans the whole trace


def test_unfinished_span_and_no_timings() -> None:
    html = trace_to_html(load("v3_hex_ids"))
    assert_safe(html)
    rows = parse(html).rows
    unfinished = next(r for r in rows if r["name"] == "unfinished")
    assert "unfinished" in "".join(unfinished["summary"]) and "width:0.00%" in unfinished["bar"]
    untimed = trace_to_html({"spans": [{"span_id": "a", "name": "x"}]})
    assert "(no timings)" in text_of(untimed) and "am-trace-bar" not in untimed
    started = [{"span_id": f"{i}", "name": f"s{i}", "start_time": 1_000_000 + i * 1000} for i in range(3)]
    all_unfinished = trace_to_html({"spans": started})  # starts but no end: no scale to place them on
    assert "(no timings)" in text_of(all_unfinished) and "am-trace-bar" not in all_unfinished


# -- what a span's details show ---------------------------------------------------------------------

RESPONSES_REQUEST = {
    "request": {
        "tool_choice": None, "truncation": None, "max_output_tokens": None, "metadata": None,
        "tools": None, "temperature": None, "text": None, "background": None, "custom_inputs": None,
        "input": [{"status": None, "content": "What does Databricks do?", "role": "user", "type": "message"}],
    }
}  # fmt: skip
RESPONSES_OUTPUT = {
    "object": "response",
    "output": [
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "search_docs",
         "arguments": json.dumps({"query": "What does Databricks do?", "filters": None})},
        {"type": "function_call_output", "call_id": "c1", "output": json.dumps([{"id": "kb-7", "text": None}])},
        {"type": "message", "role": "assistant", "id": "m1",
         "content": [{"type": "output_text", "text": "Databricks is a platform.", "annotations": []}]},
    ],
}  # fmt: skip


def _one_span(**attrs: Any) -> Trace:
    attributes = {f"mlflow.span{k.capitalize()}": json.dumps(v) for k, v in attrs.items()}
    span = {"span_id": base64_id(1), "name": "s", "start_time_unix_nano": 1, "end_time_unix_nano": 2,
            "attributes": attributes}  # fmt: skip
    return parse_trace({"info": {"trace_id": "tr-x"}, "data": {"spans": [span]}})


def test_null_and_empty_fields_are_left_out() -> None:
    html = trace_to_html(_one_span(inputs=RESPONSES_REQUEST, outputs=RESPONSES_OUTPUT))
    text = text_of(html)
    assert "null" not in text and "tool_choice" not in text and '"filters"' not in text
    assert "What does Databricks do?" in text and "kb-7" in text
    assert prune({"a": None, "b": "", "c": [], "d": {}, "e": [None, {"f": None}], "g": 0, "h": False}) == {
        "e": [None, {}],
        "g": 0,
        "h": False,
    }


def test_chat_messages_are_a_conversation_and_tool_calls_name_and_arguments() -> None:
    html = trace_to_html(_one_span(inputs=RESPONSES_REQUEST, outputs=RESPONSES_OUTPUT))
    text = text_of(html)
    assert "userWhat does Databricks do?" in text  # the role, then the text: no JSON around it
    assert "tool call search_docs" in text
    assert '"query": "What does Databricks do?"' in text  # the arguments, pretty-printed
    assert "tool output" in text and "assistantDatabricks is a platform." in text
    assert '"type"' not in text and "output_text" not in text
    chat = {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "temperature": 0.1,
    }
    completion = {
        "choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }  # fmt: skip
    text = text_of(trace_to_html(_one_span(inputs=chat, outputs=completion)))
    assert "systemBe brief." in text and "userHi" in text and "other fields" in text and "0.1" in text
    assert "get_weather" in text and '"city": "Oslo"' in text


def test_token_usage_per_span_and_in_total() -> None:
    html = trace_to_html(load("v3_hex_ids"))
    header = part_text(html, "am-trace-header")
    assert "5 tokens (3 in · 2 out)" in header
    llm = next(r for r in parse(html).rows if r["name"] == "llm")
    assert "5 tok" in "".join(llm["summary"])
    assert "5 tokens (3 in · 2 out)" in text_of(html)  # in the llm span's details too


def test_errors_and_non_ok_statuses_stand_out(v3: Trace) -> None:
    html = trace_to_html(v3)
    weather = next(r for r in parse(html).rows if r["name"] == "weather")
    assert "background:rgba(229,83,75,0.1)" in weather["style"]  # the failed row is tinted
    assert "ERROR" in "".join(weather["summary"])
    assert re.search(r'class="am-trace-error" style="color:#e5534b;[^"]*">ConnectionError: weather', html)
    assert ">traceback</summary>" in html
    in_progress = trace_to_html({"info": {"trace_id": "t", "state": "IN_PROGRESS"}, "data": {"spans": []}})
    assert 'font-weight:bold">IN_PROGRESS</span>' in in_progress


def test_a_small_overflow_is_shown_whole_a_big_one_cut_with_its_size() -> None:
    small = "x" * 2051  # 51 characters over the limit: not worth a cut
    assert f">{small}</pre>" in trace_to_html(_one_span(outputs=small))
    big = "y" * 5000
    html = trace_to_html(_one_span(outputs=big), max_value_chars=100)
    assert f">{'y' * 100}…</pre>" in html
    assert "4,900 more characters</summary>" in html and f">{'y' * 4900}</pre>" in html  # the rest, once
    huge = "z" * 50_000
    html = trace_to_html(_one_span(outputs=huge), max_value_chars=100)
    label = f"{EXPAND_CHARS - 100:,} more characters of 49,900 (50,000 in all; the whole trace is on the result"
    assert label in html
    assert [len(run) for run in re.findall("z{50,}", html)] == [100, EXPAND_CHARS - 100]  # no more is saved


def test_no_values_when_max_value_chars_is_zero(v3: Trace) -> None:
    html = trace_to_html(v3, max_value_chars=0)
    assert "<pre" not in html
    assert "ConnectionError" in html  # errors are still shown


def test_root_span_of_an_agent_server_request_is_an_agent() -> None:
    span = {"span_id": base64_id(1), "name": "demo_app_stream", "start_time_unix_nano": 1,
            "end_time_unix_nano": 2, "attributes": {"mlflow.spanType": '"UNKNOWN"',
                                                     "mlflow.message.format": '"openai"'}}  # fmt: skip
    trace = parse_trace({"info": {"trace_id": "tr-1"}, "data": {"spans": [span]}})
    html = trace_to_html(trace)
    assert "AGENT" in "".join(parse(html).rows[0]["summary"])
    assert "AGENT (recorded as UNKNOWN)" in text_of(html)


@pytest.mark.parametrize("target", ["apps/demo-app", "demo-agent"])
def test_real_traces_from_the_local_workspace(
    target: str, local_workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real clients over HTTP: an app's root span (recorded UNKNOWN by MLflow's
    AgentServer) shows as AGENT, and the Responses request shows without its null fields."""
    from agent_magics import run
    from agent_magics.transport.workspace import forget_workspaces

    for name, value in local_workspace.env(auth="oauth").items():
        monkeypatch.setenv(name, value)
    forget_workspaces()
    try:
        result = run.ask(target, "What does Databricks do?", return_trace=True)
    finally:
        forget_workspaces()
    assert result.status == "completed", result.error
    html = trace_to_html(result.trace)
    rows = assert_safe(html).rows
    assert "AGENT" in "".join(rows[0]["summary"]) and "UNKNOWN" not in "".join(rows[0]["summary"])
    types = {s.name: s.span_type for s in result.trace.spans}
    assert types["search_docs"] == "TOOL" and types["generate_answer"] == "CHAT_MODEL"
    text = text_of(html)
    assert "null" not in text and "tool_choice" not in text
    assert "tool call search_docs" in text and "userWhat does Databricks do?" in text
    assert not any(row["open"] for row in rows)


# -- safety -----------------------------------------------------------------------------------------


def test_xss_payloads_are_escaped_everywhere() -> None:
    spans = []
    for i, payload in enumerate(XSS):
        spans.append({
            "trace_id": "AAAAAAAAAAAAAAAAAAAAAA==",
            "span_id": base64_id(i + 1),
            "parent_span_id": base64_id(1) if i else None,
            "name": payload,
            "start_time_unix_nano": 1_000_000 + i,
            "end_time_unix_nano": 2_000_000,
            "status": {"code": "STATUS_CODE_ERROR", "message": payload},
            "events": [{"name": "exception", "time_unix_nano": 1,
                        "attributes": {"exception.message": payload, "exception.type": payload,
                                       "exception.stacktrace": payload}}],
            "attributes": {
                "mlflow.spanType": json.dumps(payload),
                "mlflow.spanInputs": json.dumps({"messages": [{"role": "user", "content": payload}], payload: payload}),
                "mlflow.spanOutputs": json.dumps({"output": [{"type": "function_call", "name": payload,
                                                              "arguments": payload}]}),
                payload: json.dumps(payload),
                "mlflow.chat.tokenUsage": json.dumps({"total_tokens": payload}),
            },
        })  # fmt: skip
    data = {"info": {"trace_id": XSS[0], "state": XSS[1]}, "data": {"spans": spans}}
    for kwargs in ({}, {"max_value_chars": 5}, {"open_depth": 99}, {"max_spans": 2}):
        html = trace_to_html(data, **kwargs)
        text = "".join(assert_safe(html).text)
        for payload in XSS:
            assert payload.upper() in text or payload in text  # shown as text, not markup


def test_any_inputs_and_outputs_render_as_safe_well_formed_html() -> None:
    """Arbitrary JSON values, chat- and Responses-shaped or not, in a span's inputs and outputs."""
    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as hs

    text = hs.text(alphabet=hs.sampled_from(list("ab<>&\"' $\\{}\n")), max_size=12) | hs.sampled_from(XSS)
    scalar = hs.none() | hs.booleans() | hs.integers() | text
    keys = hs.sampled_from(
        [
            "role",
            "content",
            "type",
            "name",
            "arguments",
            "output",
            "messages",
            "input",
            "choices",
            "message",
            "tool_calls",
            "function",
            "text",
            "request",
            "usage",
            "x",
        ]
    )
    roles = hs.sampled_from(["user", "assistant", "system", "tool", "function_call", "function_call_output",
                             "message", "reasoning"])  # fmt: skip
    value = hs.recursive(
        scalar | roles,
        lambda inner: hs.lists(inner, max_size=4) | hs.dictionaries(keys, inner, max_size=5),
        max_leaves=25,
    )

    @settings(max_examples=200, deadline=None)
    @given(value, value, hs.integers(min_value=0, max_value=40))
    def run(inputs: Any, outputs: Any, max_chars: int) -> None:
        html = trace_to_html(_one_span(inputs=inputs, outputs=outputs), max_value_chars=max_chars)
        assert len(assert_safe(html).rows) == 1

    run()


def test_styles_travel_inline_with_themed_colours_and_fallbacks(v3: Trace) -> None:
    html = trace_to_html(v3)
    assert "<style" not in html and "<script" not in html
    for _, attrs in parse(html).tags:
        decls = declarations(attrs.get("style") or "")
        for i, (prop, css) in enumerate(decls):
            if "var(" in css:  # a JupyterLab variable, with a fallback, after a plain declaration
                assert re.search(r"var\(--jp-[a-z0-9-]+,[^)]+\)", css), css
                assert i > 0 and decls[i - 1][0] == prop and "var(" not in decls[i - 1][1], decls
    assert "var(--jp-layout-color2," in html and "var(--jp-border-color2," in html
    for alpha in re.findall(r"rgba\(\d+,\d+,\d+,([^)]*)\)", html):
        assert re.fullmatch(r"0\.\d+", alpha)  # the form JupyterLab's colour regex accepts


def test_the_panel_is_marked_for_mathjax_to_skip(v3: Trace) -> None:
    assert trace_to_html(v3).startswith('<div class="am-trace tex2jax_ignore mathjax_ignore"')


def test_every_fixture_renders_safely() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        trace = parse_trace(json.loads(path.read_text(encoding="utf-8")))
        markup = assert_safe(trace_to_html(trace))
        assert len(markup.rows) == len(trace)


def test_deep_and_wide_traces_render() -> None:
    deep = [{"span_id": f"s{i}", "parent_id": f"s{i - 1}" if i else None, "name": f"n{i}",
             "start_time": i, "end_time": 5000 - i} for i in range(2000)]  # fmt: skip
    markup = parse(trace_to_html({"spans": deep}, max_value_chars=0))
    assert len(markup.rows) == MAX_SPANS and {r["nested"] for r in markup.rows} == {0}
    assert max(r["indent"] for r in markup.rows) == trace_style.MAX_INDENT_LEVELS * trace_style.INDENT_PX
    text = trace_to_text({"spans": deep}, max_spans=5000)
    assert text.splitlines()[-1].strip().startswith("└─ n1999")


def test_repr_html(v3: Trace) -> None:
    assert v3._repr_html_() == trace_to_html(v3)


# -- what a panel saves is bounded -------------------------------------------------------------------


def _big_trace(n: int, value_chars: int, errors_every: int = 0) -> dict[str, Any]:
    hostile = ('<b>"&' * (value_chars // 5 + 1))[:value_chars]  # escaping makes these 5-6x longer
    spans = []
    for i in range(n):
        span = {"span_id": f"{i + 1:016x}", "parent_id": f"{(i - 1) // 10 + 1:016x}" if i else None,
                "name": f"step-{i}", "start_time": 1_000_000 + i * 1000, "end_time": 1_000_000 + i * 1000 + 900,
                "span_type": "TOOL" if i % 2 else "CHAT_MODEL",
                "inputs": {"messages": [{"role": "user", "content": hostile}]}, "outputs": hostile}  # fmt: skip
        if errors_every and i and i % errors_every == 0:
            span["status_code"], span["status_message"] = "ERROR", f"failed at {i}"
        spans.append(span)
    return {"request_id": "tr-big", "spans": spans}


HTML_BOUND = 800_000  # characters of one trace panel, whatever the trace holds
TEXT_BOUND = 120_000  # characters of its text tree


RENDER_PEAK_BOUND = 20_000_000  # bytes Python allocates at the peak of rendering one panel


def test_a_50000_span_trace_saves_a_bounded_panel() -> None:
    import tracemalloc

    trace = parse_trace(_big_trace(50_000, 3_000, errors_every=997))
    tracemalloc.start()
    try:
        html = trace_to_html(trace)
        text = trace_to_text(trace)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < RENDER_PEAK_BOUND, peak  # the panel is built from its rows, not from every span
    assert len(html) < HTML_BOUND, len(html)
    assert len(text) < TEXT_BOUND, len(text)
    markup = assert_safe(html)
    assert len(markup.rows) == MAX_SPANS + 10  # the first rows, then the first failed spans after them
    note = part_text(html, "am-trace-rest")
    assert re.search(r"^49,900 more spans not shown \(24,9\d\d (TOOL|CHAT_MODEL), 24,9\d\d (TOOL|CHAT_MODEL)\)", note)
    assert "50 errors among them, the first 10 below" in note
    assert "The whole trace is on the result (result.trace): .spans, .to_pandas()." in note
    assert len(trace.spans) == 50_000  # nothing is lost: the result keeps every span


def test_the_values_budget_holds_with_every_span_rendered() -> None:
    html = trace_to_html(_big_trace(MAX_SPANS, 50_000))  # every row's values as large as can be
    assert len(html) < HTML_BOUND, len(html)
    assert "characters left out: this panel is full" in html
    values = sum(len(m) for m in re.findall(r"(?:&lt;b&gt;&quot;&amp;)+", html))
    assert values <= PANEL_BUDGET


def test_a_saved_answer_with_a_50000_span_trace_is_bounded() -> None:
    """What the notebook keeps: the result's static HTML and text, with the trace in them."""
    from agent_magics.core.result import AgentResult
    from agent_magics.view.render import render_result_html, render_result_text

    data = _big_trace(50_000, 500)
    result = AgentResult(target="demo-agent", text="answer", status="completed", trace_dict=data)
    saved = len(render_result_html(result).encode()) + len(render_result_text(result).encode())
    assert saved < 1_000_000, saved
    assert len(result.trace.spans) == 50_000


# -- text -----------------------------------------------------------------------------------------


def test_text_tree_with_values(v3: Trace) -> None:
    text = trace_to_text(v3)
    lines = text.splitlines()
    assert lines[1] == f"agent [AGENT] {format_duration(v3.root.duration)}"
    assert lines[2] == '│  in: {"question": "What does Databricks do?"}'
    assert "│  │  out: Databricks is a data and AI company." in lines
    assert '│        in: {"query": "what does databricks do?"}' in lines  # under retrieve
    short = trace_to_text(v3, max_value_chars=20)
    assert '│  in: {"question": "What d… (+20 chars)' in short.splitlines()


def test_text_for_dict_and_errors() -> None:
    text = trace_to_text(load("v2"))
    assert text.splitlines()[0].endswith("· ERROR · 2 errors")
    assert "divide [TOOL] 1.0 ms ERROR: ZeroDivisionError: division by zero" in text


def test_text_tree_is_bounded() -> None:
    text = trace_to_text(_big_trace(1000, 10), max_spans=50)
    lines = text.splitlines()
    assert len([line for line in lines if "step-" in line]) == 50
    assert lines[-1] == "… 950 more spans not listed (all are in .spans)"


# -- helpers --------------------------------------------------------------------------------------


def base64_id(n: int) -> str:
    import base64

    return base64.b64encode(n.to_bytes(8, "big")).decode()


# -- hostile shapes stay within the bound ------------------------------------------------------------


def _spans(spans: list[dict[str, Any]]) -> Trace:
    return parse_trace({"info": {"trace_id": "tr-hostile"}, "data": {"spans": spans}})


def _otlp_span(i: int, parent: int | None = None, **extra: Any) -> dict[str, Any]:
    attributes = {f"mlflow.span{k.capitalize()}": json.dumps(extra.pop(k)) for k in ("inputs", "outputs") if k in extra}
    return {
        "span_id": base64_id(i), "parent_span_id": base64_id(parent) if parent else None, "name": f"s{i}",
        "start_time_unix_nano": 1_700_000_000_000_000_000 + i * 1000,
        "end_time_unix_nano": 1_700_000_000_000_000_000 + i * 1000 + 900,
        "attributes": {**attributes, **extra.pop("attributes", {})}, **extra,
    }  # fmt: skip


def _failed_quoted(i: int) -> dict[str, Any]:
    error = {"code": "STATUS_CODE_ERROR", "message": '"' * 2500}  # escaping makes quotes 6x longer
    return {**_otlp_span(i + 1, 1 if i else None), "name": "'" * 1000, "status": error}


HOSTILE_SHAPES = {
    "a role of a million characters": lambda: _spans(
        [_otlp_span(1, inputs={"input": [{"type": "message", "role": "<" * 1_000_000, "content": "hi"}]})]
    ),
    "a role that is a list of long strings": lambda: _spans(
        [_otlp_span(1, inputs={"input": [{"type": "message", "role": ["x" * 2000] * 500, "content": "hi"}]})]
    ),
    "3,000 tool calls in one output": lambda: _spans(
        [_otlp_span(1, outputs={"output": [{"type": "function_call", "name": "f", "arguments": "{}"}] * 3000})]
    ),
    "5,000 chat spans of 60 messages": lambda: _spans(
        [
            _otlp_span(i + 1, 1 if i else None, inputs={"messages": [{"role": "user", "content": "hi"}] * 60})
            for i in range(5000)
        ]
    ),
    "5,000 failed spans with quoted names and errors": lambda: _spans([_failed_quoted(i) for i in range(5000)]),
}


@pytest.mark.parametrize("shape", list(HOSTILE_SHAPES))
def test_a_hostile_trace_shape_stays_within_the_panel_bound(shape: str) -> None:
    html = trace_to_html(HOSTILE_SHAPES[shape]())
    assert len(html) < HTML_BOUND, len(html)
    assert_safe(html)


def test_many_messages_are_counted_past_the_first_ones() -> None:
    html = trace_to_html(HOSTILE_SHAPES["3,000 tool calls in one output"]())
    assert "2,950 more messages (the whole trace is on the result (result.trace))" in text_of(html)


def test_a_long_traceback_says_how_much_of_its_start_was_cut() -> None:
    stack = "HEAD-OF-TRACE\n" + "  frame\n" * 12_500 + "ValueError: boom"  # 100 KB
    event = {"name": "exception", "attributes": {"exception.stacktrace": stack}}
    html = trace_to_html(_spans([{**_otlp_span(1), "status": {"code": "STATUS_CODE_ERROR"}, "events": [event]}]))
    assert f"(the first {len(stack) - 20_000:,} of {len(stack):,} characters cut" in text_of(html)
    assert "ValueError: boom" in html and "HEAD-OF-TRACE" not in html


def test_an_unset_timestamp_of_zero_is_no_time() -> None:
    """OTLP writes an unset time as 0: it is not 1970, and the real spans keep their scale."""
    trace = _spans([_otlp_span(1), {**_otlp_span(2, 1), "start_time_unix_nano": "0", "end_time_unix_nano": "0"}])
    assert trace.spans[1].start_ns is None and trace.spans[1].end_ns is None
    html = trace_to_html(trace)
    assert "min" not in part_text(html, "am-trace-header")  # 900 ns, not 28,333,333 minutes
    assert "margin-left:100%" not in html


def test_a_huge_integer_attribute_keeps_the_trace_readable() -> None:
    attributes = [{"key": "big", "value": {"int_value": "9" * 5000}}, {"key": "small", "value": {"int_value": "42"}}]
    span = {**_otlp_span(1), "attributes": attributes}
    trace = _spans([span])
    assert trace.spans[0].attributes["small"] == 42 and trace.spans[0].attributes["big"] == "9" * 5000
    assert "Trace" in trace_to_html(trace)
