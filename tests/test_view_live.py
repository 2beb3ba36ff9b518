"""Live views (view/live*.py, blocks.py, coalesce.py): coalescing, bytes, final bundle, safety.

Widgets run on a recording comm (what ipykernel would send is captured, not sent) and displays on a
recording display publisher; time is a fake clock. One test drives the widget view in a real kernel.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import random
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import comm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from test_view_render import XSS, html_problems, message

from agent_magics.core.events import (
    ANONYMOUS,
    CustomOutputs,
    Done,
    ErrorEvent,
    Event,
    ItemDone,
    Reduction,
    TextDelta,
    TraceReceived,
    finish,
    reduce_event,
)
from agent_magics.core.result import AgentResult
from agent_magics.view import render
from agent_magics.view.blocks import MarkdownBlocks
from agent_magics.view.coalesce import Coalescer
from agent_magics.view.live import NullView, detect_mode, make_view
from agent_magics.view.live_display import DisplayView
from agent_magics.view.live_text import TextView
from agent_magics.view.live_widget import WidgetView
from agent_magics.view.sanitize import markdown_to_html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


# -- test doubles ------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Wire:
    """What the widgets' comms would have sent to the frontend."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, dict[str, Any]]] = []  # (msg_type, comm_id, data)
        self.models: dict[str, str] = {}

    def record(self, msg_type: str, comm_id: str, data: dict[str, Any] | None) -> None:
        data = data or {}
        if msg_type == "comm_open":
            self.models[comm_id] = data.get("state", {}).get("_model_name", "")
        self.messages.append((msg_type, comm_id, data))

    def html_values(self) -> list[str]:
        """Every value assigned to an HTML widget, in order (at creation and by updates)."""
        return [
            data["state"]["value"]
            for _, comm_id, data in self.messages
            if self.models.get(comm_id) == "HTMLModel" and "value" in data.get("state", {})
        ]

    def updates(self) -> int:
        return sum(1 for kind, _, data in self.messages if kind == "comm_msg" and data.get("method") == "update")

    def closed(self) -> set[str]:
        return {comm_id for kind, comm_id, _ in self.messages if kind == "comm_close"}

    def json_bytes(self) -> int:
        return sum(len(json.dumps(data, ensure_ascii=False)) for _, _, data in self.messages)

    def state(self, model_id: str) -> dict[str, Any]:
        """A model's state as the frontend holds it now: its comm_open state, then every update."""
        state: dict[str, Any] = {}
        for kind, comm_id, data in self.messages:
            if comm_id == model_id and (kind == "comm_open" or data.get("method") == "update"):
                state.update(data.get("state", {}))
        return state

    def shown(self, displays: Publisher) -> Shown:
        """The widget the cell's output shows (the first display's widget view)."""
        return Shown(self, displays.published[0]["data"][WIDGET_VIEW]["model_id"])


class Shown:
    """A widget as the frontend would render it, rebuilt from the comm messages alone."""

    def __init__(self, wire: Wire, model_id: str) -> None:
        self.wire, self.model_id = wire, model_id

    @property
    def state(self) -> dict[str, Any]:
        return self.wire.state(self.model_id)

    @property
    def value(self) -> str:
        return self.state.get("value", "")

    @property
    def children(self) -> list[Shown]:
        return [Shown(self.wire, ref.removeprefix("IPY_MODEL_")) for ref in self.state.get("children", [])]

    @property
    def layout(self) -> dict[str, Any]:
        return self.wire.state(self.state["layout"].removeprefix("IPY_MODEL_"))

    def html(self) -> str:
        """Every HTML value below this widget, in the order the frontend shows them."""
        return self.value + "".join(child.html() for child in self.children)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Shown) and other.model_id == self.model_id

    def __repr__(self) -> str:
        return f"Shown({self.model_id}, {self.html()[:60]!r})"


class Publisher(DisplayPublisher):
    """Records display_data / update_display_data instead of printing them."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[dict[str, Any]] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:  # type: ignore[override]
        self.published.append({"data": data, "transient": transient or {}, "update": update})

    def clear_output(self, wait: bool = False) -> None:
        pass


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Wire:
    record = Wire()

    class RecordingComm(comm.DummyComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):  # type: ignore[override]
            record.record(msg_type, self.comm_id, data)

    monkeypatch.setattr(comm, "create_comm", lambda *args, **kwargs: RecordingComm(*args, **kwargs))
    return record


@pytest.fixture
def displays(monkeypatch: pytest.MonkeyPatch) -> Publisher:
    publisher = Publisher()
    monkeypatch.setattr(InteractiveShell.instance(), "display_pub", publisher)
    return publisher


# -- driving a view ----------------------------------------------------------------------------------
def chunks(text: str, size: int, item_id: str = "m1") -> list[Event]:
    return [TextDelta(item_id, text[i : i + size]) for i in range(0, len(text), size)]


def drive(view: Any, events: Iterable[Event], clock: Clock | None = None, step: float = 0.0) -> Reduction:
    state = Reduction()
    for event in events:
        if clock is not None:
            clock.now += step
        reduce_event(state, event)
        view.on_event(state, event)
    return state


def end(view: Any, state: Reduction, status: str | None = None, target: str = "demo") -> AgentResult:
    finish(state, status)  # type: ignore[arg-type]
    result = AgentResult.from_reduction(target, state)
    view.finish(result)
    return result


def prose(size: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words = [
        "lorem",
        "ipsum",
        "dolor",
        "sit",
        "amet",
        "consectetur",
        "adipiscing",
        "elit",
        "sed",
        "do",
        "eiusmod",
        "tempor",
    ]
    parts: list[str] = []
    total = 0
    while total < size:
        para = " ".join(rng.choice(words) for _ in range(rng.randint(10, 90))) + "."
        if parts and rng.random() < 0.2:
            para = f"## Heading {len(parts)}"
        parts.append(para)
        total += len(para) + 2
    return "\n\n".join(parts) + "\n"


def shown_parts(wire: Wire, displays: Publisher) -> tuple[Shown, list[Shown], Shown]:
    """The live widget as shown: its header, the answer's pieces in order, and the tail still streaming
    (the answer is the root's child after the header and any error; a box of boxes of pieces, then
    the tail)."""
    root = wire.shown(displays)
    body = next(child for child in root.children[1:] if child.children)
    return root.children[0], [piece for group in body.children[:-1] for piece in group.children], body.children[-1]


def widget_answer_html(wire: Wire, displays: Publisher) -> str:
    """The answer as the widgets show it now: all pieces in order, then the tail."""
    _, pieces, tail = shown_parts(wire, displays)
    return "".join(piece.value for piece in pieces) + tail.value


def strip_wrappers(fragment: str) -> str:
    return re.sub(r'<div class="(?:am-answer|agent-magics-result)[^"]*" style="[^"]*">|</div>', "", fragment)


def final_outputs(displays: Publisher) -> list[dict[str, Any]]:
    """What the cell's outputs show at the end: the last data of each display id, in display order."""
    last: dict[str, dict[str, Any]] = {}
    for published in displays.published:
        display_id = published["transient"]["display_id"]
        assert published["update"] == (display_id in last), "an update before its display, or a display twice"
        last[display_id] = published["data"]
    return list(last.values())


def message_bytes(displays: Publisher, overhead: int = DisplayView.OVERHEAD) -> int:
    """Bytes on the wire for the recorded displays: their JSON plus each message's envelope."""
    return sum(len(json.dumps(p["data"], ensure_ascii=False)) + overhead for p in displays.published)


# -- the widget view -----------------------------------------------------------------------------------
def test_first_delta_shows_at_once_then_updates_are_coalesced(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = make_view("widget", clock=clock)
    assert isinstance(view, WidgetView)
    view.start("demo")
    text = prose(30_000)
    events = chunks(text, max(1, len(text) // 5000))
    assert len(events) >= 5000

    drive(view, events[:1], clock)
    assert view.coalescer.updates == 1
    assert markdown_to_html(events[0].delta) in widget_answer_html(wire, displays)  # shown with no delay
    before = wire.updates()

    drive(view, events[1:], clock, step=0.1 / len(events))  # 5,000 deltas in 0.1 s
    assert view.coalescer.updates <= 3 + 15 * 0.1
    assert wire.updates() - before <= 12  # comm messages carrying state, all widgets together

    view.flush()  # what finish() would show: the complete answer
    assert strip_wrappers(widget_answer_html(wire, displays)) == markdown_to_html(text)
    print(f"\nfast stream: {len(events)} deltas in 0.1 s -> {view.coalescer.updates} updates")


@pytest.mark.parametrize(("duration", "limit"), [(0.1, 3.0), (20.0, 3.0)])
def test_bytes_sent_stay_near_the_answer_size(wire: Wire, displays: Publisher, duration: float, limit: float) -> None:
    clock = Clock()
    view = make_view("widget", clock=clock)
    view.start("demo")
    text = prose(100_000)
    events = chunks(text, 20)
    state = drive(view, events, clock, step=duration / len(events))
    streamed = sum(len(value) for value in wire.html_values())
    result = end(view, state)
    final = displays.published[-1]["data"]
    final_bytes = len(final["text/html"]) + len(final["text/plain"])
    ratio, total_ratio = streamed / len(text), (streamed + final_bytes) / len(text)
    print(
        f"\n100 KB answer, {len(events)} deltas over {duration} s: {view.coalescer.updates} updates, "
        f"HTML values sent {ratio:.2f}x, with the final bundle {total_ratio:.2f}x, "
        f"comm JSON {wire.json_bytes() / len(text):.2f}x in {len(wire.messages)} messages"
    )
    assert ratio <= limit
    assert view.coalescer.updates <= 3 + 15 * duration
    assert result.text == text  # the whole answer, and the final rendering ends with it
    assert text.split()[-1].strip(".,") in final["text/html"]
    if duration < 1:
        assert total_ratio <= 3.0


def test_markdown_is_rendered_only_when_an_update_is_due(
    wire: Wire, displays: Publisher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = render.answer_html
    monkeypatch.setattr(render, "answer_html", lambda source: calls.append(len(source)) or original(source))
    clock = Clock()
    view = make_view("widget", clock=clock)
    view.start("demo")
    text = prose(50_000)
    drive(view, chunks(text, 10), clock, step=1 / 2000)  # 5,000 deltas in 2.5 s
    rendered = sum(calls)
    widgets = sum(1 for kind, _, _ in wire.messages if kind == "comm_open")
    assert len(calls) <= 2 * view.coalescer.updates + widgets
    assert rendered <= 3 * len(text)  # the frozen part is rendered once, the tail stays short
    print(f"\nmarkdown rendered for {len(calls)} updates/blocks, {rendered / len(text):.2f}x the answer")


def test_finish_replaces_the_widget_with_a_static_bundle(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = make_view("widget", clock=clock)
    view.start("demo")
    first = displays.published[0]
    assert WIDGET_VIEW in first["data"] and not first["update"]
    display_id = first["transient"]["display_id"]

    state = drive(view, [*chunks("Hello **world**. " * 20, 7), Done()], clock, step=0.01)
    end(view, state)

    last = displays.published[-1]
    assert last["update"] and last["transient"]["display_id"] == display_id
    assert set(last["data"]) == {"text/html", "text/plain"}
    assert "<strong>world</strong>" in last["data"]["text/html"] and "Hello **world**." in last["data"]["text/plain"]
    assert all(p["transient"]["display_id"] == display_id for p in displays.published)  # one output only
    assert set(wire.models) <= wire.closed()  # every widget closed: no state left behind


def test_tool_calls_show_as_they_finish_and_outputs_join_their_call(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = make_view("widget", clock=clock)
    view.start("demo")
    call = {"type": "function_call", "name": "lookup", "arguments": '{"q": "x"}', "call_id": "c1"}
    drive(view, [TextDelta("m1", "Let me check."), ItemDone(message("Let me check."))], clock)
    clock.now += 0.001  # well inside the rate limit: milestones still go out at once
    drive(view, [ItemDone(call)], clock)
    _, entries, tail = shown_parts(wire, displays)
    assert "Let me check." in entries[0].value and "lookup" in entries[1].value and "running…" in entries[1].value
    assert tail.value == ""

    drive(view, [ItemDone({"type": "function_call_output", "call_id": "c1", "output": "42"})], clock)
    _, entries, tail = shown_parts(wire, displays)
    assert len(entries) == 2 and "42" in entries[1].value and "running…" not in entries[1].value

    drive(view, [TextDelta("m2", "It is 42.")], clock)
    clock.now += 1
    view.flush()
    assert "It is 42." in shown_parts(wire, displays)[2].value
    state = drive(view, [CustomOutputs({"k": 1}), TraceReceived(trace_id="tr-7")], clock)
    header, body, custom, trace = wire.shown(displays).children  # the sections after the answer, in order
    assert "demo" in header.value and "It is 42." in body.html()
    assert "&quot;k&quot;: 1" in custom.value and "tr-7" in trace.value
    end(view, state)


def test_pieces_are_grouped(wire: Wire, displays: Publisher) -> None:
    """Pieces go in boxes of 16: a new piece re-sends one short children list, not all of them."""
    clock = Clock()
    view = WidgetView(clock=clock)
    view.start("demo")
    drive(view, [ItemDone({"type": "web_search_call", "id": f"ws{i}", "query": f"q{i}"}) for i in range(40)], clock)
    _, body = wire.shown(displays).children
    *groups, tail = body.children
    assert [len(group.children) for group in groups] == [16, 16, 8] and tail.value == ""
    shown = [piece.html() for group in groups for piece in group.children]
    assert all(f"q{i}" in piece for i, piece in enumerate(shown))


def test_non_streamed_and_extended_messages(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = WidgetView(clock=clock)
    view.start("demo")
    drive(
        view, [TextDelta("m1", "Hello"), ItemDone(message("Hello, world")), ItemDone(message("Second.", "m2"))], clock
    )
    view.flush()
    shown = widget_answer_html(wire, displays)
    assert "Hello, world" in shown and "Second." in shown and shown.count("Hello") == 1


@pytest.mark.parametrize("mode", ["widget", "display"])
def test_xss_is_neutralised_in_live_and_final_output(wire: Wire, displays: Publisher, mode: str) -> None:
    clock = Clock()
    view = make_view(mode, clock=clock)
    view.start(f"demo{XSS}")
    events: list[Event] = [
        *chunks(f"{XSS}\n\n```\n{XSS}\n```\n\n{XSS}", 3),
        ItemDone({"type": "function_call", "name": XSS, "arguments": XSS, "call_id": "c"}),
        ItemDone({"type": "function_call_output", "call_id": "c", "output": XSS}),
        ItemDone({"type": "reasoning", "summary": [{"type": "summary_text", "text": XSS}]}),
        ItemDone({"type": "web_search_call", "query": XSS}),
        CustomOutputs({XSS: XSS}),
        TraceReceived(trace_id=XSS),
        ErrorEvent(XSS),
    ]
    state = drive(view, events, clock, step=0.05)
    end(view, state, target=f"demo{XSS}")
    sent = wire.html_values() + [p["data"].get("text/html", "") for p in displays.published]
    assert len(sent) > 5
    for fragment in sent:
        assert html_problems(fragment) == [], fragment


def test_failed_stream_shows_the_error_live_and_keeps_partial_text(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = make_view("widget", clock=clock)
    view.start("demo")
    state = drive(view, [*chunks("The first half of", 4), ErrorEvent("connection reset")], clock, step=0.01)
    header, error, body = wire.shown(displays).children  # the error right under the header
    assert "connection reset" in error.value and "The first half" in body.html() and "demo" in header.value
    end(view, state)
    final = displays.published[-1]["data"]
    assert ">failed<" in final["text/html"] and "connection reset" in final["text/html"]
    assert "The first half of" in final["text/html"] and "partial answer kept" in final["text/html"]
    assert "The first half of" in final["text/plain"]


@pytest.mark.parametrize("mode", ["widget", "display", "stream"])
def test_interrupted_stream_keeps_partial_text(wire: Wire, displays: Publisher, mode: str) -> None:
    clock = Clock()
    view = make_view(mode, clock=clock)
    view.start("demo")
    state = drive(view, chunks("Partial answer that stops", 5), clock, step=0.01)
    end(view, state, "interrupted")
    final = final_outputs(displays)[0]  # the widget's display, or the display view's header
    assert set(final) == {"text/html", "text/plain"}
    assert ">interrupted<" in final["text/html"]
    assert "partial answer kept" in final["text/plain"]
    assert "Partial answer that stops" in final["text/html"]  # display view: an interrupt may cut an
    assert all(data["text/html"] == "" for data in final_outputs(displays)[1:])  # update in two: redone


def test_final_text_plain_is_shortened_for_long_answers(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = make_view("widget", clock=clock)
    view.start("demo")
    text = prose(20_000)
    end(view, drive(view, chunks(text, 50), clock, step=0.001))
    final = displays.published[-1]["data"]
    assert len(final["text/plain"]) < 2_500 and "more characters of answer" in final["text/plain"]
    assert strip_wrappers(final["text/html"]).count("lorem") == text.count("lorem")


# -- the display view ----------------------------------------------------------------------------------
def test_display_view_appends_finished_blocks_and_resends_only_the_tail(displays: Publisher) -> None:
    clock = Clock()
    view = make_view("display", clock=clock)
    assert isinstance(view, DisplayView)
    view.start("demo")
    assert displays.published[0]["data"]["text/plain"].startswith("[demo · connecting")
    text = prose(30_000)
    events = chunks(text, 6)
    state = Reduction()
    for i, event in enumerate(events):
        clock.now += 2.0 / len(events)
        view.on_event(reduce_event(state, event), event)
        if i == 0:  # the first chunk shows at once, in a new output under the header
            new = [p for p in displays.published[1:] if not p["update"]]
            assert len(displays.published) == 3 and len(new) == 1  # + the header: "streaming"
            assert event.delta in new[0]["data"]["text/html"]
    live = len(displays.published)
    assert view.coalescer.updates <= 1 + 15 * 2.0
    assert live <= 3 + view.coalescer.updates + text.count("\n\n") + 1  # an update, or a block cut off
    assert all("text/plain" not in p["data"] for p in displays.published[2:])  # HTML only: no second copy
    end(view, state)
    outputs = final_outputs(displays)
    assert len(displays.published) - live <= 3  # nothing is re-sent: the tail's last blocks, the header
    assert "completed" in outputs[0]["text/html"] and outputs[0]["text/plain"].startswith("[demo · completed")
    assert all(WIDGET_VIEW not in data for data in outputs)
    body = "".join(data["text/html"] for data in outputs[1:])
    assert strip_wrappers(body).count("lorem") == text.count("lorem")
    assert "▍" not in body  # the live counter is gone
    blocks = [p for p in displays.published[2:] if not p["update"]]
    print(f"\n30 KB in 2 s: {len(displays.published)} messages, {len(blocks)} outputs")


def resent_ratio(displays: Publisher, answer: str) -> float:
    """Answer characters the displays carried beyond the answer itself, over the answer (tags stripped)."""
    shown = 0
    for published in displays.published:
        fragment = published["data"].get("text/html", "")
        if "am-answer" in fragment:
            shown += len(html.unescape(re.sub(r"<[^>]+>", "", fragment)))
    return (shown - len(answer)) / len(answer)


def visible_gaps(displays: Publisher, times: list[float]) -> list[float]:
    """Gaps between the (simulated) times at which answer text changed on screen."""
    at = sorted({t for t, p in zip(times, displays.published) if "am-answer" in p["data"].get("text/html", "")})
    return sorted(b - a for a, b in itertools.pairwise(at))


@pytest.mark.parametrize("rate", [40, 200])
def test_display_view_updates_smoothly_and_resends_little(displays: Publisher, rate: int) -> None:
    """bench-agent's prose at 40 and 200 tokens/s: a visible update at least every ~0.2 s, at most
    15 a second, and only the paragraph being written is re-sent (no O(n²))."""
    from agent_magics.local.agents import bench_tokens

    clock = Clock()
    view = make_view("display", clock=clock)
    view.start("demo")
    tokens = list(bench_tokens(rate * 10, 50))  # 10 s of text
    text = "".join(tokens)
    state, times = Reduction(), []
    for token in tokens:
        clock.now += 1 / rate
        event = TextDelta("m1", token)
        view.on_event(reduce_event(state, event), event)
        times += [clock.now] * (len(displays.published) - len(times))
    end(view, state)
    times += [clock.now] * (len(displays.published) - len(times))
    gaps = visible_gaps(displays, times)
    p90 = gaps[int(len(gaps) * 0.9)]
    ratio = resent_ratio(displays, text)
    print(f"\n{rate} tok/s: {view.coalescer.updates} updates, gap p90 {p90 * 1e3:.0f} ms, re-sent {ratio:.2f}x")
    assert p90 <= 0.25
    assert view.coalescer.updates <= 1 + 15 * 10
    # Each update re-sends the paragraph being written: ~P / (2 x the characters an update adds) per
    # character, whatever the answer's length (O(n)). bench-agent's ~375-character paragraphs at
    # 40 tokens/s (~60 characters an update) come to ~3x; at 200 tokens/s, under 1x.
    assert ratio <= (1.0 if rate >= 200 else 3.5)
    assert strip_wrappers("".join(d["text/html"] for d in final_outputs(displays)[1:])).count(
        "Lakehouse"
    ) == text.count("Lakehouse")


def test_display_view_resends_nothing_at_the_end_of_a_fast_long_answer(displays: Publisher) -> None:
    clock = Clock()
    view = make_view("display", clock=clock)
    view.start("demo")
    text = prose(100_000)
    events = chunks(text, 7)
    end(view, drive(view, events, clock, step=0.1 / len(events)))
    ratio = resent_ratio(displays, text)
    print(f"\n100 KB in 0.1 s: {view.coalescer.updates} updates, re-sent {ratio:.2f}x")
    assert ratio <= 0.5


def test_display_view_keeps_items_in_order_and_completes_tool_entries(displays: Publisher) -> None:
    clock = Clock()
    view = make_view("display", clock=clock)
    view.start("demo")
    call = {"type": "function_call", "name": "lookup", "arguments": '{"q": "x"}', "call_id": "c1"}
    events: list[Event] = [
        *chunks("Let me check.", 4),
        ItemDone(message("Let me check.")),
        ItemDone(call),
        ItemDone({"type": "function_call", "name": "never_answered", "arguments": "{}", "call_id": "c2"}),
        ItemDone({"type": "function_call_output", "call_id": "c1", "output": "42"}),
        *chunks("It is 42.", 3, "m2"),
        ItemDone(message("It is 42.", "m2")),
        CustomOutputs({"k": 1}),
        TraceReceived(trace_id="tr-7"),
    ]
    state = drive(view, events, clock, step=0.3)
    end(view, state)
    outputs = [data["text/html"] for data in final_outputs(displays)]
    assert len(outputs) == 7, outputs  # header, text, tool, tool, text, custom, trace
    assert "completed" in outputs[0]
    assert "Let me check." in outputs[1] and "lookup" in outputs[2] and "42" in outputs[2]
    assert "never_answered" in outputs[3] and "no output" in outputs[3]  # "running…" while live
    assert "It is 42." in outputs[4] and "&quot;k&quot;: 1" in outputs[5] and "tr-7" in outputs[6]


@pytest.mark.parametrize(
    "case",
    [
        "contradicting final message",
        "long code block split",
        "reference links across blocks",
    ],
)
def test_display_view_falls_back_to_the_whole_rendering(displays: Publisher, case: str) -> None:
    """When the live outputs would not show what the static rendering shows, the header gets it all."""
    clock = Clock()
    view = DisplayView(clock=clock, min_block=20, max_tail=200)
    view.start("demo")
    if case == "contradicting final message":
        events: list[Event] = [*chunks("The answer is 41.", 4), ItemDone(message("The answer is 42."))]
    elif case == "long code block split":
        code = "```python\n" + "".join(f"x{i} = {i}\n" for i in range(80)) + "```\n"
        events = [*chunks(code, 10), ItemDone(message(code))]
    else:
        source = "See [the docs][d] first.\n\nMore text here, long enough.\n\n[d]: https://docs.example/\n"
        events = [*chunks(source, 5), ItemDone(message(source))]
    state = drive(view, events, clock, step=0.3)
    result = end(view, state)
    outputs = final_outputs(displays)
    assert all(data["text/html"] == "" for data in outputs[1:])  # the header now holds the whole rendering:
    for part in render.result_parts(result)[1:]:
        assert part.html in outputs[0]["text/html"]


def test_display_view_keeps_its_outputs_when_they_match(displays: Publisher) -> None:
    clock = Clock()
    view = DisplayView(clock=clock, min_block=20)
    view.start("demo")
    source = "First paragraph, streamed.\n\nSecond paragraph.\n\n- a list\n- of items\n\nLast one."
    second = "A second message."
    events = [
        *chunks(source, 3),
        ItemDone(message(source)),
        CustomOutputs({"k": 1}),  # mid-answer: shown at the end, below both messages
        TraceReceived(trace_id="tr-1"),
        *chunks(second, 3, "m2"),
        ItemDone(message(second, "m2")),
    ]
    end(view, drive(view, events, clock, step=0.3))
    outputs = [data["text/html"] for data in final_outputs(displays)]
    assert "am-answer" not in outputs[0]  # header and status only: no fallback
    assert "&quot;k&quot;: 1" in outputs[-2] and "tr-1" in outputs[-1] and second in outputs[-3]
    body = strip_wrappers("".join(outputs[1:-3]))
    assert len(outputs) > 5 and body == strip_wrappers(render.answer_html(source))


# -- the text view ---------------------------------------------------------------------------------------
def test_text_view_prints_each_piece_once() -> None:
    out = io.StringIO()
    clock = Clock()
    view = TextView(clock=clock, stream=out)
    view.start("demo")
    events: list[Event] = [
        *chunks("Let me check.", 3),
        ItemDone(message("Let me check.")),
        ItemDone({"type": "function_call", "name": "lookup", "arguments": '{"q": "x"}', "call_id": "c"}),
        ItemDone({"type": "function_call_output", "call_id": "c", "output": "42"}),
        *chunks("The answer", 4, "m2"),
        ItemDone(message("The answer is 42.", "m2")),  # longer than what streamed: print the rest
        ItemDone(message("A non-streamed note.", "m3")),
        CustomOutputs({"k": 1}),
        Done(),
    ]
    state = drive(view, events, clock, step=0.001)
    end(view, state)
    printed = out.getvalue()
    assert printed.count("Let me check.") == 1 and printed.count("The answer") == 1
    assert printed.splitlines() == [
        "Let me check.",
        '⚙ lookup({ "q": "x" })',
        "  → 42",
        "The answer is 42.",
        "",
        "A non-streamed note.",
        'custom outputs: { "k": 1 }',
        "[demo · completed · 0.0 s · 54 chars]",
    ]


def test_text_view_and_the_plain_result_send_no_escape_sequence_to_the_terminal() -> None:
    """Agent text that would clear the screen, write the clipboard (OSC 52) or overwrite a line."""
    out = io.StringIO()
    view = TextView(clock=Clock(), stream=out)
    view.start("demo")
    hostile = "Hi\x1b[2J there\x1b]52;c;ZXZpbA==\x07\rfake line\u202e\n\tnext"
    state = drive(view, [*chunks(hostile, 5), ItemDone({"type": "function_call", "name": "\x1b[31mx", "call_id": "c"})])
    result = end(view, state)
    for shown in (out.getvalue(), render.render_result_text(result)):
        assert not any(ch in shown for ch in "\x1b\x07\r\u202e"), repr(shown)
        assert "\\r" not in shown  # a carriage return is dropped, not shown as text (CRLF ends lines as LF)
        assert "\\x1b[2J" in shown and "\n\tnext" in shown  # shown escaped; newlines and tabs kept


def test_text_view_reports_interruption() -> None:
    out = io.StringIO()
    view = TextView(clock=Clock(), stream=out)
    view.start("demo")
    end(view, drive(view, chunks("partial", 3)), "interrupted")
    assert out.getvalue().endswith("partial\n[demo · interrupted · 0.0 s · 7 chars] — partial answer kept\n")


# -- choosing a view -----------------------------------------------------------------------------------
def test_auto_picks_text_in_a_plain_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    shell = InteractiveShell.instance()
    assert detect_mode() == "text"
    assert isinstance(make_view("auto"), TextView)
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # as in ipykernel
    assert detect_mode() == "display"


def test_other_modes() -> None:
    assert isinstance(make_view("none"), NullView)
    assert isinstance(make_view("text"), TextView)
    with pytest.raises(ValueError, match="unknown view mode"):
        make_view("fancy")


# -- the coalescer -----------------------------------------------------------------------------------
def test_coalescer_rules() -> None:
    c = Coalescer(10.0, min_rate=4.0, resend_ratio=1.0, allowance=100.0)
    assert c.due(0.0, 1, 10_000)  # the first update goes at once, whatever it re-sends
    c.mark(0.0, 1, 0)  # credit: min(100 + 1, 100) = 100
    assert not c.due(0.05, 10_000, 0)  # never above max_rate
    assert c.due(0.1, 50, 150)  # cheap: the credit and the new text pay for what it re-sends
    assert not c.due(0.1, 10, 200)  # dear, and the view is fresh ...
    assert c.due(0.25, 10, 200)  # ... until it has shown the same for 1 / min_rate
    c.mark(0.25, 10, 400)
    assert c.credit < 0 and not c.due(0.4, 100, 50)  # in debt: only the period sends
    assert c.resent == 400 and c.updates == 2
    c.mark(1.0, 10_000, 0)
    assert c.credit == 100.0  # the credit never exceeds the allowance
    rate_cap = Coalescer(10.0, min_rate=0)  # the text view and progress: the cap only
    rate_cap.mark(0.0)
    assert not rate_cap.due(0.05, 1) and rate_cap.due(0.1, 1)


# -- the block splitter --------------------------------------------------------------------------------
def split_all(source: str, step: int, **options: int) -> tuple[list[str], str]:
    blocks = MarkdownBlocks(**options)
    frozen: list[str] = []
    for i in range(0, len(source), step):
        blocks.feed(source[i : i + step])
        new, tail = blocks.take()
        frozen += new
    new, tail = blocks.take()
    return frozen + new, tail


def test_blocks_never_cut_inside_a_fence_or_before_indented_lines() -> None:
    source = "Intro para.\n\n```python\nx = 1\n\n\ny = 2\n```\n\n- item\n\n    indented code\n\nEnd.\n"
    frozen, tail = split_all(source, 1, min_block=1, max_tail=10_000)
    assert "".join(frozen) + tail == source
    assert frozen == ["Intro para.\n\n", "```python\nx = 1\n\n\ny = 2\n```\n\n", "- item\n\n    indented code\n\n"]
    assert "".join(markdown_to_html(b) for b in frozen) + markdown_to_html(tail) == markdown_to_html(source)


@pytest.mark.parametrize(
    "source",
    [  # CommonMark: a line less indented than the item holding a fence ends both; here it opens one
        "1. Install:\n   ```bash\n   pip install x\n```\n\nThen run it, long enough to cut.\n\nDone.\n",
        "- item\n   ```\n```\n\nSome text.",
        "- item\n   ```\nSome text.\n```\ncode\n\nMore text.\n```\n",
        "Some text.\n2) second\n   ```\nSome text.\n\nSome text.",  # no list: a 2 cannot interrupt
        "Some text.\n-\n   ```\nSome text.\n\nSome text.",  # "-" is the heading's underline
        "  - nested\n\n- ```py",  # one loose list: its first item is indented
        "-\n\n   ```\nSome text.\n\nSome text.",  # an item that starts empty ends at the blank line
    ],
)
def test_blocks_follow_fences_in_list_items(source: str) -> None:
    blocks = MarkdownBlocks(min_block=1, max_tail=100_000)
    frozen: list[str] = []
    for char in source:
        blocks.feed(char)
        frozen += blocks.take()[0]
    tail = blocks.close()
    assert "".join(frozen) + tail == source and blocks.inexact == 0
    assert "".join(markdown_to_html(b) for b in frozen) + markdown_to_html(tail) == markdown_to_html(source)


def test_blocks_split_long_code_with_synthetic_fences() -> None:
    code = "".join(f"line {i}\n" for i in range(400))
    source = f"~~~~sql\n{code}~~~~\n\nAfter.\n"
    frozen, tail = split_all(source, 13, min_block=100, max_tail=500)
    assert len(frozen) > 3
    for block in [*frozen, tail]:  # each piece renders as complete code blocks on its own
        fences = [line for line in block.splitlines() if line.startswith("~~~~")]
        assert len(fences) % 2 == 0 or block is tail
    rendered = "".join(markdown_to_html(b) for b in [*frozen, tail])
    assert rendered.count("line ") == 400 and "After." in rendered
    assert rendered.count('<code class="language-sql"') == len(re.findall("<pre[ >]", rendered))


def test_blocks_fall_back_to_list_items_for_long_lists() -> None:
    source = "".join(f"{i}. item number {i} with some words\n" for i in range(1, 200))
    frozen, tail = split_all(source, 17, min_block=100, max_tail=600)
    assert len(frozen) > 3 and all(re.match(r"\d+\. ", b) for b in frozen)
    rendered = "".join(markdown_to_html(b) for b in [*frozen, tail])
    assert rendered.count("<li>") == 199 and '<ol start="' in rendered


def test_blocks_close_returns_the_rest() -> None:
    blocks = MarkdownBlocks(min_block=1)
    blocks.feed("a\n\nb")
    assert blocks.take() == (["a\n\n"], "b")
    blocks.feed(" c")
    assert blocks.close() == "b c" and blocks.tail_chars == 0


_LINES = st.sampled_from(
    ["", "", "Some text.", "More *words* here.", "# Title", "```", "```py", "~~~", "    indented",
     "   three spaces", "> quote", "| a | b |", "|---|---|", "***", "Setext", "====", "- item", "* star",
     "1. first", "2) second", "  continued", "   ```", "   ```bash", "   code in an item", "  - nested",
     "- ```py", "-", "10. ten", "\tcode", "<div>", "- > q"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(_LINES, max_size=40), step=st.integers(1, 30), min_block=st.integers(1, 80))
def test_blocks_reassemble_the_source_and_render_the_same(lines: list[str], step: int, min_block: int) -> None:
    source = "\n".join(lines)
    frozen, tail = split_all(source, step, min_block=min_block, max_tail=100_000)  # hard boundaries only
    assert "".join(frozen) + tail == source
    assert "".join(markdown_to_html(b) for b in frozen) + markdown_to_html(tail) == markdown_to_html(source)


# -- a real kernel ---------------------------------------------------------------------------------------
KERNEL_CELL = """
from agent_magics.core.events import Done, ItemDone, Reduction, TextDelta, finish, reduce_event
from agent_magics.core.result import AgentResult
from agent_magics.view.live import detect_mode, make_view

assert detect_mode() == "display", detect_mode()
view = make_view(MODE)
state = Reduction()
view.start("kernel-agent")
words = "Hello from the **kernel** <script>x()</script>".split()
events = [TextDelta("m1", w + " ") for w in words]
events += [
    ItemDone({"type": "message", "id": "m1", "content": [{"type": "output_text", "text": " ".join(words) + " "}]}),
    ItemDone({"type": "function_call", "name": "lookup", "arguments": "{}", "call_id": "c1"}),
    ItemDone({"type": "function_call_output", "call_id": "c1", "output": "42"}),
    TextDelta("m2", "The answer is 42."),
    Done(),
]
for event in events:
    reduce_event(state, event)
    view.on_event(state, event)
finish(state)
view.finish(AgentResult.from_reduction("kernel-agent", state))
"""


def run_in_kernel(mode: str) -> Any:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(f"MODE = {mode!r}\n" + KERNEL_CELL))
    repo = Path(__file__).resolve().parents[1]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(repo)}}
    )
    client.execute()
    return nb


def test_display_view_in_a_real_kernel_leaves_static_outputs_only() -> None:
    nb = run_in_kernel("auto")
    outputs = nb.cells[0].outputs
    assert {o.output_type for o in outputs} == {"display_data"}, outputs
    assert all(WIDGET_VIEW not in o.data and "text/html" in o.data for o in outputs)
    html = [o.data["text/html"] for o in outputs]
    assert len(html) == 4 and "completed" in html[0]  # header, text, tool call, text
    assert "<strong>kernel</strong>" in html[1] and "lookup" in html[2] and "The answer is 42." in html[3]
    assert all(html_problems(fragment) == [] for fragment in html)
    assert outputs[0].data["text/plain"].startswith("[kernel-agent · completed")
    assert "The answer is 42." in outputs[0].data["text/plain"]  # the compact text of the whole result
    assert not nb.metadata.get("widgets")  # no widget, no widget state


def test_widget_view_in_a_real_kernel_leaves_only_the_static_bundle() -> None:
    nb = run_in_kernel("widget")
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data"], outputs
    data = outputs[0].data
    assert WIDGET_VIEW not in data and set(data) == {"text/html", "text/plain"}
    assert "<strong>kernel</strong>" in data["text/html"] and "The answer is 42." in data["text/html"]
    assert "lookup" in data["text/html"] and html_problems(data["text/html"]) == []
    assert data["text/plain"].startswith("[kernel-agent · completed")
    # nbclient keeps the last state of closed widgets in the notebook metadata (it ignores
    # comm_close); JupyterLab saves only live models. Nothing displays that state any more.


def test_display_view_outside_ipython_prints_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(InteractiveShell, "initialized", classmethod(lambda cls: False))
    view = make_view("display", clock=Clock())
    view.start("demo")
    end(view, drive(view, chunks("Hello.", 2)))
    printed = capsys.readouterr().out
    assert printed.startswith("[demo · connecting")
    assert printed.rstrip().endswith("[demo · completed · 0.0 s · 6 chars]\nHello.")
    assert "{" not in printed  # no mimebundle repr


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        _LINES | st.sampled_from(["[r]: https://x.example/", "See [x][r].", "-", "10. ten"]), min_size=1, max_size=30
    ),
    step=st.integers(1, 25),
    pause=st.sampled_from([0.0, 0.01, 0.3]),
    min_block=st.integers(1, 60),
    max_tail=st.sampled_from([40, 100_000]),
)
def test_display_view_ends_as_the_static_rendering(
    lines: list[str], step: int, pause: float, min_block: int, max_tail: int
) -> None:
    """Whatever the text, chunking and timing: the outputs left show what the static rendering shows."""
    displays = Publisher()
    InteractiveShell.instance().display_pub = displays
    source = "\n".join(lines)
    view = DisplayView(clock=(clock := Clock()), min_block=min_block, max_tail=max_tail)
    view.start("demo")
    result = end(view, drive(view, [*chunks(source, step), ItemDone(message(source))], clock, step=pause))
    outputs = [data["text/html"] for data in final_outputs(displays)]
    expected = strip_wrappers(render.answer_html(result.text)) if result.text.strip() else ""
    if "am-answer" in outputs[0]:  # the fallback: the whole rendering in the header, nothing else
        assert all(html == "" for html in outputs[1:]) and expected in strip_wrappers(outputs[0])
    else:
        assert strip_wrappers("".join(outputs[1:])) == expected


@pytest.mark.parametrize("final_id", ["msg_1", None])
def test_deltas_without_an_id_then_the_message_show_it_once(displays: Publisher, final_id: str | None) -> None:
    clock = Clock()
    view = DisplayView(clock=clock, min_block=20)
    view.start("demo")
    source = "Hello world, streamed without an item id.\n\nAnd a second paragraph."
    events = [*chunks(source, 4, ANONYMOUS), ItemDone(message(source, final_id))]  # type: ignore[arg-type]
    result = end(view, drive(view, events, clock, step=0.3))
    assert result.text == source  # once, not twice
    outputs = [data["text/html"] for data in final_outputs(displays)]
    assert "am-answer" not in outputs[0]  # the live outputs matched the static rendering: no fallback
    assert "".join(outputs[1:]).count("Hello world") == 1


def test_the_live_count_matches_the_result_with_a_tool_call_between_messages(displays: Publisher) -> None:
    clock = Clock()
    view = DisplayView(clock=clock)
    view.start("demo")
    call = {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"}
    events = [
        *chunks("Let me check.", 4, "m1"),
        ItemDone(message("Let me check.", "m1")),
        ItemDone(call),
        ItemDone({"type": "function_call_output", "call_id": "c1", "output": "42"}),
        *chunks("It is 42.", 4, "m2"),
        ItemDone(message("It is 42.", "m2")),
    ]
    state = drive(view, events, clock, step=0.3)
    assert view._chars == len(state.text)  # what the header counts is what the result holds


def test_two_anonymous_messages_in_a_row_show_as_two(displays: Publisher) -> None:
    clock = Clock()
    view = DisplayView(clock=clock, min_block=20)
    view.start("demo")
    events = [
        *chunks("First message.", 4, ANONYMOUS),
        ItemDone(message("First message.", "msg_1")),
        *chunks("Second.", 4, ANONYMOUS),
        ItemDone(message("Second.", "msg_2")),
    ]
    state = drive(view, events, clock, step=0.3)
    result = end(view, state)
    assert result.text == "First message.\n\nSecond." and view._chars == len(result.text)
    outputs = [data["text/html"] for data in final_outputs(displays)]
    assert "am-answer" not in outputs[0]  # live outputs already matched: no fallback
    assert "".join(outputs[1:]).count("Second.") == 1


def test_a_message_whose_deltas_were_empty_shows_live(displays: Publisher) -> None:
    clock = Clock()
    view = DisplayView(clock=clock)
    view.start("demo")
    state = drive(view, [TextDelta("m1", ""), ItemDone(message("Hello there", "m1"))], clock, step=0.3)
    view.flush()
    assert view._chars == len("Hello there") == len(state.text)
    assert any("Hello there" in p["data"]["text/html"] for p in displays.published)  # before finish()


@pytest.mark.parametrize("final_id", ["msg_1", None])
def test_deltas_without_an_id_then_a_tool_call_then_the_message_show_it_once(
    displays: Publisher, final_id: str | None
) -> None:
    """The tool call ends the live segment, but the finished message is still the one the deltas were
    (as the Reduction reads it): its text is not shown again, only what it adds."""
    clock = Clock()
    view = DisplayView(clock=clock, min_block=20)
    view.start("demo")
    call = {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"}
    events = [
        *chunks("Let me look that up.", 4, ANONYMOUS),
        ItemDone(call),
        ItemDone(message("Let me look that up. Found it.", final_id)),
    ]
    state = drive(view, events, clock, step=0.3)
    view.flush()
    live = "".join(data["text/html"] for data in final_outputs(displays)[1:])
    assert live.count("Let me look that up.") == 1 and "Found it." in live
    assert view._chars == len(state.text)  # the header counts what the result holds
    result = end(view, state)
    assert result.text.count("Let me look that up.") == 1


def test_anonymous_deltas_on_both_sides_of_a_tool_call_then_their_message(displays: Publisher) -> None:
    """The Reduction joins every anonymous delta into one pending message; its finished form claims
    all of them, so none of that text is shown twice."""
    clock = Clock()
    view = DisplayView(clock=clock, min_block=20)
    view.start("demo")
    call = {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": "{}"}
    events = [
        *chunks("Looking. ", 4, ANONYMOUS),
        ItemDone(call),
        *chunks("It is 42.", 4, ANONYMOUS),
        ItemDone(message("Looking. It is 42.", "msg_1")),
    ]
    state = drive(view, events, clock, step=0.3)
    view.flush()
    live = "".join(data["text/html"] for data in final_outputs(displays)[1:])
    assert live.count("Looking.") == 1 and live.count("It is 42.") == 1
    assert view._chars == len(state.text)
