"""compare(): the same question to several targets at once, against a paced local workspace."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from agent_magics import AgentComparison, AgentResult, compare
from agent_magics.core.errors import AgentUsageError
from agent_magics.transport.embedded import LocalWorkspace
from agent_magics.transport.workspace import forget_workspaces


@pytest.fixture(scope="module")
def paced() -> Iterator[LocalWorkspace]:
    """Agents that take about 2 s an answer: 1 s before the first word, then 40 words a second."""
    with pytest.MonkeyPatch.context() as env:
        for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
            env.delenv(key)
        with LocalWorkspace(first_token_delay=1.0, tokens_per_second=40, hang_seconds=3) as workspace:
            for name, value in workspace.env(auth="oauth").items():
                env.setenv(name, value)
            forget_workspaces()
            yield workspace
            forget_workspaces()


def test_targets_answer_at_the_same_time_in_target_order(paced: LocalWorkspace) -> None:
    targets = ["demo-agent", "demo-chat-agent", "apps/demo-app"]
    compare(targets, "Hi")  # the first use pays once for auth, endpoint lookups and imports
    started = time.monotonic()
    comparison = compare(targets, "What is MLflow?")
    took = time.monotonic() - started
    assert comparison.targets == targets
    assert [r.status for r in comparison] == ["completed"] * 3, [r.error for r in comparison]
    each = [r.timings["total"] for r in comparison]
    assert min(each) > 1.0  # the pace holds: each answer really takes its time
    assert took < sum(each) * 0.7, (took, each)  # together, not one after the other
    assert took < max(each) + 0.5
    assert all(r.timings["first_text"] >= 1.0 for r in comparison)


def test_one_failure_does_not_stop_the_others(paced: LocalWorkspace) -> None:
    comparison = compare(["no-such-endpoint", "demo-agent", "fault-500"], "What is MLflow?")
    assert [r.status for r in comparison] == ["failed", "completed", "failed"]
    assert "no-such-endpoint" in (comparison["no-such-endpoint"].error or "")
    assert "HTTP 500" in (comparison["fault-500"].error or "")
    assert comparison["demo-agent"].text


def test_the_result_is_data(paced: LocalWorkspace) -> None:
    comparison = compare(
        ["demo-agent", "demo-chat-agent"],
        "What is MLflow?",
        per_target={"demo-chat-agent": {"api": "invocations"}},
    )
    frame = comparison.to_pandas()
    assert list(frame["target"]) == ["demo-agent", "demo-chat-agent"]
    for column in ("status", "text", "first_text_s", "total_s", "input_tokens", "output_tokens", "tool_calls"):
        assert column in frame.columns
    assert list(frame["tool_calls"][0]) == [c["name"] for c in comparison[0].tool_calls]
    assert comparison["demo-chat-agent"].interface == "chat_agent"
    same = comparison.diff("demo-agent", "demo-chat-agent")
    bundle = comparison._repr_mimebundle_()
    assert bundle["text/html"].count('class="am-compare-column"') == 2 and "diff: demo-agent" in bundle["text/html"]
    assert (same == "") == ("the two answers are the same" in bundle["text/html"])
    assert "── demo-agent ──" in bundle["text/plain"]
    edited = AgentComparison("q", [comparison[0], AgentResult(target="v2", text=comparison[0].text + "\nA new line.")])
    assert edited.diff(0, "v2").splitlines()[:2] == ["--- demo-agent", "+++ v2"]
    assert "+A new line." in edited.diff(0, 1).splitlines()


def test_mistakes_are_reported_before_anything_is_sent(paced: LocalWorkspace) -> None:
    with pytest.raises(AgentUsageError, match="not a valid target"):
        compare(["demo-agent", "bad name!"], "q")
    with pytest.raises(AgentUsageError, match="each target once"):
        compare(["demo-agent", "demo-agent"], "q")


def test_ctrl_c_stops_every_target_and_keeps_each_partial_answer(paced: LocalWorkspace) -> None:
    from agent_magics.run import NullView

    texts: dict[str, bool] = {}

    class Noting(NullView):
        def __init__(self, target: str) -> None:
            self.target = target

        def on_event(self, state, event) -> None:  # type: ignore[no-untyped-def]
            texts[self.target] = texts.get(self.target) or bool(state.text)

    def interrupt_once_both_have_text() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if texts.get("demo-agent") and texts.get("demo-chat-agent"):
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, mid-answer for both
                return
            time.sleep(0.02)

    targets = ["demo-agent", "demo-chat-agent"]
    watcher = threading.Thread(target=interrupt_once_both_have_text, daemon=True)
    watcher.start()
    comparison = compare(targets, "What is MLflow? Explain in detail.", views=[Noting(t) for t in targets])
    watcher.join(5)
    assert [r.status for r in comparison] == ["interrupted", "interrupted"], [r.error for r in comparison]
    assert all(r.text for r in comparison), [
        (r.error, r.text[:50]) for r in comparison
    ]  # what had arrived is kept (a finished one would be "completed")


def test_ctrl_c_keeps_the_text_of_a_target_that_stalls_and_it_shows_nothing_after(
    paced: LocalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fault-stall sends a few words, then nothing for 3 s: after the grace its partial answer is
    kept from what arrived, and its column hears nothing more once the comparison is over."""
    from agent_magics import run
    from agent_magics.run import NullView

    monkeypatch.setattr(run, "STOP_GRACE", 0.3)
    texts: dict[str, bool] = {}
    late: list[str] = []
    over = threading.Event()

    class Noting(NullView):
        def __init__(self, target: str) -> None:
            self.target = target

        def on_event(self, state, event) -> None:  # type: ignore[no-untyped-def]
            if over.is_set():
                late.append(self.target)
            texts[self.target] = texts.get(self.target) or bool(state.text)

        def finish(self, result) -> None:  # type: ignore[no-untyped-def]
            if over.is_set():
                late.append(self.target)

    def interrupt_once_both_have_text() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if texts.get("demo-agent") and texts.get("fault-stall"):
                time.sleep(0.2)  # fault-stall has sent all it will send before the stall
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.02)

    targets = ["demo-agent", "fault-stall"]
    watcher = threading.Thread(target=interrupt_once_both_have_text, daemon=True)
    watcher.start()
    comparison = compare(targets, "What is MLflow? Explain in detail.", views=[Noting(t) for t in targets])
    over.set()
    watcher.join(5)
    stalled = comparison["fault-stall"]
    assert stalled.status == "interrupted" and stalled.text, (stalled.error, stalled.text)
    assert "partial answer kept" in (stalled.error or "")
    assert stalled.timings.get("first_text") is not None  # its text came: so did the time to it
    time.sleep(3.5)  # the stalled stream ends (dropped after hang_seconds=3) in its worker
    assert late == []


def test_a_second_ctrl_c_during_the_grace_still_keeps_every_partial_answer(
    paced: LocalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_magics import run
    from agent_magics.run import NullView

    monkeypatch.setattr(run, "STOP_GRACE", 2.5)  # fault-stall is silent for 3 s: the grace runs out
    texts: dict[str, bool] = {}

    class Noting(NullView):
        def __init__(self, target: str) -> None:
            self.target = target

        def on_event(self, state, event) -> None:  # type: ignore[no-untyped-def]
            texts[self.target] = texts.get(self.target) or bool(state.text)

    def interrupt_twice() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if texts.get("demo-agent") and texts.get("fault-stall"):
                time.sleep(0.2)
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.5)  # inside the grace: the impatient second press
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.02)

    targets = ["demo-agent", "fault-stall"]
    watcher = threading.Thread(target=interrupt_twice, daemon=True)
    watcher.start()
    started = time.monotonic()
    comparison = compare(targets, "What is MLflow? Explain in detail.", views=[Noting(t) for t in targets])
    watcher.join(5)
    assert comparison["fault-stall"].text and comparison["demo-agent"].text  # nothing lost to the second press
    assert comparison["fault-stall"].status == "interrupted"
    assert time.monotonic() - started < 8


def test_debug_raises_a_bug_in_the_main_thread_and_otherwise_keeps_it_as_the_error(
    paced: LocalWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_magics import run
    from agent_magics.run import NullView

    class Broken(NullView):
        def on_event(self, state, event) -> None:  # type: ignore[no-untyped-def]
            raise ValueError("a bug in the view")

    with pytest.raises(ValueError, match="a bug in the view"):  # inside the answer's stream
        compare(["demo-agent"], "Hi", views=[Broken()], debug=True)
    kept = compare(["demo-agent"], "Hi", views=[Broken()])["demo-agent"]
    assert kept.text and "a bug in the view" in (kept.error or "")  # the answer goes on without its view

    stream = run._stream

    def buggy(target, *args, **kwargs):  # type: ignore[no-untyped-def]
        if target == "demo-chat-agent":
            raise RuntimeError("a bug before the request")
        return stream(target, *args, **kwargs)

    monkeypatch.setattr(run, "_stream", buggy)  # outside the stream: the worker itself
    with pytest.raises(RuntimeError, match="a bug before the request"):
        compare(["demo-agent", "demo-chat-agent"], "Hi", debug=True)
    both = compare(["demo-agent", "demo-chat-agent"], "Hi")
    assert both["demo-agent"].ok and both["demo-chat-agent"].status == "failed"
    assert "unexpected RuntimeError: a bug before the request (rerun with --debug" in (both[1].error or "")


class Recorder:
    """IPython's display(), recorded: every bundle shown or updated through a display handle."""

    def __init__(self) -> None:
        self.bundles: list[dict[str, str]] = []

    def __call__(self, bundle: dict[str, str], raw: bool = False, display_id: bool = False) -> object:
        self.bundles.append(bundle)
        recorder = self

        class Handle:
            def update(self, bundle: dict[str, str], raw: bool = False) -> None:
                recorder.bundles.append(bundle)

        return Handle()


def test_columns_stream_side_by_side_then_stay_static(paced: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_magics.view.compare_live import ColumnsView

    recorder = Recorder()
    monkeypatch.setattr("IPython.display.display", recorder)
    monkeypatch.setattr("IPython.core.interactiveshell.InteractiveShell.initialized", lambda: True)
    targets = ["demo-agent", "demo-chat-agent"]
    view = ColumnsView(targets)
    comparison = compare(targets, "What is MLflow? <script>alert(1)</script>", views=view.views())
    view.finish(comparison)
    live = [b for b in recorder.bundles[:-1] if b["text/plain"].count("streaming") == 2]
    assert live, "no update showed both columns streaming at once"
    # Each live column shows its tool call as it finished (collapsible, as in the final rendering).
    assert any(b["text/html"].count("search_docs") >= 2 and "<details" in b["text/html"] for b in live)
    assert all(b["text/html"].count('class="am-compare-column"') == 2 for b in recorder.bundles)
    assert len(recorder.bundles) < 60  # coalesced: a few updates a second, not one per token
    final = recorder.bundles[-1]
    assert final["text/html"] == comparison._repr_mimebundle_()["text/html"]
    assert "<script>" not in "".join(b["text/html"] for b in recorder.bundles)


def test_a_late_worker_does_not_overwrite_the_final_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_magics.core.events import Reduction, TextDelta
    from agent_magics.view.compare_live import ColumnsView

    recorder = Recorder()
    monkeypatch.setattr("IPython.display.display", recorder)
    monkeypatch.setattr("IPython.core.interactiveshell.InteractiveShell.initialized", lambda: True)
    view = ColumnsView(["a", "b"])
    _, b = view.views()
    comparison = AgentComparison("q", [AgentResult(target="a", text="x"), AgentResult(target="b", text="y")])
    view.finish(comparison)
    shown = len(recorder.bundles)
    b.on_event(Reduction(), TextDelta("m", "late text"))  # a stream that reached its next event after the end
    b.finish(AgentResult(target="b", text="late text", status="interrupted"))
    assert len(recorder.bundles) == shown and "late text" not in recorder.bundles[-1]["text/html"]


def test_display_columns_refresh_smoothly_within_a_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each refresh re-sends every column: at least 4 a second while small, then ~64 KB/s at most."""
    from agent_magics.core.events import Reduction, TextDelta
    from agent_magics.view.compare_live import BYTES_PER_SECOND, ColumnsView

    recorder = Recorder()
    monkeypatch.setattr("IPython.display.display", recorder)
    monkeypatch.setattr("IPython.core.interactiveshell.InteractiveShell.initialized", lambda: True)
    now = [0.0]
    view = ColumnsView(["a", "b"], max_rate=15, clock=lambda: now[0])
    views = view.views()
    sent_at: list[tuple[float, int]] = []
    for step in range(2000):  # 20 s; each column gets 20 characters every 10 ms (~80 KB answers)
        now[0] = step * 0.01
        before = len(recorder.bundles)
        for target_view in views:
            target_view.on_event(Reduction(), TextDelta("m", "lorem ipsum dolor s "))
        sent_at += [(now[0], len(json.dumps(b))) for b in recorder.bundles[before:]]
    first_second = [t for t, _ in sent_at if t < 1.0]
    assert len(first_second) >= 4, first_second  # smooth while the columns are small
    late = [size for t, size in sent_at if t >= 10.0]  # answers of 40-80 KB each
    assert sum(late) / 10.0 <= BYTES_PER_SECOND * 1.25, (len(late), sum(late))
    assert len(late) >= 5  # still refreshed, less often
    rate, bandwidth = len(late) / 10, sum(late) / 10e3
    print(f"\n{len(first_second)} refreshes in the first second; {rate:.1f}/s at {bandwidth:.0f} KB/s late")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"per_target": {"demo-agnet": {"api": "chat"}}}, "per_target names 'demo-agnet', not one of the targets"),
        ({"timout": 5}, "unknown option(s) timout in options"),
        ({"per_target": {"demo-agent": {"via": "REST"}}}, "via='REST': use one of"),
        ({"timeout": -1}, "the total timeout must be a positive number"),
    ],
)
def test_bad_options_are_refused_before_anything_is_sent(options: dict, message: str) -> None:
    """As the magic does: one line, raised, not a failed result per target."""
    with pytest.raises(AgentUsageError) as refused:
        compare(["demo-agent", "demo-chat-agent"], "q", **options)
    assert message in str(refused.value) and "\n" not in str(refused.value), refused.value


def test_a_partial_result_taken_while_a_message_is_being_folded_in_holds_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A finished message moves from the pending deltas to the output in one fold: a copy taken by
    another thread (compare's Ctrl-C) waits for that fold, so the text is in it exactly once. The
    fold is slowed down between its two steps here (an in-process stand-in for a thread switch)."""
    from agent_magics import run
    from agent_magics.core.events import Done, ItemDone, TextDelta, reduce_event
    from agent_magics.core.request import AgentRequest

    def slow_reduce(state, event):  # type: ignore[no-untyped-def]
        if isinstance(event, ItemDone):
            state.pending_chunks.pop("m1", None)
            time.sleep(0.5)  # the other thread copies the state now
            state.output.append(event.item)
            return state
        return reduce_event(state, event)

    class Transport:
        via = "rest"

        def events(self, request, policy):  # type: ignore[no-untyped-def]
            yield TextDelta("m1", "The whole answer.")
            message = {"type": "message", "id": "m1", "content": [{"type": "output_text", "text": "The whole answer."}]}
            yield ItemDone(message)
            yield Done("completed")

    monkeypatch.setattr(run, "reduce_event", slow_reduce)
    request = AgentRequest(
        target="t", kind="endpoint", name="t", interface="responses", api="responses", via="rest", input=[]
    )
    execution = run.Execution(request, None, transport=Transport())  # type: ignore[arg-type]
    reader = threading.Thread(target=lambda: [None for _ in execution], daemon=True)
    reader.start()
    time.sleep(0.2)  # the reader is inside the slow fold of the ItemDone
    partial = execution.partial_result()
    reader.join(5)
    assert partial.text == "The whole answer.", partial.text
