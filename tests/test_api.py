"""The public Python API (`from agent_magics import ask, stream, Conversation`) against the local workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.transport.embedded import LocalWorkspace
from agent_magics.transport.workspace import forget_workspaces


@pytest.fixture
def configured(local_workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWorkspace]:
    for name in list(os.environ):
        if name.startswith("DATABRICKS_"):
            monkeypatch.delenv(name)
    for name, value in local_workspace.env(auth="oauth").items():
        monkeypatch.setenv(name, value)
    forget_workspaces()
    yield local_workspace
    forget_workspaces()


def test_ask_returns_the_whole_result_through_rest_by_default(configured: LocalWorkspace) -> None:
    from agent_magics import ask

    result = ask("demo-agent", "What is MLflow?", return_trace=True, custom_inputs={"id": 5}, client_library="openai")
    assert result.status == "completed" and "MLflow" in result.text
    assert result.via == "rest"  # the magic's default (the client only once DatabricksOpenAI is in use)
    assert result.trace is not None and result.trace.spans
    assert result.custom_outputs is not None


def test_stream_yields_the_text_as_it_arrives_and_keeps_the_result(configured: LocalWorkspace) -> None:
    from agent_magics import stream

    answer = stream("demo-agent", "What is MLflow?")
    chunks = list(answer)
    assert len(chunks) > 3
    assert "".join(chunks) in answer.result.text  # the message streamed in chunks is the answer's text
    assert answer.result.status == "completed"
    assert list(answer) == []  # consumed once


@pytest.mark.parametrize("leave", ["break", "exception"])
def test_leaving_the_loop_early_stops_the_answer_and_says_so(configured: LocalWorkspace, leave: str) -> None:
    from agent_magics import stream

    answer = stream("bench-agent", "q", custom_inputs={"tokens": 400, "tokens_per_second": 200})
    kept = []
    try:
        for chunk in answer:
            kept.append(chunk)
            if len(kept) == 3:
                if leave == "break":
                    break
                raise KeyboardInterrupt  # Ctrl-C while the caller's loop body runs
    except KeyboardInterrupt:
        pass
    result = answer.result
    assert result.status == "interrupted" and "stopped before the end" in (result.error or ""), result
    assert result.text.startswith("".join(kept)) and len(result.text) < 400 * 3


def test_an_iterator_kept_alive_is_read_on_by_result(configured: LocalWorkspace) -> None:
    from agent_magics import stream

    answer = stream("bench-agent", "q", custom_inputs={"tokens": 60, "tokens_per_second": 0})
    chunks = iter(answer)
    first = next(chunks)
    result = answer.result  # reads the rest from where the caller stopped
    assert result.status == "completed" and result.text.startswith(first) and len(result.text) > len(first)


def test_stream_result_before_iterating_consumes_the_stream(configured: LocalWorkspace) -> None:
    from agent_magics import stream

    answer = stream("demo-chat-agent", "What is MLflow?", via="client")
    result = answer.result
    assert result.status == "completed" and result.via == "client" and result.text


def test_conversation_sends_earlier_turns_again(configured: LocalWorkspace) -> None:
    from agent_magics import Conversation

    chat = Conversation("demo-agent", system="Answer briefly.")
    first = chat.ask("What is MLflow?")
    second = chat.ask("And how do I install it?")
    assert first.ok and second.ok and chat.turns == 2
    sent = second.input
    assert sent[0] == {"role": "system", "content": "Answer briefly."}
    assert {"role": "user", "content": "What is MLflow?"} in sent
    assert any(item.get("type") == "message" and item.get("role") == "assistant" for item in sent)
    assert sent[-1] == {"role": "user", "content": "And how do I install it?"}
    assert chat.history[-len(second.output) :] == second.output


def test_failures_are_plain_exceptions_or_failed_results(configured: LocalWorkspace) -> None:
    from IPython.core.error import UsageError

    from agent_magics import ask

    with pytest.raises(AgentUsageError, match="not a valid target") as bad:
        ask("bad name!", "q")
    assert not isinstance(bad.value, UsageError)
    with pytest.raises(AgentError, match="no-such-endpoint"):
        ask("no-such-endpoint", "q")
    failed = ask("fault-500", "q")
    assert failed.status == "failed" and "HTTP 500" in (failed.error or "")


PLAIN_PYTHON = """
import json, sys
import agent_magics
cheap = "agent_magics.run" not in sys.modules
from agent_magics import ask, stream
result = ask("demo-agent", "What is MLflow?")
chunks = list(stream("demo-chat-agent", "What is MLflow?"))
print(json.dumps({
    "cheap_import": cheap,
    "status": result.status,
    "text": bool(result.text),
    "chunks": len(chunks),
    "ipython": "IPython" in sys.modules,
    "ipywidgets": "ipywidgets" in sys.modules,
}))
"""


def test_plain_python_on_the_embedded_default_never_imports_ipython(tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(DATABRICKS_CONFIG_FILE=str(tmp_path / "none.cfg"), HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", PLAIN_PYTHON], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "cheap_import": True,
        "status": "completed",
        "text": True,
        "chunks": report["chunks"],
        "ipython": False,
        "ipywidgets": False,
    }
    assert report["chunks"] > 3
    assert "local demo workspace" in done.stdout  # the one-line notice says which workspace answered


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1, 1e400])
def test_a_timeout_that_is_no_time_limit_is_refused(timeout):
    from agent_magics.core.request import Timeouts

    with pytest.raises(AgentUsageError, match="positive number of seconds"):
        Timeouts(total=timeout)  # what ask(timeout=...) and every magic build
    with pytest.raises(AgentUsageError, match="positive number of seconds"):
        Timeouts(read=timeout)


def test_a_total_timeout_of_zero_or_none_is_no_limit_as_before():
    from agent_magics.core.request import Timeouts

    assert Timeouts(total=0).total == 0 and Timeouts(total=None).total is None
    assert Timeouts(read=None).read is None  # read_timeout=None: httpx's no limit, as before
    with pytest.raises(AgentUsageError, match="positive number of seconds"):
        Timeouts(read=0)  # a read that may take no time at all would fail every answer


@pytest.mark.parametrize("trouble", [KeyboardInterrupt, ValueError])
def test_trouble_while_choosing_the_transport_is_a_result_not_a_traceback(
    configured: LocalWorkspace, monkeypatch: pytest.MonkeyPatch, trouble: type[BaseException]
) -> None:
    """Ctrl-C during an app's URL lookup or OAuth (or a library's ValueError while building its
    client) happens before the first event: stood in for here by the transport choice raising it."""
    import agent_magics.run
    from agent_magics import ask

    def slow_choice(*args: Any) -> Any:
        raise trouble("DatabricksOpenAI could not be built")

    monkeypatch.setattr(agent_magics.run, "select_transport", slow_choice)
    result = ask("demo-agent", "What is MLflow?")
    expected = "interrupted" if trouble is KeyboardInterrupt else "failed"
    assert result.status == expected and result.error and "\n" not in result.error, result


@pytest.mark.parametrize(
    ("option", "value"), [("via", "REST"), ("api", "chatt"), ("client_library", "databricks_openai")]
)
def test_an_unknown_choice_is_refused_in_one_line_as_by_the_magic(option: str, value: str) -> None:
    from agent_magics import ask

    with pytest.raises(AgentUsageError, match=f"{option}={value!r}: use one of") as refused:
        ask("demo-agent", "q", **{option: value})  # type: ignore[arg-type]
    assert "\n" not in str(refused.value)
