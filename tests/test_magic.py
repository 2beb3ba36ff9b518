"""%%agent / %agent in a real InteractiveShell against the local workspace over HTTP."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from agent_magics.core.result import AgentResult


def ask(ip, line, body=None):
    if body is None:
        return ip.run_line_magic("agent", line)
    return ip.run_cell_magic("agent", line, body)


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
@pytest.mark.parametrize("via", ["client", "rest"])
def test_responses_agent_answers_with_tool_calls(shell, stream, via, capsys):
    result = ask(shell, f"demo-agent {stream} --via {via}", "What is MLflow?")
    assert isinstance(result, AgentResult) and result.ok, result.error
    assert "MLflow" in result.text
    assert [i["type"] for i in result.output][:2] == ["function_call", "function_call_output"]
    assert result.tool_calls[0]["name"] == "search_docs"
    out = capsys.readouterr().out
    assert "MLflow" in out  # the text view printed the answer


def test_custom_inputs_and_trace_come_back(shell):
    result = ask(
        shell, "demo-agent --custom-inputs '{\"id\": 5}' --return-trace --quiet", "How do I pass custom inputs?"
    )
    assert result.ok, result.error
    assert (result.custom_outputs and result.custom_outputs.get("id") == 5) or "5" in str(result.custom_outputs)
    assert result.trace_dict is not None and result.trace_id
    assert "spans" in result.trace_dict["data"]


def test_app_target_uses_oauth_and_returns_trace_id(shell):
    result = ask(shell, "apps/demo-app --return-trace --quiet", "What does Databricks do?")
    assert result.ok, result.error
    assert result.text and result.trace_id and result.trace_id.startswith("tr-")


@pytest.mark.parametrize("target", ["demo-chat-agent", "demo-chat-model"])
def test_legacy_chat_endpoints(shell, target):
    streamed = ask(shell, f"{target} --quiet", "What is MLflow?")
    whole = ask(shell, f"{target} --quiet --no-stream", "What is MLflow?")
    assert streamed.ok and whole.ok, (streamed.error, whole.error)
    assert streamed.text == whole.text and "MLflow" in streamed.text
    assert streamed.interface in ("chat_agent", "chat_model")


def test_line_magic_and_out(shell):
    result = shell.run_line_magic("agent", "--out ans --quiet demo-agent What's MLflow?")
    assert shell.user_ns["ans"] is result and result.ok


def test_interpolation_from_the_namespace(shell):
    shell.user_ns["topic"] = "MLflow tracing"
    result = ask(shell, "demo-agent --quiet", "Tell me about {topic} {{literally}}")
    assert result.input[-1]["content"] == "Tell me about MLflow tracing {literally}"


def test_continue_sends_previous_turns(shell):
    first = ask(shell, "demo-agent --quiet", "What is MLflow?")
    second = ask(shell, "demo-agent --quiet --continue", "And how do I trace with it?")
    assert second.ok, second.error
    assert second.input[: len(first.input)] == first.input
    assert second.input[len(first.input) : -1] == first.output
    chat_first = ask(shell, "demo-chat-agent --quiet", "What is MLflow?")
    chat_second = ask(shell, "demo-chat-agent --quiet --continue", "More please")
    assert chat_second.ok and chat_second.input[len(chat_first.input) : -1] == chat_first.output


def test_cell_value_does_not_repeat_the_answer(shell, capsys):
    result = ask(shell, "demo-agent --view text", "What is MLflow?")
    assert "text/html" in shell.display_formatter.format(result)[0]  # display(r) in the cell: in full
    capsys.readouterr()
    shell.displayhook(result)  # the cell's Out[]: one line, the answer is on screen already
    out = capsys.readouterr().out
    assert "<AgentResult demo-agent" in out and "MLflow" not in out.split(">", 1)[1], out
    assert "text/html" in result._repr_mimebundle_()  # shown in full when asked again


def test_display_in_the_quiet_cell_shows_the_result(shell, capsys):
    result = ask(shell, "demo-agent --quiet", "What is MLflow?")
    assert "text/html" in shell.display_formatter.format(result)[0]  # display(r): in full
    capsys.readouterr()
    shell.displayhook(result)  # --quiet: still no Out[] (the terminal shell prints only its prompt)
    assert capsys.readouterr().out.strip() in ("", "Out[0]:")
    assert not result.hide_once


@pytest.mark.parametrize(
    ("line", "body", "fragment"),
    [
        ("", "q", "no TARGET"),
        ("demo-agent --custom-inputs '{oops'", "q", "not valid JSON"),
        ("demo-agent", "   ", "the question is empty"),
        ("'bad name!'", "q", "not a valid target"),
        ("demo-chat-agent --api responses", "q", "--api chat"),
        ("demo-agent --timeout nan", "q", "--timeout must be a positive number"),
        ("demo-agent --timeout inf", "q", "--timeout must be a positive number"),
        ("demo-agent --timeout 1e400", "q", "--timeout must be a positive number"),
        ('demo-agent --custom-inputs \'{"n": ' + "9" * 5000 + "}'", "q", "JSON the parser cannot read"),
        ("demo-agent --custom-inputs '" + '{"a":' * 3000 + "1" + "}" * 3000 + "'", "q", "cannot read"),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_usage_errors(shell, line, body, fragment):
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(")):
        ask(shell, line, body)


def test_unknown_endpoint_is_one_clear_line(shell):
    with pytest.raises(UsageError) as info:
        ask(shell, "no-such-endpoint --quiet", "q")
    message = str(info.value)
    assert "no serving endpoint of that name" in message and "--list" in message and "\n" not in message


def test_list_shows_endpoints_and_apps(shell):
    listing = shell.run_line_magic("agent", "--list")
    targets = {row["target"]: row for row in listing.rows}
    assert targets["demo-agent"]["interface"] == "responses"
    assert targets["demo-chat-agent"]["interface"] == "chat_agent"
    assert "apps/demo-app" in targets
    assert "demo-agent" in repr(listing) and "<table>" in listing._repr_html_()


def test_app_trace_is_fetched_by_id(shell):
    result = ask(shell, "apps/demo-app --return-trace --quiet", "How do I query an app?")
    assert result.ok and result.trace_id.startswith("tr-")
    assert result.trace is not None and result.trace.trace_id == result.trace_id
    assert {span.span_type for span in result.trace.spans} >= {"AGENT", "TOOL"}
    assert result.trace is result.trace  # parsed once


def test_inside_databricks_the_trace_id_goes_to_databricks_trace_ui(shell, monkeypatch):
    import json

    from agent_magics.view.databricks import TRACE_MIMETYPE

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj))
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "16.4")
    monkeypatch.setenv("MLFLOW_TRACING_SQL_WAREHOUSE_ID", "wh-1")
    result = ask(shell, "demo-agent --return-trace --view text", "What is MLflow?")
    bundles = [b for b in shown if isinstance(b, dict) and TRACE_MIMETYPE in b]
    assert len(bundles) == 1
    assert json.loads(bundles[0][TRACE_MIMETYPE]) == {"trace_id": result.trace_id, "sql_warehouse_id": "wh-1"}
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION")
    shown.clear()
    ask(shell, "demo-agent --return-trace --view text", "What is MLflow?")
    assert not [b for b in shown if isinstance(b, dict) and TRACE_MIMETYPE in b]


def test_errors_print_one_line_without_traceback(shell, capsys):
    shell.run_cell("%%agent demo-agent --custom-inputs '{bad'\nq")
    shell.run_cell("%%agent no-such-endpoint --quiet\nq")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 2 and all(line.startswith("UsageError: ") for line in lines), err
    assert "Traceback" not in err


def test_help_shows_options_with_examples(shell):
    text = shell.object_inspect_text("%%agent")
    for fragment in ("--custom-inputs", "--return-trace", "--continue", "Examples:", "apps/demo-app"):
        assert fragment in text


def test_client_library_auto_uses_databricks_openai_only_when_already_imported(shell, monkeypatch):
    import sys

    magics = shell.magics_manager.registry["AgentMagics"]
    monkeypatch.setattr(magics, "client_library", "auto")
    monkeypatch.delitem(sys.modules, "databricks_openai", raising=False)
    assert magics._client_library() == "openai"
    monkeypatch.setitem(sys.modules, "databricks_openai", object())
    assert magics._client_library() == "databricks-openai"


@pytest.mark.parametrize("failure", [KeyboardInterrupt, RuntimeError])
def test_log_interrupted_or_failing_keeps_the_answer(shell, monkeypatch, capsys, failure):
    """Ctrl-C while --log starts the tracking server (or imports MLflow) costs only the logging."""
    import agent_magics.evaluate.log as log

    def stopped(*args, **kwargs):
        raise failure("stopped")

    monkeypatch.setattr(log, "log_answer", stopped)
    shell.user_ns.pop("logged_answer", None)
    result = shell.run_cell_magic("agent", "demo-agent --log --quiet --out logged_answer", "What is MLflow?")
    assert isinstance(result, AgentResult) and result.ok and shell.user_ns["logged_answer"] is result
    err = capsys.readouterr().err
    assert "--log:" in err and "not logged" in err


@pytest.mark.parametrize(
    ("magic", "line"), [("agent_sql", "--engine local"), ("agent_eval", "demo-agent --data nowhere")]
)
def test_config_debug_lets_the_original_error_through_every_magic(shell, magic, line):
    from agent_magics.core.errors import AgentUsageError

    with pytest.raises(UsageError) as plain:
        shell.run_line_magic(magic, line)
    assert not isinstance(plain.value, AgentUsageError)
    shell.run_line_magic("config", "AgentMagics.debug = True")
    try:
        with pytest.raises(AgentUsageError):  # the package's own exception, with its traceback
            shell.run_line_magic(magic, line)
    finally:
        shell.run_line_magic("config", "AgentMagics.debug = False")
