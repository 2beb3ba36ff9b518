"""Progress of a batch: rows done of those sent, errors so far, rate; with ``--stream`` the rows as they finish.

Three renderings, picked like ``%%agent``'s views (``view.live.detect_mode``):

* ``widget``: an ipywidgets progress bar + status line (+ a table of the latest rows with ``--stream``),
  replaced at the end by a static one-line summary through its display handle (no widget state is left
  in the saved notebook);
* ``display``: the same as HTML through ``display(..., display_id=True)`` updates;
* ``text``: one throttled status line rewritten with ``\\r`` (terminals, nbconvert), and with
  ``--stream`` one line per finished row.

Updates are throttled (a few per second): a 10,000-row batch must not become 10,000 messages.
Everything the agents wrote is HTML-escaped before it is shown.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .batch import Batch, RowRecord, Snapshot, shorten

STREAM_ROWS = 12  # rows shown in the live table
WIDGET_RATE = 8.0  # updates per second
TEXT_RATE = 2.0


def status_line(snap: Snapshot, label: str = "ai_query") -> str:
    rate = snap.done / snap.elapsed if snap.elapsed > 0 else 0.0
    errors = f"{snap.failed:,} error{'s' if snap.failed != 1 else ''}"
    return f"{label}: {snap.done:,}/{snap.submitted:,} rows · {errors} · {snap.elapsed:.1f} s · {rate:,.0f} rows/s"


def row_text(record: RowRecord, width: int = 60) -> tuple[str, str]:
    """(request, answer-or-error) of a finished row, shortened for display."""
    request = record.request
    if request.startswith('"'):
        import json

        try:
            request = json.loads(request)
        except ValueError:
            pass
    outcome = f"ERROR: {record.answer.error}" if record.answer.error else (record.answer.text or
                                                                           str(record.answer.value))
    return shorten(" ".join(str(request).split()), width), shorten(" ".join(outcome.split()), width)


class Progress:
    """Drive with ``tick(batch)`` (from the engine's wait loop), ``note(text)``, then ``close(summary)``."""

    def __init__(self, mode: str = "auto", *, stream: bool = False, label: str = "ai_query",
                 clock: Callable[[], float] = time.monotonic, out: TextIO | None = None) -> None:
        if mode == "auto":
            from ..view.live import detect_mode

            mode = detect_mode()
        self.mode = mode
        self.stream = stream
        self.label = label
        self._clock = clock
        self._out = out
        self._last = float("-inf")
        self._shown_records = 0
        self._renderer: Any = None

    # -- driving ------------------------------------------------------------------------------

    def tick(self, batch: Batch, force: bool = False) -> None:
        rate = WIDGET_RATE if self.mode in ("widget", "display") else TEXT_RATE
        now = self._clock()
        if not force and now - self._last < 1.0 / rate:
            return
        self._last = now
        snap = batch.snapshot()
        new = batch.records[self._shown_records:] if self.stream else []
        self._shown_records += len(new)
        self._render().rows(snap, status_line(snap, self.label), list(new))

    def note(self, text: str) -> None:
        """A status without row counts (warehouse and Spark statements)."""
        now = self._clock()
        if now - self._last < 1.0 / TEXT_RATE:
            return
        self._last = now
        self._render().rows(None, text, [])

    def close(self, summary: str) -> None:
        if self._renderer is not None:
            self._renderer.close(summary)

    def _render(self) -> Any:
        if self._renderer is None:
            out = self._out or sys.stdout
            self._renderer = {"widget": _WidgetRenderer, "display": _DisplayRenderer}.get(
                self.mode, _TextRenderer)(self.stream, out)
        return self._renderer


class _TextRenderer:
    def __init__(self, stream: bool, out: TextIO) -> None:
        self.stream = stream
        self.out = out
        self.width = 0

    def rows(self, snap: Snapshot | None, line: str, new: list[RowRecord]) -> None:
        for record in new:
            request, outcome = row_text(record)
            self._write(f"[row {record.row}] {request} -> {outcome}", end="\n")
        self._write(line, end="")

    def _write(self, text: str, end: str) -> None:
        padding = " " * max(0, self.width - len(text))
        self.out.write("\r" + text + padding + end)
        self.width = 0 if end else len(text)
        self.out.flush()

    def close(self, summary: str) -> None:
        self._write(summary, end="\n")


class _HtmlRenderer:
    """Shared by the widget and display renderings: status, bar, and the latest rows."""

    def __init__(self, stream: bool, out: TextIO) -> None:
        self.stream = stream
        self.latest: list[RowRecord] = []

    def _table(self) -> str:
        if not self.stream or not self.latest:
            return ""
        cells = []
        for record in self.latest[-STREAM_ROWS:]:
            request, outcome = row_text(record, 100)
            style = ' style="color:#b00"' if record.answer.error else ""
            cells.append(f"<tr><td>{record.row}</td><td>{html.escape(request)}</td>"
                         f"<td{style}>{html.escape(outcome)}</td></tr>")
        return ("<table><thead><tr><th>row</th><th>request</th><th>answer</th></tr></thead><tbody>"
                + "".join(cells) + "</tbody></table>")

    def _remember(self, new: list[RowRecord]) -> None:
        self.latest = (self.latest + new)[-STREAM_ROWS:]


class _WidgetRenderer(_HtmlRenderer):
    def __init__(self, stream: bool, out: TextIO) -> None:
        super().__init__(stream, out)
        import ipywidgets
        from IPython.display import display

        self.bar = ipywidgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self.status = ipywidgets.HTML(value="")
        self.table = ipywidgets.HTML(value="")
        self.box = ipywidgets.VBox([ipywidgets.HBox([self.bar, self.status]), self.table])
        bundle = {
            "text/plain": "ai_query: starting",
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.box.model_id},
        }
        self.handle = display(bundle, raw=True, display_id=True)

    def rows(self, snap: Snapshot | None, line: str, new: list[RowRecord]) -> None:
        self._remember(new)
        with self.box.hold_sync():
            if snap is not None:
                self.bar.max = max(1, snap.submitted)
                self.bar.value = snap.done
                self.bar.bar_style = "warning" if snap.failed else "info"
            self.status.value = html.escape(line)
            if new:
                self.table.value = self._table()

    def close(self, summary: str) -> None:
        self.handle.update({"text/plain": summary, "text/html": f"<pre>{html.escape(summary)}</pre>"}, raw=True)
        for widget in (self.bar, self.status, self.table, *self.box.children, self.box):
            widget.close()


class _DisplayRenderer(_HtmlRenderer):
    def __init__(self, stream: bool, out: TextIO) -> None:
        super().__init__(stream, out)
        from IPython.display import display

        self.handle = display({"text/plain": "ai_query: starting"}, raw=True, display_id=True)

    def rows(self, snap: Snapshot | None, line: str, new: list[RowRecord]) -> None:
        self._remember(new)
        bar = ""
        if snap is not None:
            bar = f'<progress value="{snap.done}" max="{max(1, snap.submitted)}"></progress> '
        self.handle.update({"text/plain": line, "text/html": f"<div>{bar}{html.escape(line)}</div>{self._table()}"},
                           raw=True)

    def close(self, summary: str) -> None:
        self.handle.update({"text/plain": summary, "text/html": f"<pre>{html.escape(summary)}</pre>"}, raw=True)
