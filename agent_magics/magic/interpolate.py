"""``{name}`` interpolation of a question from the user namespace: one pass, no eval.

Only ``{name}``, ``{name.attr}`` and ``{name[0]}`` / ``{name['key']}`` are replaced. ``{{`` and
``}}`` are escapes for literal braces. Anything else in braces (JSON, dict literals, f-string
code) is left exactly as written, and the result is never formatted again, so braces inside an
interpolated value survive (the jupyter-ai double-interpolation bug cannot happen here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_FIELD = re.compile(
    r"\{\{|\}\}|\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:-?\d+|'[^'\]]*'|\"[^\"\]]*\")\])*)\s*\}"
)
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(-?\d+|'[^']*'|\"[^\"]*\")\]")
_MISSING = object()


def _lookup(expression: str, namespace: Mapping[str, Any]) -> Any:
    head = re.match(r"[A-Za-z_][A-Za-z0-9_]*", expression)
    assert head is not None  # guaranteed by _FIELD
    value = namespace.get(head.group(0), _MISSING)
    for step in _STEP.finditer(expression, head.end()):
        if value is _MISSING:
            break
        attr, key = step.groups()
        try:
            if attr is not None:
                if attr.startswith("_"):  # no dunder walking from a prompt
                    return _MISSING
                value = getattr(value, attr)
            else:
                value = value[int(key)] if key[0] not in "'\"" else value[key[1:-1]]
        except (AttributeError, LookupError, TypeError):
            return _MISSING
    return value


def interpolate(text: str, namespace: Mapping[str, Any]) -> tuple[str, list[str]]:
    """Return the interpolated text and the names that were not found (left as written)."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        value = _lookup(match.group(1), namespace)
        if value is _MISSING:
            missing.append(match.group(1))
            return token
        return str(value)

    return _FIELD.sub(replace, text), missing


# -- %agent_sql: {name} is a value, bound as a named parameter, never pasted into the SQL ----------

PARAMETER_PREFIX = "_v"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a"}
_KEPT_ESCAPES = frozenset("%_")  # \% and \_ stay as written: LIKE patterns read them
_OCTAL = re.compile(r"[0-3][0-7]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")


@dataclass
class SqlInterpolation:
    """SQL with ``:_v0``-style markers where ``{name}`` was, and the values to bind to them."""

    sql: str
    parameters: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def interpolate_sql(text: str, namespace: Mapping[str, Any]) -> SqlInterpolation:
    """``{name}`` in SQL becomes a named parameter holding the value, never SQL text.

    * outside quotes, ``{name}`` becomes ``:_vN`` bound to the value (a number stays a number);
    * a quoted literal holding ``{name}`` (``'{x}'``, ``'Hello {x}!'``) becomes one parameter whose
      value is the literal's text with the values filled in (always a STRING);
    * comments and backtick identifiers are left as written (no value becomes an identifier);
    * ``{{`` / ``}}`` are literal braces everywhere; a name not in the notebook is left as written.
    """
    out = SqlInterpolation(sql="")
    bound: dict[tuple[str, str], str] = {}  # the same value twice is one parameter

    def bind(key: tuple[str, str], value: Any) -> str:
        if key not in bound:
            bound[key] = f"{PARAMETER_PREFIX}{len(out.parameters)}"
            out.parameters[bound[key]] = value
        return ":" + bound[key]

    pieces: list[str] = []
    for kind, chunk in _sql_pieces(text):
        if kind == "code":
            pieces.append(_code(chunk, namespace, out.missing, bind))
        elif kind == "literal":
            pieces.append(_literal(chunk, namespace, out.missing, bind))
        elif kind == "raw":  # r'...': no escapes (a Windows path), the r goes with the literal
            pieces.append(_literal(chunk[1:], namespace, out.missing, bind, raw=True, prefix=chunk[0]))
        else:  # comments, identifiers
            pieces.append(chunk)
    out.sql = "".join(pieces)
    return out


def _code(chunk: str, namespace: Mapping[str, Any], missing: list[str], bind: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        value = _lookup(match.group(1), namespace)
        if value is _MISSING:
            missing.append(match.group(1))
            return token
        return str(bind(("value", match.group(1)), sql_value(value)))

    return _FIELD.sub(replace, chunk)


def _literal(
    chunk: str, namespace: Mapping[str, Any], missing: list[str], bind: Any, *, raw: bool = False, prefix: str = ""
) -> str:
    quote, body = chunk[0], chunk[1:-1]
    fields = [m for m in _FIELD.finditer(body) if m.group(1)]
    if not fields:
        return prefix + quote + body.replace("{{", "{").replace("}}", "}") + quote
    decode = (lambda text, _quote: text) if raw else _decode
    found = False
    parts: list[str] = []
    pos = 0
    for match in _FIELD.finditer(body):
        parts.append(decode(body[pos : match.start()], quote))
        pos = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
            continue
        value = _lookup(match.group(1), namespace)
        if value is _MISSING:
            missing.append(match.group(1))
            parts.append(token)
        else:
            found = True
            parts.append(str(value))
    parts.append(decode(body[pos:], quote))
    if not found:
        return prefix + chunk
    text = "".join(parts)
    return str(bind(("literal", text), text))


def _decode(raw: str, quote: str) -> str:
    """A literal's text as Databricks reads it: backslash escapes (``\\n``, ``\\u00e9``, octal ``\\101``;
    ``\\%`` and ``\\_`` kept for LIKE), and a doubled quote is one quote."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            after = raw[i + 1]
            if after == "u" and _HEX4.fullmatch(raw[i + 2 : i + 6]):
                out.append(chr(int(raw[i + 2 : i + 6], 16)))
                i += 6
                continue
            if _OCTAL.fullmatch(raw[i + 1 : i + 4]):
                out.append(chr(int(raw[i + 1 : i + 4], 8)))
                i += 4
                continue
            out.append("\\" + after if after in _KEPT_ESCAPES else _ESCAPES.get(after, after))
            i += 2
        elif ch == quote and raw[i + 1 : i + 2] == quote:
            out.append(quote)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def sql_value(value: Any) -> Any:
    """The value to bind: bool, int, float, None and str as they are; numpy scalars unwrapped; pandas'
    missing values (``pd.NA``, ``pd.NaT``) NULL; a dict or list its JSON (a request body); else str()."""
    if hasattr(value, "item") and type(value).__module__.split(".")[0] == "numpy" and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if type(value).__module__.split(".")[0] == "pandas" and type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, (dict, list, tuple)):
        import json

        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            return str(value)
    return str(value)


def _sql_pieces(text: str) -> list[tuple[str, str]]:
    """``text`` cut into code, quoted literals ('...' and "..."), backtick identifiers and comments."""
    pieces: list[tuple[str, str]] = []
    start = i = 0
    n = len(text)

    def cut(kind: str, end: int) -> None:
        nonlocal start
        if start < i:
            pieces.append(("code", text[start:i]))
        pieces.append((kind, text[i:end]))
        start = end

    while i < n:
        ch = text[i]
        if ch in "'\"" and text[i - 1 : i] in ("r", "R") and not _word_char(text[i - 2 : i - 1]):
            i -= 1  # a raw literal r'...': its backslashes are text, and the r is part of it
            end = text.find(ch, i + 2)
            if end == -1:  # unterminated: the SQL parser will say so; keep it as code
                break
            cut("raw", end + 1)
            i = end + 1
        elif ch in "'\"`":
            j = i + 1
            while j < n:
                if text[j] == "\\" and ch != "`":
                    j += 2
                    continue
                if text[j] == ch:
                    if text[j + 1 : j + 2] == ch:  # a doubled quote stays inside
                        j += 2
                        continue
                    break
                j += 1
            end = min(j + 1, n)
            if j >= n:  # unterminated: the SQL parser will say so; keep it as code
                break
            cut("identifier" if ch == "`" else "literal", end)
            i = end
        elif text.startswith("--", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            cut("comment", end)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end == -1 else end + 2
            cut("comment", end)
            i = end
        else:
            i += 1
    if start < n:
        pieces.append(("code", text[start:]))
    return pieces


def _word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"
