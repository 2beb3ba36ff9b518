"""How rendered agent markdown looks: code blocks, inline code, tables and quotes, light and dark.

The styling travels with the output: inline ``style=`` attributes only (a ``<style>`` block is
dropped by JupyterLab's sanitiser for untrusted output, by GitHub and by Databricks). Colours are
JupyterLab's CSS variables, so a dark theme gets dark-theme colours, each with a fallback for
pages without them (an nbconvert export, VS Code, GitHub).

Code is highlighted here, in the kernel, with Pygments (an IPython dependency): each token becomes a
``<span style="...">`` with one of a few fixed styles. The sanitiser lets through only the exact
style strings listed in ``STYLES`` (``sanitize.py``), so nothing the agent writes can style a thing:
markdown-it escapes raw HTML in the first place, and a style value that is not one of ours is dropped.
"""

from __future__ import annotations

import html
from typing import Any

from agent_magics.view.trace_style import themed


def escape(text: str) -> str:
    return html.escape(text, quote=True)


# Each themed value comes after a plain declaration of its fallback (``themed``): JupyterLab's
# sanitiser, which an untrusted notebook's outputs go through, drops a ``var()`` value it cannot read.
_FONTS = "SFMono-Regular,Menlo,Consolas,monospace"
_MONO = themed("font-family", "--jp-code-font-family", _FONTS) + ";"
_BORDER2 = themed("border", "--jp-border-color2", "rgba(127,127,127,0.25)", "1px solid {}") + ";"
CODE_BOX = (
    "margin:.6em 0;border-radius:4px;overflow:hidden;"
    + themed("background", "--jp-cell-editor-background", "rgba(127,127,127,0.08)") + ";" + _BORDER2
)  # fmt: skip
CODE_LABEL = (
    "padding:.15em .75em;font-size:.75em;line-height:1.6;opacity:0.75;" + _MONO
    + themed("border-bottom", "--jp-border-color2", "rgba(127,127,127,0.25)", "1px solid {}") + ";"
)  # fmt: skip
CODE_PRE = (
    "margin:0;padding:.5em .75em;overflow-x:auto;background:transparent;border:0;"
    + themed("font-size", "--jp-code-font-size", "13px") + ";line-height:1.45;white-space:pre;" + _MONO
)  # fmt: skip
# JupyterLab gives ``pre > code`` the page's background and pre-wrap: the box's own, here.
CODE_INNER = "background:transparent;padding:0;border:0;white-space:inherit;font:inherit;color:inherit;"
INLINE_CODE = "padding:.1em .3em;border-radius:3px;background:rgba(127,127,127,0.15);font-size:.9em;" + _MONO
TABLE = "border-collapse:collapse;margin:.6em 0;"
_CELL = themed("border", "--jp-border-color1", "rgba(127,127,127,0.45)", "1px solid {}") + ";padding:.25em .6em;"
CELLS = {align: _CELL + f"text-align:{align};" for align in ("left", "center", "right")}
HEAD_CELLS = {align: _CELL + f"text-align:{align};font-weight:600;" for align in ("left", "center", "right")}
QUOTE = (
    "margin:.6em 0;padding:.1em .9em;"
    + themed("border-left", "--jp-border-color1", "rgba(127,127,127,0.5)", "4px solid {}") + ";"
    + themed("color", "--jp-content-font-color2", "inherit") + ";background:transparent;"
)  # fmt: skip

# Token kinds -> colours: JupyterLab's CodeMirror variables (the notebook's own code colours).
_TOKEN_COLOURS = {
    "keyword": ("--jp-mirror-editor-keyword-color", "#008000", "font-weight:bold;"),
    "builtin": ("--jp-mirror-editor-builtin-color", "#008000", ""),
    "def": ("--jp-mirror-editor-def-color", "#0000ff", ""),
    "string": ("--jp-mirror-editor-string-color", "#ba2121", ""),
    "number": ("--jp-mirror-editor-number-color", "#008800", ""),
    "comment": ("--jp-mirror-editor-comment-color", "#408080", "font-style:italic;"),
    "operator": ("--jp-mirror-editor-operator-color", "#aa22ff", ""),
    "meta": ("--jp-mirror-editor-meta-color", "#aa22ff", ""),
}
_TOKEN_STYLES = {
    kind: themed("color", var, plain) + ";" + extra for kind, (var, plain, extra) in _TOKEN_COLOURS.items()
}

STYLES = frozenset(
    {CODE_BOX, CODE_LABEL, CODE_PRE, CODE_INNER, INLINE_CODE, TABLE, QUOTE, *CELLS.values(), *HEAD_CELLS.values(),
     *_TOKEN_STYLES.values()}
)  # fmt: skip

HIGHLIGHT_LIMIT = 50_000  # characters of one code block; longer ones are shown plain (still boxed)


def _kind(token_type: Any) -> str | None:
    """The colour group of a Pygments token type (its closest ancestor we colour), or None."""
    from pygments import token as t

    groups = (
        (t.Comment, "comment"),
        (t.String, "string"),
        (t.Number, "number"),
        (t.Keyword, "keyword"),
        (t.Name.Builtin, "builtin"),
        (t.Name.Function, "def"),
        (t.Name.Class, "def"),
        (t.Name.Decorator, "meta"),
        (t.Operator.Word, "keyword"),
        (t.Operator, "operator"),
        (t.Generic.Heading, "keyword"),
        (t.Generic.Inserted, "string"),
        (t.Generic.Deleted, "operator"),
    )
    for group, kind in groups:
        if token_type in group:
            return kind
    return None


def _lexer(language: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except (ClassNotFound, ValueError):
        return None


def highlight(code: str, language: str) -> str:
    """``code`` as escaped HTML, its tokens in coloured spans when Pygments knows ``language``."""
    lexer = _lexer(language) if language and len(code) <= HIGHLIGHT_LIMIT else None
    if lexer is None:
        return escape(code)
    # Runs of one colour become one span (whitespace between them joins the run): fewer bytes.
    runs: list[tuple[str | None, list[str]]] = []
    for token_type, value in lexer.get_tokens(code):
        kind = _kind(token_type) if value.strip() else (runs[-1][0] if runs else None)
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(value)
        else:
            runs.append((kind, [value]))
    out = []
    for kind, values in runs:
        text = escape("".join(values))
        out.append(f'<span style="{_TOKEN_STYLES[kind]}">{text}</span>' if kind else text)
    return "".join(out)


def code_block_html(code: str, info: str) -> str:
    """A fenced (or indented) code block: a shaded, bordered box with its language as a label."""
    language = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    label = f'<div style="{CODE_LABEL}">{escape(language)}</div>' if language else ""
    css_class = f' class="language-{escape(language)}"' if language else ""
    body = highlight(code, language.lower())
    code_html = f'<code{css_class} style="{CODE_INNER}">{body}</code>'
    return f'<div style="{CODE_BOX}">{label}<pre style="{CODE_PRE}">{code_html}</pre></div>\n'


def install(md: Any) -> None:
    """Render code, tables and quotes of ``md`` (a MarkdownIt) with the styles above."""

    def fence(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        return code_block_html(token.content, token.info or "")

    def code_block(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        return code_block_html(tokens[idx].content, "")

    def code_inline(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        return f'<code style="{INLINE_CODE}">{escape(tokens[idx].content)}</code>'

    def styled(style_of: Any) -> Any:
        def rule(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
            token = tokens[idx]
            token.attrSet("style", style_of(token))
            return self.renderToken(tokens, idx, options, env)

        return rule

    def cell_style(token: Any) -> str:
        align = str(token.attrGet("style") or "").replace("text-align:", "").strip() or "left"
        table = HEAD_CELLS if token.type == "th_open" else CELLS
        return table.get(align, table["left"])

    md.add_render_rule("fence", fence)
    md.add_render_rule("code_block", code_block)
    md.add_render_rule("code_inline", code_inline)
    md.add_render_rule("table_open", styled(lambda token: TABLE))
    md.add_render_rule("th_open", styled(cell_style))
    md.add_render_rule("td_open", styled(cell_style))
    md.add_render_rule("blockquote_open", styled(lambda token: QUOTE))
