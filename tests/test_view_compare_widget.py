"""The ipywidgets comparison view (view/compare_widget.py), on ipywidgets 8 and 7 (make test-ipywidgets7).

Widgets run on the recording comm of test_view_live (what ipykernel would send is captured), and
displays on its recording publisher; time is a fake clock.
"""

from __future__ import annotations

from typing import Any

import test_view_live
from test_view_live import WIDGET_VIEW, Clock, Publisher, Shown, Wire, chunks
from test_view_render import XSS, html_problems

from agent_magics.core.comparison import AgentComparison
from agent_magics.core.events import Done, ItemDone, Reduction, finish, reduce_event
from agent_magics.core.result import AgentResult
from agent_magics.view.compare import render_comparison_html
from agent_magics.view.compare_widget import CompareWidgetView

# The recording comm and display publisher of test_view_live, as fixtures here too.
wire, displays = test_view_live.wire, test_view_live.displays


def feed(view: Any, state: Reduction, events: list[Any], clock: Clock, step: float = 0.05) -> None:
    for event in events:
        clock.now += step
        reduce_event(state, event)
        view.on_event(state, event)


def done(view: Any, state: Reduction, target: str, status: str | None = None) -> AgentResult:
    finish(state, status)  # type: ignore[arg-type]
    result = AgentResult.from_reduction(target, state, timings={"first_text": 0.05, "total": 1.0})
    view.finish(result)
    return result


def column_header(slot: Shown) -> str:
    """The header of a live column: the first widget of the column's box in its slot."""
    (column,) = slot.children
    return column.children[0].value


TOOL = {"type": "function_call", "name": "search_docs", "call_id": "c1", "arguments": '{"q": "x"}', "id": "f1"}


def test_columns_stream_side_by_side_then_one_static_comparison(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = CompareWidgetView(["demo-agent", "demo-chat-agent"], clock=clock)
    first = displays.published[0]
    assert WIDGET_VIEW in first["data"] and "demo-agent: connecting" in first["data"]["text/plain"]
    (row,) = wire.shown(displays).children
    assert (row.layout["display"], row.layout["flex_flow"]) == ("flex", "row wrap")  # stacked when narrow
    slots = row.children
    assert len(slots) == 2 and all(slot.layout["min_width"] == "min(18em, 100%)" for slot in slots)

    a, b = view.views()
    a.start("demo-agent")
    b.start("demo-chat-agent")
    sa, sb = Reduction(), Reduction()
    feed(a, sa, [ItemDone(TOOL), *chunks("Alpha answer " * 5, 6, "ma")], clock)
    feed(b, sb, chunks(f"Beta answer {XSS} " * 3, 9, "mb"), clock)
    # Both columns live at once, each in its own slot with its own header.
    headers = [column_header(slot) for slot in slots]
    assert "demo-agent" in headers[0] and "streaming" in headers[0] and "first token" in headers[0]
    assert "1 tool call" in headers[0] and "tool call" not in headers[1]
    assert "streaming" in headers[1]
    assert not html_problems("".join(wire.html_values()))  # agent text sanitised live

    feed(a, sa, [Done()], clock)
    result_a = done(a, sa, "demo-agent")
    (static,) = slots[0].children
    assert "completed" in static.value and "first token" in static.value  # its final column, figures on top
    assert not static.children and "Alpha answer" in static.value
    assert "streaming" in column_header(slots[1])  # the other still streams

    result_b = done(b, sb, "demo-chat-agent", "interrupted")
    comparison = AgentComparison("q", [result_a, result_b])
    view.finish(comparison)
    last = displays.published[-1]
    assert last["update"] and last["transient"]["display_id"] == first["transient"]["display_id"]
    assert last["data"]["text/html"] == render_comparison_html(comparison)
    assert "interrupted" in last["data"]["text/html"] and "Beta answer" in last["data"]["text/html"]
    assert "<details" in last["data"]["text/html"] and "diff: demo-agent" in last["data"]["text/html"]
    assert not html_problems(last["data"]["text/html"])
    assert set(wire.models) <= wire.closed()  # every widget closed: no state left behind


def test_a_column_that_never_started_is_closed_with_the_rest(wire: Wire, displays: Publisher) -> None:
    clock = Clock()
    view = CompareWidgetView(["demo-agent", "no-such-agent"], clock=clock)
    a, b = view.views()
    a.start("demo-agent")
    sa = Reduction()
    feed(a, sa, chunks("Partial", 3, "ma"), clock)
    failed = AgentResult(target="no-such-agent", text="", status="failed", error="no endpoint no-such-agent")
    b.finish(failed)  # what run.compare does when a target cannot even be asked
    (row,) = wire.shown(displays).children
    assert "no endpoint no-such-agent" in row.children[1].html()
    partial = AgentResult(target="demo-agent", text="Partial", status="interrupted", error="stopped")
    view.finish(AgentComparison("q", [partial, failed]))  # a column still live when the comparison ends
    a.finish(partial)  # a late worker: nothing more is sent
    assert set(wire.models) <= wire.closed()
    assert displays.published[-1]["data"]["text/html"].count('class="am-compare-column"') == 2
