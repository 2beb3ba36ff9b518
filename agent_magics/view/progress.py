"""Progress of a batch: rows done of those sent, errors so far, rate; with ``--stream`` the rows as they finish.

Three renderings, picked like ``%%agent``'s views (``view.live.detect_mode``):

* ``widget``: an ipywidgets progress bar + status line (+ a table of the latest rows with ``--stream``),
  replaced at the end by a static one-line summary through its display handle (no widget state is left
  in the saved notebook);
* ``display``: the same as HTML through display-id updates (``live_base.show_bundle``);
* ``text``: one throttled status line rewritten with ``\\r`` (terminals, nbconvert), and with
  ``--stream`` one line per finished row.

Updates go through the live views' ``Coalescer`` (a few per second): a 10,000-row batch must not become
10,000 messages. The progress knows nothing of SQL: the caller hands it counts and finished rows, read
only when an update is due. Everything the agents wrote is HTML-escaped before it is shown.
"""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from agent_magics.core.text import rough_duration, shorten, terminal_safe
from agent_magics.view.bundles import replace_bundle, show_bundle
from agent_magics.view.coalesce import Coalescer
from agent_magics.view.sanitize import NO_MATH

STREAM_ROWS = 12  # rows shown in the live table
HTML_RATE = 8.0  # updates per second
TEXT_RATE = 2.0


class Counts(Protocol):
    """How far a batch is: what the progress shows (``sql.batch.Snapshot`` is one)."""

    @property
    def submitted(self) -> int: ...
    @property
    def done(self) -> int: ...
    @property
    def failed(self) -> int: ...
    @property
    def elapsed(self) -> float: ...


@dataclass(frozen=True)
class RowLine:
    """A finished row as shown: its number, what was asked and what came back (both short)."""

    row: int
    request: str
    outcome: str
    failed: bool = False


# What ``tick`` reads when an update is due: the counts, and the rows finished since the last read.
Reading = Callable[[], tuple[Counts, Sequence[RowLine]]]


def status_line(counts: Counts, label: str = "ai_query") -> str:
    rate = counts.done / counts.elapsed if counts.elapsed > 0 else 0.0
    errors = f"{counts.failed:,} error{'s' if counts.failed != 1 else ''}"
    tokens = getattr(counts, "tokens", 0)  # a batch whose endpoints report usage
    shown = f" · {tokens:,} tokens" if tokens else ""
    left = counts.submitted - counts.done
    # At the rate so far: rows finish at a steady pace once the pool is full, so this settles fast.
    eta = f" · ~{rough_duration(left / rate)} left" if left > 0 and rate > 0 else ""
    return (
        f"{label}: {counts.done:,}/{counts.submitted:,} rows · {errors}{shown} · {counts.elapsed:.1f} s · "
        f"{rate:,.0f} rows/s{eta}"
    )


class Progress:
    """Drive with ``tick(read)`` (from the engine's wait loop), ``note(text)``, then ``close(summary)``."""

    def __init__(
        self,
        mode: str = "auto",
        *,
        stream: bool = False,
        label: str = "ai_query",
        clock: Callable[[], float] = time.monotonic,
        out: TextIO | None = None,
    ) -> None:
        if mode == "auto":
            from agent_magics.view.live import detect_mode

            mode = detect_mode()
        self.mode = mode
        self.stream = stream
        self.label = label
        self._clock = clock
        self._out = out
        self._coalescer = Coalescer(HTML_RATE if mode in ("widget", "display", "stream") else TEXT_RATE, min_rate=0)
        self._notes = Coalescer(TEXT_RATE, min_rate=0)
        self._renderer: _TextRenderer | _WidgetRenderer | _DisplayRenderer | None = None

    def tick(self, read: Reading, force: bool = False) -> None:
        now = self._clock()
        if not force and not self._coalescer.due(now, 0, 0):
            return
        self._coalescer.mark(now)
        counts, rows = read()
        self._render().rows(counts, status_line(counts, self.label), list(rows) if self.stream else [])

    def note(self, text: str) -> None:
        """A status without row counts (warehouse and Spark statements)."""
        now = self._clock()
        if not self._notes.due(now, 0, 0):
            return
        self._notes.mark(now)
        self._render().rows(None, text, [])

    def close(self, summary: str) -> None:
        if self._renderer is not None:
            self._renderer.close(summary)

    def _render(self) -> _TextRenderer | _WidgetRenderer | _DisplayRenderer:
        if self._renderer is None:
            if self.mode == "widget":
                self._renderer = _WidgetRenderer()
            elif self.mode in ("display", "stream"):
                self._renderer = _DisplayRenderer()
            else:
                self._renderer = _TextRenderer(self._out or sys.stdout)
        return self._renderer


class _TextRenderer:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.width = 0

    def rows(self, counts: Counts | None, line: str, new: list[RowLine]) -> None:
        for row in new:  # a terminal line is narrower than a table cell
            shown = f"[row {row.row}] {shorten(row.request, 60)} -> {shorten(row.outcome, 60)}"
            self._write(terminal_safe(shown), end="\n")  # agent text: no escape sequence reaches the terminal
        self._write(line, end="")

    def _write(self, text: str, end: str) -> None:
        padding = " " * max(0, self.width - len(text))
        self.out.write("\r" + text + padding + end)
        self.width = 0 if end else len(text)
        self.out.flush()

    def close(self, summary: str) -> None:
        self._write(summary, end="\n")


def _summary_bundle(summary: str) -> dict[str, str]:
    return {"text/plain": summary, "text/html": f"<pre>{html.escape(summary)}</pre>"}


class _LatestRows:
    """The table of the latest finished rows (``--stream``), escaped."""

    def __init__(self) -> None:
        self.latest: list[RowLine] = []

    def add(self, new: list[RowLine]) -> None:
        self.latest = (self.latest + new)[-STREAM_ROWS:]

    def html(self) -> str:
        if not self.latest:
            return ""
        cells = []
        for row in self.latest:
            style = ' style="color:#b00"' if row.failed else ""
            cells.append(
                f"<tr><td>{row.row}</td><td>{html.escape(row.request)}</td>"
                f"<td{style}>{html.escape(row.outcome)}</td></tr>"
            )
        return (
            f'<table class="{NO_MATH}"><thead><tr><th>row</th><th>request</th><th>answer</th></tr></thead><tbody>'
            + "".join(cells)
            + "</tbody></table>"
        )


class _WidgetRenderer:
    def __init__(self) -> None:
        import ipywidgets

        self.table_rows = _LatestRows()
        self.bar = ipywidgets.IntProgress(value=0, min=0, max=1, bar_style="info")
        self.status = ipywidgets.HTML(value="")
        self.table = ipywidgets.HTML(value="")
        self.box = ipywidgets.VBox([ipywidgets.HBox([self.bar, self.status]), self.table])
        self.handle = show_bundle(
            {
                "text/plain": "ai_query: starting",
                "application/vnd.jupyter.widget-view+json": {
                    "version_major": 2,
                    "version_minor": 0,
                    "model_id": self.box.model_id,
                },
            }
        )

    def rows(self, counts: Counts | None, line: str, new: list[RowLine]) -> None:
        self.table_rows.add(new)
        with self.box.hold_sync():
            if counts is not None:
                self.bar.max = max(1, counts.submitted)
                self.bar.value = counts.done
                self.bar.bar_style = "warning" if counts.failed else "info"
            self.status.value = html.escape(line)
            if new:
                self.table.value = self.table_rows.html()

    def close(self, summary: str) -> None:
        replace_bundle(self.handle, _summary_bundle(summary))
        for widget in (self.bar, self.status, self.table, *self.box.children, self.box):
            widget.close()


class _DisplayRenderer:
    def __init__(self) -> None:
        self.table_rows = _LatestRows()
        self.handle: Any = show_bundle({"text/plain": "ai_query: starting"})

    def rows(self, counts: Counts | None, line: str, new: list[RowLine]) -> None:
        self.table_rows.add(new)
        bar = ""
        if counts is not None:
            bar = f'<progress value="{counts.done}" max="{max(1, counts.submitted)}"></progress> '
        bundle = {"text/plain": line, "text/html": f"<div>{bar}{html.escape(line)}</div>{self.table_rows.html()}"}
        replace_bundle(self.handle, bundle)

    def close(self, summary: str) -> None:
        replace_bundle(self.handle, _summary_bundle(summary))
