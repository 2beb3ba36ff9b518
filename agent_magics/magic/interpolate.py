"""``{name}`` interpolation of a question from the user namespace: one pass, no eval.

Only ``{name}``, ``{name.attr}`` and ``{name[0]}`` / ``{name['key']}`` are replaced. ``{{`` and
``}}`` are escapes for literal braces. Anything else in braces (JSON, dict literals, f-string
code) is left exactly as written, and the result is never formatted again, so braces inside an
interpolated value survive (the jupyter-ai double-interpolation bug cannot happen here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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
