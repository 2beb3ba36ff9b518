"""Agent output is untrusted: everything it says passes through here before it becomes HTML.

Two layers, so that one mistake is not enough:
1. markdown-it-py with the ``js-default`` preset: raw HTML in the text is escaped, not passed on,
   and ``javascript:``/``vbscript:``/``data:`` links are refused;
2. nh3 (ammonia) with an explicit allowlist: no ``img`` (a remote image is an exfiltration
   channel), no ``style``, no event handlers, links only to http(s)/mailto and opened with
   ``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any

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
    "td": {"align"},
    "th": {"align"},
    "ol": {"start"},
    "code": {"class"},
}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _markdown():
    from markdown_it import MarkdownIt

    # js-default: html=False (raw HTML escaped), linkify off, safe link validation.
    # images off: `![alt](url)` stays a plain link, never an automatic request to a remote host
    return MarkdownIt("js-default").enable("table").enable("strikethrough").disable("image")


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
    return value


def markdown_to_html(text: str) -> str:
    """Render agent markdown to safe HTML."""
    return clean_html(_markdown().render(text))


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
    return f'<pre class="am-pre">{escape(to_display_text(value, limit))}</pre>'
