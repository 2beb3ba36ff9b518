"""Everything an agent says is untrusted: the hostile corpus through the markdown pipeline and
through the static render of a whole result leaves no active content, and stays readable."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from agent_magics.core.result import AgentResult
from agent_magics.local.hostile import PAYLOADS
from agent_magics.view.render import render_result_html
from agent_magics.view.sanitize import markdown_to_html

FORBIDDEN_TAGS = {
    "script",
    "img",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "style",
    "form",
    "input",
    "link",
    "meta",
    "base",
    "video",
    "audio",
    "source",
}


class Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name in ("src", "srcdoc", "formaction", "background"):
                self.problems.append(f"{tag}[{name}]")
            if name == "href" and not (value or "").lower().startswith(("http://", "https://", "mailto:")):
                self.problems.append(f"{tag}[href={value!r}]")
            if name == "style" and value and ("url(" in value.lower() or "expression" in value.lower()):
                self.problems.append(f"{tag}[style={value!r}]")


def problems_in(html: str) -> list[str]:
    inspector = Inspector()
    inspector.feed(html)
    return inspector.problems


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_pipeline_neutralises_each_payload(payload):
    assert problems_in(markdown_to_html(payload)) == []


def test_a_whole_hostile_result_renders_inert_and_readable():
    corpus = "\n\n".join(PAYLOADS)
    result = AgentResult(
        target="hostile-agent",
        text=corpus,
        output=[
            {"type": "function_call", "call_id": "c", "name": "<img src=x onerror=alert(1)>", "arguments": corpus},
            {"type": "function_call_output", "call_id": "c", "output": corpus},
            {"type": "message", "id": "m", "role": "assistant", "content": [{"type": "output_text", "text": corpus}]},
        ],
        custom_outputs={"<script>alert(1)</script>": corpus},
        status="failed",
        error="<script>alert('err')</script>",
    )
    html = render_result_html(result)
    assert problems_in(html) == []
    assert "alert(" in html  # still there as text: the reader can see what the agent tried


def test_remote_images_become_their_alt_text():
    html = markdown_to_html("![chart](http://127.0.0.1:9/exfil.png?secret=1)")
    assert "<img" not in html and "[image: chart]" in html and "127.0.0.1:9" not in html
