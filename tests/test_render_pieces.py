"""A long answer is rendered piece by piece (to bound memory): the HTML must be exactly the whole render's."""

from __future__ import annotations

import random

import pytest

from agent_magics.local.hostile import PAYLOADS
from agent_magics.view.sanitize import _pieces, clean_html, markdown_renderer, markdown_to_html

BLOCKS = [
    "Plain paragraph with *emphasis*, `code` and a [link](https://example.com).",
    "# Heading\n\nText under it.",
    "Setext heading\n---",
    "- tight\n- list\n- items",
    "- loose\n\n- list\n\n  continued item\n\nAfter the list.",
    "1. one\n2) two\n3. three",
    "* nested\n  * deeper\n    * deepest\nlazy continuation line",
    "```python\ndef f():\n\nReturn inside the fence\n\n    return 1\n```",
    "~~~\nTilde fence\n\nStill code\n~~~~~",
    "````\n```\nInner backticks\n\nstill code\n```\n````",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "> quoted\n>\n> More quote\n\nOutside the quote.",
    "> lazy\ncontinued\n\nNext",
    "    indented code\n\n    more indented code\n\nParagraph",
    "***\n\nAfter a rule",
    "<b>raw html is escaped</b> and <script>alert(1)</script>",
    "Trailing spaces make a break  \nhere",
    "Text with ~~strike~~ and **strong _nested_**",
    "```\nunclosed fence\n\nLetters inside",
]


def whole(text: str) -> str:
    return clean_html(markdown_renderer().render(text))


def documents() -> list[str]:
    rng = random.Random(9)
    docs = ["\n\n".join(PAYLOADS), "\n\n".join(BLOCKS)]
    for _ in range(150):
        blocks = rng.choices(BLOCKS, k=rng.randint(2, 12))
        docs.append("".join(block + rng.choice(["\n\n", "\n", "\n\n\n", "\r\n\r\n"]) for block in blocks))
    return docs


@pytest.mark.parametrize("piece", [1, 40, 200])
def test_pieces_render_exactly_as_the_whole(piece):
    for doc in documents():
        assert markdown_to_html(doc, piece=piece) == whole(doc), doc


def test_pieces_cover_the_text_and_are_cut_before_paragraphs():
    text = "\n\n".join(f"Paragraph {i} " + "word " * 30 for i in range(200))
    parts = list(_pieces(text, 1000))
    assert "".join(parts) == text
    assert len(parts) > 5
    assert all(part[0].isalpha() for part in parts)


@pytest.mark.parametrize(
    "doc",
    [
        "[ref]: https://example.com\n\n" + "Use [ref].\n\n" * 100,  # references are document-wide
        "- item\n  ```\n  code\n\nText\n```\n\nInside?\n```\n" * 20,  # an indented fence
    ],
)
def test_no_cut_where_the_scan_cannot_be_sure(doc):
    assert list(_pieces(doc, 10)) == [doc]
    assert markdown_to_html(doc, piece=10) == whole(doc)
