"""The DataFrame %agent_sql returns: failOnError => false structs kept as data, shown as their answer or error."""

from __future__ import annotations

import pandas as pd

from agent_magics.sql.frame import AiQueryFrame, readable_frame


class SparkRow:
    """What Spark's toPandas gives for a STRUCT: an object with asDict()."""

    def __init__(self, **fields: object) -> None:
        self.fields = fields

    def asDict(self) -> dict[str, object]:  # Spark's name
        return dict(self.fields)


def ok(value: object) -> dict[str, object]:
    return {"result": value, "errorMessage": None, "response": value}


def test_structs_display_as_answers_and_errors_and_stay_structs() -> None:
    frame = pd.DataFrame(
        {
            "q": ["a", "b", "c"],
            "r": [ok("the answer"), {"result": None, "errorMessage": "HTTP 500", "response": None}, None],
        }
    )
    frame.attrs["agent_sql_engine"] = "local"
    shown = readable_frame(frame)
    assert isinstance(shown, AiQueryFrame) and shown.attrs == {"agent_sql_engine": "local"}
    assert shown["r"][0] == ok("the answer")  # the data is unchanged
    for text in (repr(shown), shown._repr_html_()):
        assert "the answer" in text and "errorMessage: HTTP 500" in text and "{'result'" not in text
    assert type(shown[["r"]]) is pd.DataFrame and type(shown.copy()) is pd.DataFrame


def test_typed_results_and_spark_rows_are_readable_too() -> None:
    frame = pd.DataFrame({"r": [ok({"label": "spam"}), SparkRow(result=None, errorMessage="boom", response=None)]})
    text = repr(readable_frame(frame))
    assert '{"label": "spam"}' in text and "errorMessage: boom" in text


def test_frames_without_structs_show_as_pandas_shows_them_but_untypeset() -> None:
    frame = pd.DataFrame({"a": [1], "d": [{"x": 1}], "t": [r"$\href{https://ev.il}{bank.com}$"]})
    shown = readable_frame(frame)
    assert repr(shown) == repr(frame) and shown["d"][0] == {"x": 1}  # a dict that is no ai_query struct
    html = shown._repr_html_()
    assert html.startswith('<div class="tex2jax_ignore mathjax_ignore">') and frame._repr_html_() in html
    assert readable_frame(shown) is shown
