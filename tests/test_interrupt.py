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
