"""What a ChatAgent's answer holds, and how an agent's own error reads, in a real kernel."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("stream", ["--stream", "--no-stream"])
def test_chat_agent_auto_keeps_tool_outputs(kernel: Any, stream: str) -> None:
    out = kernel.run(f"%%agent demo-chat-agent {stream} --out r\nWhat is MLflow?")
    assert not out.errors, out.errors
    kinds = kernel.value("[i.get('type', 'message') for i in r.output]")
    assert "function_call" in kinds and "function_call_output" in kinds, kinds
    outputs = kernel.value("[i['output'] for i in r.output if i.get('type') == 'function_call_output']")
    assert all(o for o in outputs), outputs
    assert "no output" not in out.stdout, out.stdout
    assert kernel.value("r.ok") is True


def test_chat_agent_api_chat_is_the_openai_shape(kernel: Any) -> None:
    kernel.run("%%agent demo-chat-agent --api chat --quiet --out r\nWhat is MLflow?")
    assert kernel.value("r.ok") is True
    kinds = kernel.value("[i.get('type', 'message') for i in r.output]")
    assert "function_call_output" not in kinds and kinds[-1] == "message", (
        kinds
    )  # chat completions carry no tool outputs


@pytest.mark.parametrize(
    "options", ["--via rest", "--via rest --no-stream", "--via client", "--via client --no-stream"]
)
def test_agent_error_event_names_the_target(kernel: Any, options: str) -> None:
    kernel.run(f"%%agent fault-error-event {options} --quiet --out r\nq")
    error = kernel.value("r.error")
    assert error and error.startswith("fault-error-event: "), error
