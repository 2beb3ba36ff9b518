"""``%%agent A B ...``: the command line of a comparison, and the magic on a real InteractiveShell.

The shell runs against the session's local workspace (no pacing); timing and interrupts through a
real kernel are in tests/test_compare_kernel.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from agent_magics.core.comparison import AgentComparison
from agent_magics.core.errors import AgentUsageError
from agent_magics.magic.command import help_text, parse_cell, parse_line


# -- the command line ------------------------------------------------------------------------------
def test_several_targets_before_between_and_after_options() -> None:
    cmd = parse_cell("demo-agent --return-trace demo-chat-agent --out cmp apps/demo-app", "q", {})
    assert cmd.targets == ["demo-agent", "demo-chat-agent", "apps/demo-app"]
    assert (cmd.return_trace, cmd.out, cmd.target) == (True, "cmp", "demo-agent")
    assert parse_cell("demo-agent,apps/demo-app", "q", {}).targets == ["demo-agent", "apps/demo-app"]


def test_per_target_options_and_shared_ones() -> None:
    cmd = parse_cell(
        "demo-agent demo-chat-agent apps/demo-app --api demo-chat-agent=chat --via rest "
        "--via apps/demo-app=client --custom-inputs '{\"id\": 1}' --custom-inputs apps/demo-app='{\"id\": 5}'",
        "q",
        {},
    )
    assert (cmd.api, cmd.via, cmd.custom_inputs) == (None, "rest", {"id": 1})
    assert cmd.per_target == {
        "demo-chat-agent": {"api": "chat"},
        "apps/demo-app": {"via": "client", "custom_inputs": {"id": 5}},
    }
    assert cmd.options_for("demo-agent") == {"custom_inputs": {"id": 1}, "via": "rest"}
    assert cmd.options_for("demo-chat-agent") == {"custom_inputs": {"id": 1}, "via": "rest", "api": "chat"}
    assert cmd.options_for("apps/demo-app") == {"custom_inputs": {"id": 5}, "via": "client"}
    # A dict variable per target, and '=' inside the JSON.
    ns = {"params": {"k": "v"}}
    cmd = parse_cell('a b --custom-inputs b=params --custom-inputs \'{"q": "x=y"}\'', "q", ns)
    assert cmd.per_target == {"b": {"custom_inputs": {"k": "v"}}} and cmd.custom_inputs == {"q": "x=y"}
    # With one target TARGET=VALUE is that target's value.
    one = parse_cell("demo-chat-agent --api demo-chat-agent=invocations", "q", {})
    assert (one.api, one.per_target) == ("invocations", {})


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("a b --api c=chat", "'c' is not one of this cell's targets (a, b)"),
        ("a b --api a=telepathy", "invalid choice 'telepathy'"),
        ("a b --via carrier-pigeon", "invalid choice"),
        ("a b --api chat --api responses", "--api is given twice"),
        ("a b --api a=chat --api a=responses", "--api a=... is given twice"),
        ("a b --custom-inputs c='{\"id\": 5}'", "'c' is not one of this cell's targets"),
        ('a b --custom-inputs a={"id": 5}', "quote the JSON"),
        ("a b a", "name each TARGET once"),
    ],
)
def test_per_target_mistakes_are_one_clean_line(line: str, fragment: str) -> None:
    with pytest.raises(AgentUsageError) as info:
        parse_cell(line, "q", {})
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_line_form_targets_are_joined_by_commas() -> None:
    cmd = parse_line("demo-agent,demo-chat-agent --api demo-chat-agent=chat What is MLflow?", {})
    assert (cmd.targets, cmd.per_target, cmd.question) == (
        ["demo-agent", "demo-chat-agent"],
        {"demo-chat-agent": {"api": "chat"}},
        "What is MLflow?",
    )
    # Without a comma the first word is the one target and the rest is the question, as before.
    cmd = parse_line("demo-agent demo-chat-agent is my other agent?", {})
    assert (cmd.targets, cmd.question) == (["demo-agent"], "demo-chat-agent is my other agent?")
    assert parse_line("--no-stream demo-agent,apps/demo-app Why?", {}).targets == ["demo-agent", "apps/demo-app"]


def test_help_says_how_to_compare() -> None:
    page = " ".join(help_text().split())
    assert "[TARGET ...]" in page
    assert "%agent A,B question" in page and "--api demo-chat-agent=chat" in page
    assert "--continue keeps one conversation per target" in page
    assert "%%agent demo-agent demo-chat-agent apps/demo-app" in page


# -- the magic ---------------------------------------------------------------------------------------
def test_cell_compares_targets_and_assigns_the_comparison(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    value = shell.run_cell_magic(
        "agent", "demo-agent demo-chat-agent apps/demo-app --api demo-chat-agent=chat --out cmp", "What is MLflow?"
    )
    comparison = shell.user_ns["cmp"]
    assert value is comparison and isinstance(comparison, AgentComparison)
    assert comparison.targets == ["demo-agent", "demo-chat-agent", "apps/demo-app"]
    assert [r.status for r in comparison] == ["completed"] * 3, [r.error for r in comparison]
    assert comparison["demo-chat-agent"].interface == "chat_agent"
    assert all("MLflow" in r.text for r in comparison)
    # The live view showed it: the cell's value is one line, not the columns again.
    capsys.readouterr()
    shell.displayhook(comparison)
    assert capsys.readouterr().out.strip().endswith(comparison.summary())
    assert "am-compare-column" in comparison._repr_mimebundle_()["text/html"]  # later: in full


def test_line_form_and_quiet(shell: Any) -> None:
    comparison = shell.run_line_magic("agent", "--quiet demo-agent,demo-chat-agent What is MLflow?")
    assert [r.status for r in comparison] == ["completed", "completed"]
    assert comparison.question == "What is MLflow?"
    assert comparison.hide_once  # --quiet: no Out[] either


def test_one_target_failing_does_not_stop_the_others(shell: Any) -> None:
    comparison = shell.run_cell_magic("agent", "demo-agent fault-500 no-such-endpoint --quiet", "What is MLflow?")
    assert [r.status for r in comparison] == ["completed", "failed", "failed"]
    assert "HTTP 500" in (comparison["fault-500"].error or "")
    assert "no-such-endpoint" in (comparison["no-such-endpoint"].error or "")


def test_continue_keeps_one_conversation_per_target(shell: Any) -> None:
    shell.run_cell_magic("agent", "demo-agent --quiet", "My name is Ada.")  # a single-target turn first
    first = shell.run_cell_magic("agent", "demo-agent demo-chat-agent --continue --quiet", "What is MLflow?")
    second = shell.run_cell_magic("agent", "demo-agent demo-chat-agent --continue --quiet", "And how do I install it?")

    def users(result: Any) -> list[str]:
        return [i["content"] for i in result.input if i.get("role") == "user"]

    assert users(first["demo-agent"]) == ["My name is Ada.", "What is MLflow?"]
    assert users(first["demo-chat-agent"]) == ["What is MLflow?"]
    assert users(second["demo-agent"]) == ["My name is Ada.", "What is MLflow?", "And how do I install it?"]
    assert users(second["demo-chat-agent"]) == ["What is MLflow?", "And how do I install it?"]
    # ...and a single-target cell goes on with the conversation the comparison left.
    third = shell.run_cell_magic("agent", "demo-chat-agent --continue --quiet", "Thanks.")
    assert users(third)[-3:] == ["What is MLflow?", "And how do I install it?", "Thanks."]


def test_text_view_prints_each_answer_labelled(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_cell_magic("agent", "demo-agent demo-chat-agent --view text", "What is MLflow?")
    out = capsys.readouterr().out
    assert out.count("── demo-agent ──") == 1 and out.count("── demo-chat-agent ──") == 1


def test_a_mistyped_target_is_a_usage_error_before_anything_is_sent(shell: Any) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="not a valid target"):
        shell.run_cell_magic("agent", "demo-agent 'bad name!'", "q")
    with pytest.raises(UsageError, match="question is empty"):
        shell.run_cell_magic("agent", "demo-agent demo-chat-agent", "  ")


def test_each_target_gets_its_own_options(shell: Any) -> None:
    comparison = shell.run_cell_magic(
        "agent",
        "demo-agent demo-chat-agent apps/demo-app --quiet --custom-inputs '{\"id\": 1}' "
        "--custom-inputs apps/demo-app='{\"id\": 5}' --via demo-agent=client --api demo-chat-agent=invocations",
        "What is MLflow?",
    )
    assert [r.status for r in comparison] == ["completed"] * 3, [r.error for r in comparison]
    echoed = {r.target: (r.custom_outputs or {}).get("echo") for r in comparison}
    assert echoed == {"demo-agent": {"id": 1}, "demo-chat-agent": {"id": 1}, "apps/demo-app": {"id": 5}}
    assert [r.via for r in comparison] == ["client", "rest", "rest"]
    assert comparison["demo-chat-agent"].interface == "chat_agent"
