"""``%%agent A B`` in a real ipykernel (jupyter_client) against a paced local workspace.

Each demo agent takes about 2 s to answer (0.5 s before the first word, then 50 words a second). What
the tests read is what the frontend would get: the cell's display messages, timed by the kernel's
own message timestamps. "Together" is asserted as overlapping streaming intervals, never as a
wall-clock bound.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from first_hour.kernel_helpers import TIMEOUT, Kernel, kernel_env

from agent_magics.transport.embedded import LocalWorkspace

TARGETS = ["demo-agent", "demo-chat-agent"]
COLUMN = 'class="am-compare-column"'


@pytest.fixture(scope="module")
def paced_kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    with LocalWorkspace(first_token_delay=0.5, tokens_per_second=50, hang_seconds=3) as workspace:
        kernel = Kernel(kernel_env(tmp_path_factory.mktemp("kernel"), workspace))
        try:
            setup = kernel.run("%load_ext agent_magics\n%config AgentMagics.client_library = 'openai'")
            assert not setup.errors, setup.errors
            warm = kernel.run("%%agent demo-agent demo-chat-agent --quiet\nHi")  # auth, lookups, imports
            assert not warm.errors, warm.errors
            yield kernel
        finally:
            kernel.stop()


@dataclass
class Shown:
    """One display message of the comparison: when the kernel sent it, and what each column showed."""

    at: float
    columns: list[str]
    plain: str

    def has_text(self, index: int) -> bool:
        return "am-answer" in self.columns[index]

    def final(self, index: int) -> bool:
        return "am-figures" in self.columns[index]  # a finished column: its figures over its static result

    def status(self, index: int) -> str:
        found = re.search(r"\b(completed|failed|interrupted)\b", self.columns[index]) if self.final(index) else None
        return found.group(1) if found else "live"


@dataclass
class Cell:
    shown: list[Shown] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    comms: int = 0
    answer_widgets: set[str] = field(default_factory=set)  # widgets (comm ids) that showed answer text
    sent: int = 0  # JSON bytes of the display and comm messages' content (envelopes not counted)


def _record(cell: Cell, msg: dict[str, Any]) -> None:
    kind, content = msg["msg_type"], msg["content"]
    if kind in ("display_data", "update_display_data") or kind.startswith("comm_"):
        cell.sent += len(json.dumps(content, default=str))
    if kind in ("display_data", "update_display_data"):
        html = content["data"].get("text/html", "")
        if COLUMN in html:
            at = _seconds(msg["header"]["date"])
            cell.shown.append(Shown(at, html.split(COLUMN)[1:], content["data"].get("text/plain", "")))
    elif kind == "error":
        cell.errors.append(f"{content['ename']}: {content['evalue']}")
    elif kind.startswith("comm_"):
        cell.comms += 1
        state = (content.get("data") or {}).get("state") or {}
        if "am-answer" in str(state.get("value", "")):
            cell.answer_widgets.add(content["comm_id"])


def _seconds(date: Any) -> float:
    return (date if isinstance(date, datetime) else datetime.fromisoformat(str(date))).timestamp()


def run(kernel: Kernel, code: str, *, interrupt_when: Any = None) -> Cell:
    """Run ``code``; with ``interrupt_when(cell)``, Kernel > Interrupt the first time it is true."""
    cell = Cell()
    msg_id = kernel.client.execute(code)
    interrupted = False
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        msg = kernel.client.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        _record(cell, msg)
        if interrupt_when is not None and not interrupted and interrupt_when(cell):
            kernel.manager.interrupt_kernel()
            interrupted = True
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return cell
    raise AssertionError("the cell did not finish")


def streaming_interval(cell: Cell, index: int) -> tuple[float, float]:
    """From the first message showing column ``index``'s text to the first showing it final."""
    start = next(s.at for s in cell.shown if s.has_text(index))
    end = next(s.at for s in cell.shown if s.final(index))
    return start, end


def test_two_targets_stream_at_the_same_time(paced_kernel: Kernel) -> None:
    cell = run(paced_kernel, "%%agent demo-agent demo-chat-agent --out cmp\nWhat is MLflow?")
    assert not cell.errors, cell.errors
    (a0, a1), (b0, b1) = streaming_interval(cell, 0), streaming_interval(cell, 1)
    overlap = min(a1, b1) - max(a0, b0)
    shorter = min(a1 - a0, b1 - b0)
    print(
        f"\nstreaming intervals: demo-agent {a0 - a0:.2f}-{a1 - a0:.2f} s, "
        f"demo-chat-agent {b0 - a0:.2f}-{b1 - a0:.2f} s;"
        f" overlap {overlap:.2f} s of the shorter {shorter:.2f} s; {len(cell.shown)} updates, {cell.sent:,} bytes"
    )
    assert shorter > 0.3  # the pace holds: each answer streams for a while
    assert overlap > 0.5 * shorter, ((a0, a1), (b0, b1))  # together, not one after the other
    both = [s for s in cell.shown if s.has_text(0) and s.has_text(1) and not s.final(0) and not s.final(1)]
    assert both, "no message showed both columns streaming at once"
    final = cell.shown[-1]
    assert [final.status(0), final.status(1)] == ["completed", "completed"]
    assert final.has_text(0) and final.has_text(1)
    assert "<details" in "".join(final.columns)  # the diff, collapsed under the two columns
    rows = paced_kernel.value("[[r.status, r.timings['first_text'], r.timings['total']] for r in cmp]")
    print(f"each answer: {', '.join(f'first text {r[1]:.2f} s, total {r[2]:.2f} s' for r in rows)}")
    assert [r[0] for r in rows] == ["completed", "completed"]
    assert all(r[1] >= 0.5 for r in rows)  # the pace held


@pytest.mark.parametrize("view", ["display", "widget"])
def test_kernel_interrupt_stops_every_target_and_keeps_each_partial_answer(paced_kernel: Kernel, view: str) -> None:
    def both_have_text(cell: Cell) -> bool:
        if view == "widget":  # each column's answer streams into a widget of its own
            return len(cell.answer_widgets) >= 2
        last = cell.shown[-1] if cell.shown else None
        return last is not None and last.has_text(0) and last.has_text(1)

    cell = run(
        paced_kernel,
        f"%%agent demo-agent demo-chat-agent --view {view} --out stopped\nWhat is MLflow? Explain in detail.",
        interrupt_when=both_have_text,
    )
    assert not cell.errors, cell.errors  # the comparison is the cell's value, not a KeyboardInterrupt
    rows = paced_kernel.value("[[r.target, r.status, len(r.text), r.error] for r in stopped]")
    assert [r[1] for r in rows] == ["interrupted", "interrupted"], rows
    assert all(r[2] > 0 for r in rows), rows  # what had arrived is kept, for each
    final = cell.shown[-1]
    assert [final.status(0), final.status(1)] == ["interrupted", "interrupted"], final.plain
    assert final.has_text(0) and final.has_text(1)
    again = paced_kernel.value("[r.status for r in __import__('agent_magics').compare(['demo-agent'], 'Hi')]")
    assert again == ["completed"]  # the kernel is still usable


def test_one_failing_target_does_not_stop_the_other(paced_kernel: Kernel) -> None:
    cell = run(paced_kernel, "%%agent fault-500 demo-agent --out mixed\nWhat is MLflow?")
    assert not cell.errors, cell.errors
    rows = paced_kernel.value("[[r.status, bool(r.text)] for r in mixed]")
    assert rows == [["failed", False], ["completed", True]]
    assert "HTTP 500" in cell.shown[-1].columns[0]


def test_widget_view_in_a_kernel(paced_kernel: Kernel) -> None:
    cell = run(paced_kernel, "%%agent demo-agent demo-chat-agent --view widget --out w\nWhat is MLflow?")
    assert not cell.errors, cell.errors
    assert cell.comms > 10  # the columns streamed as widget updates
    print(f"\nwidget view: {cell.comms} comm messages, {cell.sent:,} bytes")
    final = cell.shown[-1]  # then the static comparison replaced them
    assert all(final.final(i) and final.has_text(i) for i in (0, 1))
    assert paced_kernel.value("[r.status for r in w]") == ["completed", "completed"]


def test_quiet_shows_nothing_and_the_value_is_one_line(paced_kernel: Kernel) -> None:
    quiet = paced_kernel.run("%%agent demo-agent demo-chat-agent --quiet --out q\nWhat is MLflow?")
    assert (quiet.displays, quiet.results, quiet.stdout.strip(), quiet.errors) == ([], [], "", [])
    assert paced_kernel.value("[r.status for r in q]") == ["completed", "completed"]
    shown = paced_kernel.run("%agent demo-agent,demo-chat-agent What is MLflow?")
    assert [r["text/plain"] for r in shown.results] == [
        "<AgentComparison demo-agent: completed; demo-chat-agent: completed>"
    ]  # Out[] is one line: the columns above already show the answers
