"""Batch progress: throttled text line, --stream rows, HTML escaping, widget bar replaced at the end."""

from __future__ import annotations

import io

import pytest

from agent_magics.sql.batch import Batch, BatchCancelled
from agent_magics.sql.batch_progress import batch_reading
from agent_magics.sql.semantics import Answer
from agent_magics.sql.transpile import AiCall
from agent_magics.view.progress import Progress, status_line

CALL = AiCall(index=0, endpoint="ep", request_sql="q", fail_on_error=False)


def finished_batch(answers: dict[str, Answer]) -> Batch:
    batch = Batch(lambda call, request: answers[request], concurrency=2)
    batch.run_rows(CALL, list(answers))
    batch.close()
    return batch


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_text_line_is_throttled_and_stream_prints_rows():
    out, clock = io.StringIO(), Clock()
    batch = finished_batch({'"a"': Answer(value="A", text="A"), '"b"': Answer(error="b: HTTP 503.")})
    progress = Progress("text", stream=True, clock=clock, out=out)
    read = batch_reading(batch, stream=True)
    progress.tick(read)
    first = out.getvalue()
    progress.tick(read)  # same instant: throttled
    assert out.getvalue() == first
    assert "[row 0] a -> A" in first and "[row 1] b -> ERROR: b: HTTP 503." in first
    assert "ai_query: 2/2 rows · 1 error ·" in first
    clock.now = 1.0
    progress.close("done")
    assert out.getvalue().split("\r")[-1].rstrip() == "done" and out.getvalue().endswith("\n")


def test_streamed_rows_send_no_escape_sequence_to_the_terminal():
    out = io.StringIO()
    batch = finished_batch({'"\x1b]52;c;ZXZpbA==\x07q"': Answer(value="\x1b[2JA", text="\x1b[2JA")})
    progress = Progress("text", stream=True, clock=Clock(), out=out)
    progress.tick(batch_reading(batch, stream=True))
    row = next(line for line in out.getvalue().split("\r") if "[row 0]" in line)
    assert "\x1b" not in row and "\x07" not in row and "\\x1b[2JA" in row


def test_status_line_counts():
    batch = finished_batch({'"x"': Answer(value="1"), '"y"': Answer(value="2")})
    line = status_line(batch.snapshot())
    assert line.startswith("ai_query: 2/2 rows · 0 errors ·") and "rows/s" in line


class Recorder:
    def __init__(self):
        self.bundles = []

    def __call__(self, bundle, raw=False, display_id=False):
        self.bundles.append(bundle)
        recorder = self

        class Handle:
            def update(self, bundle, raw=False):
                recorder.bundles.append(bundle)

        return Handle()


def test_display_rendering_escapes_agent_text(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr("IPython.display.display", recorder)
    monkeypatch.setattr("IPython.core.interactiveshell.InteractiveShell.initialized", lambda: True)
    batch = finished_batch(
        {
            '"<script>alert(1)</script>"': Answer(
                value="<img src=x onerror=alert(1)>", text="<img src=x onerror=alert(1)>"
            )
        }
    )
    progress = Progress("display", stream=True, clock=Clock())
    progress.tick(batch_reading(batch, stream=True))
    progress.close("ai_query: 1/1 rows · done")
    html = recorder.bundles[1]["text/html"]
    assert "<script>" not in html and "<img" not in html and "&lt;img src=x" in html
    assert '<progress value="1" max="1">' in html
    assert recorder.bundles[-1]["text/plain"] == "ai_query: 1/1 rows · done"


def test_widget_bar_then_static_summary(monkeypatch):
    pytest.importorskip("ipywidgets")
    recorder = Recorder()
    monkeypatch.setattr("IPython.display.display", recorder)
    monkeypatch.setattr("IPython.core.interactiveshell.InteractiveShell.initialized", lambda: True)
    batch = finished_batch({'"q"': Answer(value="<b>x</b>", text="<b>x</b>"), '"r"': Answer(error="r failed")})
    progress = Progress("widget", stream=True, clock=Clock())
    progress.tick(batch_reading(batch, stream=True))
    renderer = progress._renderer
    assert renderer.bar.value == 2 and renderer.bar.max == 2 and renderer.bar.bar_style == "warning"
    assert "&lt;b&gt;x&lt;/b&gt;" in renderer.table.value and "<b>x</b>" not in renderer.table.value
    progress.close("ai_query: 2/2 rows · 1 error · done")
    assert recorder.bundles[-1] == {
        "text/plain": "ai_query: 2/2 rows · 1 error · done",
        "text/html": "<pre>ai_query: 2/2 rows · 1 error · done</pre>",
    }
    assert renderer.bar.comm is None  # closed: no widget state left behind


def test_batch_refuses_bad_concurrency_and_stops_when_cancelled():
    with pytest.raises(ValueError):
        Batch(lambda c, r: Answer(), concurrency=0)
    batch = Batch(lambda c, r: Answer(value=r), concurrency=1)
    batch.cancel("stop")
    with pytest.raises(BatchCancelled, match="stop"):
        batch.run_rows(CALL, ['"a"'])
    batch.close()


class Counted:
    def __init__(self, submitted: int, done: int, elapsed: float, failed: int = 0) -> None:
        self.submitted, self.done, self.elapsed, self.failed = submitted, done, elapsed, failed


@pytest.mark.parametrize(
    ("submitted", "done", "elapsed", "left"),
    [
        (20, 5, 10.0, " · ~30 s left"),  # 0.5 rows/s, 15 rows to go
        (1000, 10, 2.0, " · ~3 min 18 s left"),
        (100_000, 100, 36.0, " · ~9 h 59 min left"),
        (20, 20, 10.0, ""),  # finished: nothing left
        (20, 0, 3.0, ""),  # no rate yet: no guess
    ],
)
def test_status_line_says_the_time_left_at_the_rate_so_far(submitted, done, elapsed, left):
    line = status_line(Counted(submitted, done, elapsed), label="agent_eval")
    assert line.startswith(f"agent_eval: {done:,}/{submitted:,} rows") and line.endswith("rows/s" + left)
