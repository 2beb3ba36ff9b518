"""Static HTML and text rendering of traces (agent_magics.view.trace_html)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from agent_magics.core.trace import Trace, format_duration, parse_trace
from agent_magics.view.trace_html import FULL_VALUE_CAP, VALUES_BUDGET, trace_to_html, trace_to_text

FIXTURES = Path(__file__).parent / "fixtures" / "traces"

# Our own markup: nothing else may appear, whatever the agent put in the trace.
ALLOWED_TAGS = {"div", "span", "b", "code", "details", "summary", "pre"}
ALLOWED_ATTRS = {"style", "open", "title"}
# CSS properties JupyterLab's untrusted-output sanitiser keeps (a subset of its allowlist).
ALLOWED_CSS = {
    "background", "border-left", "border-radius", "color", "cursor", "display", "float",
    "font-size", "font-weight", "height", "line-height", "margin", "margin-bottom", "margin-left",
    "max-height", "min-width", "opacity", "overflow", "padding", "padding-left", "white-space",
    "width", "overflow-wrap",
}  # fmt: skip

XSS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '"><svg onload=alert(1)>',
    "</pre></details></div><iframe src=//evil>",
    "';background:url(//evil/x);'",
]


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def v3() -> Trace:
    return parse_trace(load("v3_agent"))


class Markup(HTMLParser):
    """Collects tags, attributes, text, and the details-nesting of every span name."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.name_depths: list[tuple[str, int]] = []  # (span name, enclosing <details> count)
        self.open_names: list[str] = []  # span names whose <details> starts open
        self._details_open: list[bool] = []
        self._in_name = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.stack.append(tag)
        if tag == "details":
            self._details_open.append("open" in dict(attrs))
        self._in_name = tag == "b" and len(self.stack) >= 2 and self.stack[-2] == "summary"

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()
        if tag == "details":
            self._details_open.pop()
        self._in_name = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_name:
            self.name_depths.append((data, self.stack.count("details")))
            if self._details_open[-1]:
                self.open_names.append(data)


def parse(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    markup.close()
    assert markup.stack == [], f"unclosed tags: {markup.stack}"
    return markup


def assert_safe(html: str) -> Markup:
    markup = parse(html)
    for tag, attrs in markup.tags:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= ALLOWED_ATTRS, attrs
        for name, value in attrs.items():
            assert "javascript:" not in (value or "").lower()
            if name == "style":
                for decl in filter(None, (value or "").split(";")):
                    prop, _, css = decl.partition(":")
                    assert prop in ALLOWED_CSS, decl
                    assert re.fullmatch(r"[a-z0-9 .,%#()-]+", css), decl  # no url(), quotes, data
            if name == "title":
                assert re.fullmatch(r"\+[0-9.]+ (ms|s|min)", value or ""), value
    # Agent text may say "onerror=" or "javascript:" as escaped *text*; as markup it must not.
    lowered = html.lower()
    for needle in ("<script", "<img", "<svg", "<iframe", "<a ", "<style"):
        assert needle not in lowered, needle
    return markup


# -- content and structure ------------------------------------------------------------------


def test_header_and_span_content(v3: Trace) -> None:
    html = trace_to_html(v3)
    markup = assert_safe(html)
    text = "".join(markup.text)
    assert v3.trace_id in text
    assert "6 spans" in text and "1 error" in text
    for span in v3.spans:
        assert span.name in text
        assert format_duration(span.duration) in text
        assert f">{span.span_type}</span>" in html
    assert "What does Databricks do?" in text  # inputs shown
    assert "kb/1" in text  # outputs shown
    assert "demo-llm" in text  # non-internal attributes shown
    assert "mlflow.traceRequestId" not in text  # internal ones hidden


def test_nested_details_follow_the_tree(v3: Trace) -> None:
    markup = parse(trace_to_html(v3))
    assert markup.name_depths == [(s.name, s.depth + 1) for s in v3.root.walk()]


def test_open_depth(v3: Trace) -> None:
    def opened(**kwargs: Any) -> list[str]:
        return parse(trace_to_html(v3, **kwargs)).open_names

    assert opened() == ["agent"]
    assert opened(open_depth=0) == []
    assert opened(open_depth=2) == ["agent", "plan", "search", "weather", "answer"]
    assert len(opened(open_depth=99)) == 6


def test_errors_are_highlighted(v3: Trace) -> None:
    html = trace_to_html(v3)
    assert re.search(r'<div style="color:#e5534b;[^"]*">ConnectionError: weather service unreachable', html)
    assert ">traceback</summary>" in html
    assert 'font-weight:bold">ERROR</span>' in html
    assert ">1 error</span>" in html


def test_waterfall_bars(v3: Trace) -> None:
    html = trace_to_html(v3)
    bars = re.findall(r"margin-left:([0-9.]+)%;width:([0-9.]+)%", html)
    assert len(bars) == 6
    assert bars[0] == ("0.00", "100.00")  # the root spans the whole trace
    for left, width in bars:
        assert 0 <= float(left) <= 100 and 0 <= float(width) <= 100 - float(left) + 0.01
    retrieve = v3.find("retrieve")
    expected = (retrieve.start_ns - v3.start_time_ns) / (v3.end_time_ns - v3.start_time_ns) * 100
    assert f"margin-left:{expected:.2f}%" in html


def test_unfinished_span_and_token_usage() -> None:
    html = trace_to_html(load("v3_hex_ids"))
    assert_safe(html)
    assert " · 5 tokens" in html
    assert re.search(r"width:0\.00%;background:#6b7280", html)  # unfinished: a 1px marker
    assert "?" in html


def test_truncation_with_show_all() -> None:
    long_output = "x" * 5000
    trace = _one_span(outputs=long_output)
    html = trace_to_html(trace, max_value_chars=100)
    assert_safe(html)
    assert f">{'x' * 100}…</pre>" in html
    assert "4,900 more characters: show all 5,000</summary>" in html
    assert f">{long_output}</pre>" in html  # the full value, behind the nested <details>


def test_truncation_caps_the_full_value() -> None:
    huge = "y" * (FULL_VALUE_CAP + 50_000)
    html = trace_to_html(_one_span(inputs=huge), max_value_chars=10)
    assert "show the first 100,000 of 150,000</summary>" in html
    assert "y" * FULL_VALUE_CAP in html and "y" * (FULL_VALUE_CAP + 1) not in html
    assert len(html) < FULL_VALUE_CAP + 5_000


def test_huge_trace_stays_bounded() -> None:
    spans = [
        {"span_id": f"s{i}", "parent_id": "s0" if i else None, "name": f"n{i}",
         "attributes": {"mlflow.spanInputs": json.dumps("q" * 30_000)}}
        for i in range(200)
    ]  # fmt: skip
    html = trace_to_html({"spans": spans})
    assert len(html) < 2 * VALUES_BUDGET
    assert "characters left out: the trace is too large" in html
    assert html.count("<b>n") == 200  # every span is still there
    assert_safe(html)


def test_no_values_when_max_value_chars_is_zero(v3: Trace) -> None:
    html = trace_to_html(v3, max_value_chars=0)
    assert "<pre" not in html
    assert "ConnectionError" in html  # errors are still shown


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
                "mlflow.spanInputs": json.dumps({payload: payload}),
                "mlflow.spanOutputs": json.dumps(payload),
                payload: json.dumps(payload),
                "mlflow.chat.tokenUsage": json.dumps({"total_tokens": payload}),
            },
        })  # fmt: skip
    data = {"info": {"trace_id": XSS[0], "state": XSS[1]}, "data": {"spans": spans}}
    for kwargs in ({}, {"max_value_chars": 5}, {"open_depth": 99}):
        html = trace_to_html(data, **kwargs)
        markup = assert_safe(html)
        text = "".join(markup.text)
        for payload in XSS:
            assert payload.upper() in text or payload in text  # shown as text, not markup


def test_inline_styles_only_and_compact(v3: Trace) -> None:
    html = trace_to_html(v3)
    assert "<style" not in html and "class=" not in html and "<script" not in html
    assert len(html) < 14_000, len(html)  # saved notebooks carry this


def test_rgba_colours_use_sanitiser_friendly_alpha(v3: Trace) -> None:
    for alpha in re.findall(r"rgba\(\d+,\d+,\d+,([^)]*)\)", trace_to_html(v3)):
        assert re.fullmatch(r"0\.\d+", alpha)


def test_dict_input_and_empty_trace() -> None:
    assert "agent" in trace_to_html(load("v3_agent"))
    html = trace_to_html({"info": {"trace_id": "tr-1"}})
    assert_safe(html)
    assert "(no spans)" in html and "0 spans" in html


def test_every_fixture_renders_safely() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        trace = parse_trace(json.loads(path.read_text(encoding="utf-8")))
        markup = assert_safe(trace_to_html(trace))
        assert len(markup.name_depths) == len(trace)


def test_deep_and_wide_traces_render() -> None:
    deep = [{"span_id": f"s{i}", "parent_id": f"s{i - 1}" if i else None, "name": f"n{i}",
             "start_time": i, "end_time": 5000 - i} for i in range(2000)]  # fmt: skip
    html = trace_to_html({"spans": deep}, max_value_chars=0)
    assert html.count("<details") == 2000 and html.count("</details>") == 2000
    text = trace_to_text({"spans": deep})
    assert text.splitlines()[-1].strip().startswith("└─ n1999")


def test_repr_html(v3: Trace) -> None:
    assert v3._repr_html_() == trace_to_html(v3)


# -- text -----------------------------------------------------------------------------------


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


# -- helpers --------------------------------------------------------------------------------


def base64_id(n: int) -> str:
    import base64

    return base64.b64encode(n.to_bytes(8, "big")).decode()


def _one_span(**attrs: Any) -> Trace:
    attributes = {f"mlflow.span{k.capitalize()}": json.dumps(v) for k, v in attrs.items()}
    span = {"span_id": base64_id(1), "name": "s", "start_time_unix_nano": 1, "end_time_unix_nano": 2,
            "attributes": attributes}  # fmt: skip
    return parse_trace({"info": {"trace_id": "tr-x"}, "data": {"spans": [span]}})
