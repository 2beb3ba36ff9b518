"""Interrupting a stream (Kernel > Interrupt is a KeyboardInterrupt in the main thread) stops it
within a second, keeps the partial answer, and marks it interrupted; the kernel stays usable."""

from __future__ import annotations

import _thread
import threading
import time

import pytest

SLOW = """'{"tokens": 400, "tokens_per_second": 40}'"""


@pytest.mark.parametrize("via", ["client", "rest"])
def test_interrupt_mid_stream_keeps_the_partial_answer(shell, via):
    shell.run_cell_magic("agent", f"bench-agent --via {via} --quiet", "warm up: imports and auth")
    timer = threading.Timer(0.8, _thread.interrupt_main)
    started = time.monotonic()
    timer.start()
    try:
        result = shell.run_cell_magic("agent", f"bench-agent --via {via} --quiet --custom-inputs {SLOW}", f"go {via}")
    finally:
        timer.cancel()
    stopped_after = time.monotonic() - started
    assert result.status == "interrupted"
    assert len(result.text) > 0 and stopped_after < 0.8 + 1.0  # the full answer would take 10 s
    assert "interrupted" in result.error
    assert result.output[-1]["type"] == "message"  # the partial text is an item of the result
    assert shell.run_cell_magic("agent", "demo-agent --quiet", "still alive?").ok


class _InterruptedOnce:
    """Raises KeyboardInterrupt from ``name`` the first time, as Ctrl-C landing there would."""

    def __init__(self, target, name):
        self.target, self.name, self.fired = target, name, False

    def __getattr__(self, attribute):
        value = getattr(self.target, attribute)
        if attribute == self.name and not self.fired:
            self.fired = True

            def interrupted(*args, **kwargs):
                raise KeyboardInterrupt

            return interrupted
        return value


@pytest.mark.parametrize("where", ["trace", "view"])
def test_ctrl_c_after_the_stream_ended_keeps_the_result(local_workspace_env, where):
    # In-process: the interrupt is delivered at an exact point, which a timer cannot aim at.
    from agent_magics.run import Execution, build_request
    from agent_magics.transport.workspace import get_workspace
    from agent_magics.view.live import make_view

    workspace = get_workspace(None)
    question = [{"role": "user", "content": "What is MLflow?"}]
    request = build_request("apps/demo-app", question, workspace=workspace, return_trace=True)
    view = make_view("text")
    if where == "view":
        view = _InterruptedOnce(view, "finish")
    else:
        workspace = _InterruptedOnce(workspace, "api")  # the app's trace is fetched from the workspace
    execution = Execution(request, workspace, view)
    for _ in execution:
        pass
    result = execution.result()
    assert result.status == "interrupted" and "MLflow" in result.text, result
    assert "the answer is kept" in result.error or "whole answer is kept" in result.error, result.error
