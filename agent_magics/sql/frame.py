"""The DataFrame ``%agent_sql`` returns: the data as the engine gave it, ai_query structs shown readably,
and its HTML kept from MathJax (the cells hold agent text).

Under ``failOnError => false`` each ai_query value is a struct (a dict: ``result``, ``errorMessage``,
``response``; a Spark ``Row`` from the Spark engine). pandas would print every cell as the dict's
repr, the answer lost in braces and quotes. :class:`AiQueryFrame` keeps the cells as they are
(``frame.r[0]["result"]`` works), and only its display shows each struct as its answer, or
``errorMessage: ...`` for a failed row. Derived frames (``frame[...]``, ``frame.copy()``) are plain
DataFrames with the same cells.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from agent_magics.view.sanitize import NO_MATH

STRUCT_KEYS = frozenset({"result", "errorMessage"})
ERROR_PREFIX = "errorMessage: "


def _as_dict(value: Any) -> Any:
    """A Spark ``Row`` (what ``toPandas`` gives for a STRUCT) as a dict; anything else unchanged."""
    as_dict = getattr(value, "asDict", None)
    return as_dict() if callable(as_dict) else value


def is_ai_query_struct(value: Any) -> bool:
    value = _as_dict(value)
    return isinstance(value, dict) and value.keys() >= STRUCT_KEYS


def struct_text(value: Any) -> Any:
    """One struct cell as the text a reader wants: the answer, or the row's error."""
    if not is_ai_query_struct(value):
        return value
    value = _as_dict(value)
    if value.get("errorMessage") is not None:
        return ERROR_PREFIX + str(value["errorMessage"])
    result = value.get("result")
    if isinstance(result, (dict, list)):
        return json.dumps(result, ensure_ascii=False, default=str)
    return result


def struct_columns(frame: pd.DataFrame) -> list[int]:
    """Positions of the object columns whose non-null cells are all ai_query structs."""
    positions = []
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        if column.dtype != object:
            continue
        values = column.dropna()
        if len(values) and all(is_ai_query_struct(v) for v in values):
            positions.append(position)
    return positions


class AiQueryFrame(pd.DataFrame):
    """A pandas DataFrame whose display shows ai_query structs as their answer or error."""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame  # operations give plain DataFrames; only the returned frame displays specially

    def readable(self) -> pd.DataFrame:
        """A plain frame for display: struct cells replaced by their text (a copy only then)."""
        columns = struct_columns(self)
        shown = pd.DataFrame(self, copy=bool(columns))
        for position in columns:
            shown.isetitem(position, shown.iloc[:, position].map(struct_text))
        return shown

    def __repr__(self) -> str:
        return repr(self.readable())

    def _repr_html_(self) -> str | None:
        html = self.readable()._repr_html_()
        # Agent answers in the cells: MathJax must not typeset them after the frontend sanitises
        # (``$\href{...}{...}$`` would become a spoofed link); pandas' own guard is off by default.
        return None if html is None else f'<div class="{NO_MATH}">{html}</div>'


def readable_frame(frame: Any) -> Any:
    """``frame`` as an :class:`AiQueryFrame` (its cells agent text, shown with care); others unchanged."""
    if not isinstance(frame, pd.DataFrame) or isinstance(frame, AiQueryFrame):
        return frame
    from agent_magics.sql.retry_failed import carry_over

    wrapped = AiQueryFrame(frame)
    wrapped.attrs.update(frame.attrs)
    carry_over(frame, wrapped)  # --retry-failed NAME finds the frame the notebook holds
    return wrapped
