"""The stream view (view/live_stream.py, stream_widget.py, html_patch.py): the display view's
outputs, with the block being written patched in place instead of re-sent.

The frontend is rebuilt from what the kernel sends (display messages and the widgets' comm
messages, in order), applying each patch as the browser script does; the script itself runs in
JupyterLab in tests/frontend/test_lab.py.
"""

from __future__ import annotations

import html
import re
from typing import Any

import comm
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from test_view_live import Clock, chunks, end, message, prose

from agent_magics.core.events import CustomOutputs, ErrorEvent, Event, ItemDone, Reduction, TextDelta, reduce_event
from agent_magics.view import html_patch
from agent_magics.view.live import make_view
from agent_magics.view.live_stream import StreamView
from agent_magics.view.sanitize import markdown_to_html

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_TAG = re.compile(r"<[^>]+>")


def visible(fragment: str) -> int:
    return len(html.unescape(_TAG.sub("", fragment)))


class Screen:
    """The cell's outputs as the frontend holds them, from the display and comm messages in order.

    A widget output is a view that does what the browser script (``stream_widget.ESM``) does: it
    starts from the model's ``html`` and ``base``, applies the next patch in sequence, skips the
    ones it already has, goes stale on a gap and stops at a restart.
    """

    def __init__(self) -> None:
        self.outputs: dict[str, tuple[str, Any]] = {}  # display id -> ("html", text) | ("widget", view)
        self.models: dict[str, dict[str, Any]] = {}  # model id -> its synced state
        self.views: list[dict[str, Any]] = []
        self.closed: set[str] = set()
        self.sent_chars = 0  # visible answer characters carried by all messages

    def display(self, data: dict[str, Any], display_id: str, update: bool) -> None:
        assert update == (display_id in self.outputs), "an update before its display, or a display twice"
        if WIDGET_VIEW in data:
            model_id = data[WIDGET_VIEW]["model_id"]
            assert model_id in self.models and model_id not in self.closed
            # one output at a time shows the widget: the one before was made static first
            assert not any(v["model"] == model_id for v in self._live_views()), "the widget is shown twice"
            model = self.models[model_id]
            view = {"model": model_id, "html": model["html"], "seen": model["base"], "retired": False, "stale": False}
            self.views.append(view)
            self._patch(view)  # as the script's render() does
            self.outputs[display_id] = ("widget", view)
        else:
            fragment = data.get("text/html", "")
            if "am-answer" in fragment:
                self.sent_chars += visible(fragment)
            self.outputs[display_id] = ("html", fragment)

    def comm(self, kind: str, comm_id: str, data: dict[str, Any]) -> None:
        state = data.get("state", {})
        if kind == "comm_close":
            self.closed.add(comm_id)
        elif kind == "comm_open" and state.get("_model_name") == "AnyModel":
            self.models[comm_id] = {"html": state["html"], "base": state["base"], "patch": state["patch"]}
            self.sent_chars += visible(state["html"])
        elif kind == "comm_msg" and comm_id in self.models:
            self.models[comm_id].update({k: v for k, v in state.items() if k in ("html", "base", "patch")})
            views = [v for v in self.views if v["model"] == comm_id]
            if "html" in state:  # a restart, for a new block: no output may still show the old one
                self.sent_chars += visible(state["html"])
                assert not any(v in views for v in self._live_views()), "restarted while still shown"
                for view in views:
                    view["retired"] = True
            if state.get("patch"):
                self.sent_chars += visible(state["patch"][2])
                for view in views:
                    self._patch(view)

    def _patch(self, view: dict[str, Any]) -> None:
        patch = self.models[view["model"]]["patch"]
        if view["retired"] or not patch or patch[0] <= view["seen"]:
            return
        number, drop, add = patch
        if number != view["seen"] + 1:
            view["stale"] = True
            return
        view["html"], view["seen"] = html_patch.apply(view["html"], drop, add), number

    def _live_views(self) -> list[dict[str, Any]]:
        return [value for kind, value in self.outputs.values() if kind == "widget"]

    def shown(self) -> list[str]:
        """What each output shows now, in display order (a widget: the HTML its view has built)."""
        assert not any(v["stale"] for v in self.views), "a view missed a patch"
        return [value if kind == "html" else value["html"] for kind, value in self.outputs.values()]


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Screen:
    seen = Screen()

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs) -> None:  # type: ignore[override]
            seen.display(data, (transient or {})["display_id"], update)

        def clear_output(self, wait: bool = False) -> None:
            raise AssertionError("the live views never clear the cell")

    class RecordingComm(comm.DummyComm):
        def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):  # type: ignore[override]
            seen.comm(msg_type, self.comm_id, data or {})

    monkeypatch.setattr(comm, "create_comm", lambda *args, **kwargs: RecordingComm(*args, **kwargs))
    monkeypatch.setattr(InteractiveShell.instance(), "display_pub", Publisher())
    return seen


def run(mode: str, events: list[Event], screen: Screen, step: float) -> tuple[list[list[str]], list[str]]:
    """Drive a view; the screens after each event (repeats dropped), and the final outputs."""
    clock = Clock()
    view = make_view(mode, clock=clock)
    view.start("demo")
    state, screens = Reduction(), [screen.shown()]
    for event in events:
        clock.now += step
        view.on_event(reduce_event(state, event), event)
        if screen.shown() != screens[-1]:
            screens.append(screen.shown())
    end(view, state)
    return screens, screen.shown()


def bench_events(rate: int, seconds: int = 10) -> tuple[list[Event], str]:
    from agent_magics.local.agents import bench_tokens

    tokens = list(bench_tokens(rate * seconds, 50))
    return [TextDelta("m1", token) for token in tokens], "".join(tokens)


# -- the patches ---------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(), st.text(alphabet=st.sampled_from("a<>&;é😀\n")))
def test_a_patch_turns_the_old_string_into_the_new_one(common: str, old_end: str, new_end: str) -> None:
    old, new = common + old_end, common + new_end
    drop, add = html_patch.diff(old, new)
    assert html_patch.apply(old, drop, add) == new  # (apply() slices UTF-16 units, as JavaScript does)
    if not old_end and not {"<", "&"} & set(common + new_end):  # plain text appended: only it is sent
        assert (drop, add) == (0, new_end)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["word ", "**bold** ", "`code` ", "a & b ", "<i>x</i> ", "\n\n", "- item\n", "é😀 "])))
def test_patches_between_renderings_start_outside_tags_and_re_send_little(pieces: list[str]) -> None:
    source = "".join(pieces)
    shown = markdown_to_html("")
    for cut in range(0, len(source) + 1, 3):
        rendered = markdown_to_html(source[:cut])
        drop, add = html_patch.diff(shown, rendered)
        assert html_patch.apply(shown, drop, add) == rendered
        # read from the patch's side: it does not open with the rest of a tag or a reference
        assert not re.match(r"[^<]*>", add), f"a patch starts inside a tag: {add[:40]!r}"
        assert not re.match(r"#?\w*;", add), f"a patch starts inside a character reference: {add[:40]!r}"
        shown = rendered


# -- the view ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [40, 200])
def test_stream_view_shows_what_the_display_view_shows_update_by_update(screen: Screen, rate: int) -> None:
    events, text = bench_events(rate)
    display_screens, display_final = run("display", events, screen, 1 / rate)
    display_chars = screen.sent_chars
    screen.__init__()  # type: ignore[misc]  # the same recorder, emptied, for the second view
    stream_screens, stream_final = run("stream", events, screen, 1 / rate)
    assert stream_screens == display_screens  # the same text on screen at every step
    assert stream_final == display_final  # and the same static outputs at the end
    assert screen.models and screen.closed >= set(screen.models)  # every widget was closed
    resent = (screen.sent_chars - len(text)) / len(text)
    display_resent = (display_chars - len(text)) / len(text)
    print(f"\n{rate} tok/s: re-sent {resent:.2f}x (display view {display_resent:.2f}x)")
    # Each character goes out as it streams and once more in its finished block, plus a word now and
    # then where the markdown re-renders differently (the display view: the whole block each update).
    assert resent <= 1.05
    if rate == 40:
        assert display_resent > 2


def mixed_events() -> list[Event]:
    """Text, a tool call between two segments, whitespace-only deltas, a second message, custom
    outputs and an error arriving mid-block."""
    first = "Let me look that up.\n\n" + prose(600, seed=3)
    second = "```python\n" + "".join(f"x{i} = {i}\n" for i in range(30)) + "```\n\nThe value is **42**."
    return [
        *chunks(first, 7),
        ItemDone(message(first)),
        ItemDone({"type": "function_call", "name": "lookup", "arguments": '{"q": "x"}', "call_id": "c1"}),
        ItemDone({"type": "function_call_output", "call_id": "c1", "output": "42"}),
        *chunks(second[:120], 5, "m2"),
        TextDelta("m2", "   "),
        CustomOutputs({"k": 1}),
        *chunks(second[120:], 5, "m2"),
        ErrorEvent("connection reset"),
    ]


def test_stream_view_matches_the_display_view_across_tool_calls_messages_and_an_error(screen: Screen) -> None:
    events = mixed_events()
    display_screens, display_final = run("display", events, screen, 0.02)
    screen.__init__()  # type: ignore[misc]
    stream_screens, stream_final = run("stream", events, screen, 0.02)
    assert stream_screens == display_screens and stream_final == display_final
    assert len(screen.views) >= 3 and screen.closed >= set(screen.models)
    assert all(kind == "html" for kind, _ in screen.outputs.values())


def test_no_widget_is_left_in_the_final_outputs(screen: Screen) -> None:
    text = prose(4000)
    events: list[Event] = [*chunks(text, 5), ItemDone(message(text))]
    _, final = run("stream", events, screen, 0.01)
    assert all(kind == "html" for kind, _ in screen.outputs.values())
    assert screen.models and screen.closed >= set(screen.models)
    body = html.unescape(_TAG.sub(" ", "".join(final[1:])))
    assert body.split() == text.replace("#", " ").split()  # every word once, in order


def test_an_interrupt_mid_block_leaves_the_partial_block_as_static_html(screen: Screen) -> None:
    clock = Clock()
    view = make_view("stream", clock=clock)
    assert isinstance(view, StreamView)
    view.start("demo")
    state = Reduction()
    for event in chunks("First paragraph.\n\nSecond one is still being writ", 4):
        clock.now += 0.1
        view.on_event(reduce_event(state, event), event)
    assert any(kind == "widget" for kind, _ in screen.outputs.values())  # the second block is live
    end(view, state, status="interrupted")
    assert all(kind == "html" for kind, _ in screen.outputs.values())
    assert screen.closed >= set(screen.models)
    shown = " ".join(screen.shown())
    assert "still being writ" in shown and "interrupted" in shown


def test_an_interrupt_inside_finish_still_leaves_static_outputs(screen: Screen) -> None:
    clock = Clock()
    view = make_view("stream", clock=clock)
    view.start("demo")
    state = Reduction()
    for event in chunks("A block that is still being written", 4):
        clock.now += 0.1
        view.on_event(reduce_event(state, event), event)

    def interrupted() -> None:
        raise KeyboardInterrupt

    view._end_segment = interrupted  # type: ignore[method-assign]  # Ctrl-C as finish() begins
    with pytest.raises(KeyboardInterrupt):
        end(view, state, status="interrupted")
    assert all(kind == "html" for kind, _ in screen.outputs.values())  # no "model not found" saved
    assert screen.closed >= set(screen.models) and "still being writ" in " ".join(screen.shown())


def test_hostile_text_reaches_the_widget_sanitised(screen: Screen) -> None:
    from test_view_render import XSS, html_problems

    clock = Clock()
    view = make_view("stream", clock=clock)
    view.start(f"demo{XSS}")
    events: list[Event] = [
        *chunks(f"{XSS}\n\n```\n{XSS}\n```\n\n{XSS}", 3),
        ItemDone({"type": "function_call", "name": XSS, "arguments": XSS, "call_id": "c"}),
        *chunks(XSS, 4, "m2"),
        ErrorEvent(XSS),
    ]
    state = Reduction()
    for event in events:
        clock.now += 0.1
        view.on_event(reduce_event(state, event), event)
        for fragment in screen.shown():
            assert not html_problems(fragment), fragment
    end(view, state)
    assert len(screen.views) >= 2


def test_the_stream_view_needs_anywidget(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "anywidget" else real(name, *a))
    with pytest.raises(ValueError, match="pip install anywidget"):
        make_view("stream")
