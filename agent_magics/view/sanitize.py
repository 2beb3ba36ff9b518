"""Agent output is untrusted: everything it says passes through here before it becomes HTML.

Two layers, so that one mistake is not enough:
1. markdown-it-py with the ``js-default`` preset: raw HTML in the text is escaped, not passed on,
   and ``javascript:``/``vbscript:``/``data:`` links are refused;
2. nh3 (ammonia) with an explicit allowlist: no ``img`` (a remote image is an exfiltration
   channel), no ``<style>``, no event handlers, links only to http(s)/mailto and opened with
   ``rel="noopener noreferrer nofollow"``; a ``style`` attribute only when it is exactly one of the
   fixed styles ``markdown_style.py`` puts on code, tables and quotes (agent text cannot set one).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from agent_magics.view import markdown_style
from agent_magics.view.markdown_lines import Fence, closes_fence, fence_opener, may_define_links

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
        "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s",
        "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
        "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "td": {"align", "style"},
    "th": {"align", "style"},
    "ol": {"start"},
    "code": {"class", "style"},
    "span": {"style"},
    "div": {"style"},
    "pre": {"style"},
    "table": {"style"},
    "blockquote": {"style"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# JupyterLab (and ipywidgets' HTML view) typeset outputs with MathJax *after* sanitising them:
# ``$\href{http://attacker}{https://bank}$`` in agent text would become a live link with spoofed
# text, ``\style`` would colour it. MathJax skips elements with these classes (MathJax 2's
# ``tex2jax_ignore``, MathJax 3's ``mathjax_ignore``): every fragment holding agent text carries them.
NO_MATH = "tex2jax_ignore mathjax_ignore"


@lru_cache(maxsize=1)
def markdown_renderer() -> Any:
    """The one markdown-it renderer (built on first use: markdown-it and Pygments load then)."""
    from markdown_it import MarkdownIt

    # js-default: html=False (raw HTML escaped), linkify off, safe link validation.
    md = MarkdownIt("js-default").enable("table").enable("strikethrough")
    markdown_style.install(md)  # highlighted code blocks, bordered tables, quotes: inline styles
    # An image would be an automatic request to a host the agent chose (an exfiltration channel):
    # show its alt text instead, with no URL at all.
    md.add_render_rule("image", _image_as_text)
    return md


def _image_as_text(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    alt = "".join(child.content for child in tokens[idx].children or [])
    return escape(f"[image: {alt}]" if alt else "[image]")


def clean_html(fragment: str) -> str:
    """Allowlist-sanitise an HTML fragment (the last line of defence)."""
    import nh3

    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
        attribute_filter=_absolute_links_only,
    )


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """Relative hrefs are dropped: a frontend resolves them against itself (JupyterLab even adds
    its XSRF token to /files/ links), and nothing an agent says should point into the notebook
    server. Only absolute http(s) and mailto links stay."""
    if attribute == "href" and not value.strip().lower().startswith(("http://", "https://", "mailto:")):
        return None
    if attribute == "style" and value not in markdown_style.STYLES:  # ours only, exactly
        return None
    return value


# A long answer is rendered this many characters at a time: markdown-it's tokens for a whole 1 MB
# answer take ~6 MB at once, and the kernel would keep that peak (its RSS does not shrink back).
PIECE = 32_768
_INDENTED_FENCE = re.compile(r"^[ \t]+(?:`{3}|~{3})", re.MULTILINE)


def markdown_to_html(text: str, piece: int = PIECE) -> str:
    """Render agent markdown to safe HTML (a long text piece by piece, with the same result)."""
    if len(text) <= 2 * piece:
        return clean_html(markdown_renderer().render(text))
    return "".join(clean_html(markdown_renderer().render(part)) for part in _pieces(text, piece))


def _pieces(text: str, size: int) -> Iterator[str]:
    """``text`` in pieces of at least ``size`` characters that render exactly as the whole does.

    A cut goes only before a line that starts with a letter after a blank line, outside a code
    fence: no block (list item, quote, table, indented code) goes on over such a line, and inline
    markup never crosses a blank line. No cut at all when the text has link reference definitions
    (they apply to the whole document) or an indented fence (it may be inside a list item, which this
    scan does not follow; unindented fences are always top-level and are followed exactly).
    """
    if may_define_links(text) or _INDENTED_FENCE.search(text):
        yield text
        return
    start = pos = 0
    fence: Fence | None = None  # the open fence
    blank = False  # the previous line was blank
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end
        line = text[pos:end]
        is_blank = not line.strip()
        if fence is not None:
            if closes_fence(line, fence):
                fence = None
        elif not is_blank:
            if blank and line[0].isalpha() and pos - start >= size:
                yield text[start:pos]
                start = pos
            fence = fence_opener(line)
        blank = is_blank
        pos = end + 1
    yield text[start:]


def escape(text: Any) -> str:
    """Escape any value for use as HTML text or an attribute value."""
    return html.escape(str(text), quote=True)


def to_display_text(value: Any, limit: int | None = None) -> str:
    """A readable text form of JSON-ish data (tool arguments, outputs, span inputs), truncated."""
    if isinstance(value, str):
        text = value
        try:  # tool arguments and outputs are often JSON strings: pretty-print them
            parsed = json.loads(value)
            if isinstance(parsed, (dict, list)):
                text = json.dumps(parsed, indent=2, ensure_ascii=False)
        except (ValueError, TypeError):
            pass
    else:
        try:
            text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
        except (ValueError, TypeError):
            text = repr(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… [{len(text) - limit:,} more characters]"
    return text


def pre_block(value: Any, limit: int | None = 4000) -> str:
    """Data shown verbatim in a ``<pre>``, escaped (never interpreted as markup)."""
    return f'<pre class="am-pre {NO_MATH}">{escape(to_display_text(value, limit))}</pre>'
