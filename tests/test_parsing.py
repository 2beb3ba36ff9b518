"""Option parsing and {name} interpolation: clean errors, one pass, code survives."""

from __future__ import annotations

import pytest

from agent_magics.core.errors import AgentUsageError
from agent_magics.magic.command import parse_cell, parse_line
from agent_magics.magic.interpolate import interpolate


def test_interpolation_is_one_pass_and_keeps_code():
    ns = {"topic": "MLflow", "snippet": "def f(x): return {x: '{topic}'}", "d": {"a": [10, 20]}}
    text, missing = interpolate("About {topic}: {snippet} {d['a'][1]} {{topic}} {\"k\": 1}", ns)
    assert text == "About MLflow: def f(x): return {x: '{topic}'} 20 {topic} {\"k\": 1}"
    assert missing == []


def test_interpolation_leaves_unknown_names_and_reports_them():
    text, missing = interpolate("use {nope} and {x.__class__}", {"x": 1})
    assert text == "use {nope} and {x.__class__}"
    assert missing == ["nope", "x.__class__"]


def test_cell_options():
    cmd = parse_cell(
        "apps/demo-app --custom-inputs '{\"id\": 5}' --return-trace --no-stream --out ans --timeout 30",
        "question",
        {},
    )
    assert (cmd.target, cmd.custom_inputs, cmd.return_trace, cmd.stream, cmd.out, cmd.timeout) == (
        "apps/demo-app",
        {"id": 5},
        True,
        False,
        "ans",
        30.0,
    )


def test_custom_inputs_from_a_dict_variable():
    cmd = parse_cell("demo-agent --custom-inputs params", "q", {"params": {"k": "v"}})
    assert cmd.custom_inputs == {"k": "v"}


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("demo-agent --custom-inputs '{bad'", "not valid JSON"),
        ("demo-agent --custom-inputs '[1]'", "expected a JSON object"),
        ("demo-agent --custom-inputs missing_var", "no variable named"),
        ("demo-agent --bogus", "unrecognized arguments"),
        ("demo-agent --timeout -3", "--timeout must be"),
        ("demo-agent --out 1abc", "not a valid Python variable"),
        ("demo-agent --via carrier-pigeon", "invalid choice"),
        ("demo-agent 'unclosed", "check the quotes"),
    ],
)
def test_bad_options_are_one_clean_line(line, fragment):
    with pytest.raises(AgentUsageError) as info:
        parse_cell(line, "q", {})
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_line_form_keeps_the_question_as_typed():
    cmd = parse_line('--no-stream demo-agent What\'s "MLflow"? {x}', {})
    assert (cmd.target, cmd.stream, cmd.question) == ("demo-agent", False, 'What\'s "MLflow"? {x}')
    assert parse_line("--list", {}).list


def test_fuzz_parsers_raise_only_clean_errors():
    hypothesis = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    @hypothesis.settings(max_examples=300, deadline=None)
    @hypothesis.given(st.text(max_size=80), st.text(max_size=40))
    def check(line, body):
        for parse in (lambda: parse_cell(line, body, {}), lambda: parse_line(line, {})):
            try:
                parse()
            except AgentUsageError as exc:
                assert str(exc)
            except Exception as exc:  # HelpShown is the only other outcome (--help/-h)
                assert type(exc).__name__ == "HelpShown", repr(exc)
        interpolate(body, {"a": 1, "b": {"c": [1]}})

    check()


@pytest.mark.parametrize(
    "line",
    [
        'demo-agent --system "explain --custom-inputs {id} usage"',
        "demo-agent --system 'pass --databricks-options={\"a\": 1} like this'",
        'demo-agent --system="use --custom-inputs {id}"',
        "demo-agent --system='pass --custom-inputs {\"a\": 1}'",
    ],
)
def test_an_option_name_inside_a_quoted_value_is_not_that_option(line: str) -> None:
    command = parse_cell(line, "q", {})
    assert "--" in (command.system or "") and command.custom_inputs is None


@pytest.mark.parametrize(
    "line",
    ['demo-agent --custom-inputs {"id": 5}', 'demo-agent --custom-inputs={"id":5}', 'a b --custom-inputs a={"id": 5}'],
)
def test_unquoted_json_is_still_told_to_be_quoted(line: str) -> None:
    with pytest.raises(AgentUsageError, match="quote the JSON"):
        parse_cell(line, "q", {})


def test_quoted_json_passes() -> None:
    assert parse_cell("demo-agent --custom-inputs '{\"id\": 5}'", "q", {}).custom_inputs == {"id": 5}
    assert parse_cell("demo-agent --custom-inputs={}", "q", {}).custom_inputs == {}
