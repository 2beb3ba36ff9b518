"""The scorecard of an evaluation: pass rate per scorer (per target when several), latency and
tokens; the change since the previous evaluation of a target on the same data, with the rows that
regressed; then a per-row table (failing rows first). Static HTML + text: it survives the kernel.

Everything in it came from agents, judges or the user's data, so every piece is HTML-escaped; the
size is bounded (rows shown, characters per cell) so a large dataset stays a readable output.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from agent_magics.core.text import one_line, shorten
from agent_magics.view.sanitize import escape

MAX_ROWS = 50  # rows in the per-row table; the rest are counted, not shown
MAX_REGRESSED = 20  # regressed rows listed per target
CELL = 300  # characters of a question, answer or rationale in the HTML table
TEXT_CELL = 60  # the same in the text form


@dataclass(frozen=True)
class ScoreRow:
    target: str
    question: str
    answer: str
    scores: dict[str, tuple[bool | None, object]]  # scorer -> (passed, rationale)
    failing: bool = False
    latency: float | None = None
    tokens: int | None = None
    errored: tuple[str, ...] = ()  # scorers that raised on this row (their cell says why)


@dataclass(frozen=True)
class SinceLast:
    """A target's change since its previous evaluation on the same data."""

    run_id: str  # the previous run
    rates: list[tuple[str, float, float]]  # (scorer, pass rate before, after)
    regressed: list[tuple[int, str, tuple[str, ...]]]  # (row in the data, question, scorers passed before)


@dataclass
class Scorecard:
    rows: list[ScoreRow]
    scorers: list[str]
    targets: list[str]
    run_id: str = ""
    run_url: str | None = None  # the run in MLflow's UI (built by us from the tracking server's URL)
    interrupted_of: int | None = None  # rows planned, when Ctrl-C stopped the evaluation
    since: dict[str, SinceLast] = field(default_factory=dict)  # target -> change since its last evaluation
    max_rows: int = MAX_ROWS

    def ordered(self) -> list[ScoreRow]:
        """Failing rows first, otherwise in data order."""
        return sorted(self.rows, key=lambda r: not r.failing)

    def rate(self, scorer: str, target: str | None = None) -> tuple[int, int]:
        rows = [r for r in self.rows if target is None or r.target == target]
        return sum(r.scores.get(scorer, (None, None))[0] is True for r in rows), len(rows)

    def _summary(self, target: str | None) -> tuple[str, str]:
        rows = [r for r in self.rows if target is None or r.target == target]
        latencies = [r.latency for r in rows if r.latency is not None]
        tokens = [r.tokens for r in rows if r.tokens is not None]
        latency = f"p50 {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s" if latencies else "–"
        return latency, (f"{sum(tokens):,}" if tokens else "–")

    def _groups(self) -> list[str | None]:
        return list(self.targets) if len(self.targets) > 1 else [None]

    @property
    def scorer_errors(self) -> int:
        return sum(len(row.errored) for row in self.rows)

    def _errors_note(self) -> str:
        n = self.scorer_errors
        return f"{n} scorer error{'s' if n != 1 else ''} (no verdict: counted as not passed)"

    def text(self) -> str:
        lines = [f"agent_eval: {len(self.rows)} rows · {', '.join(self.targets)} · run {self.run_id}"]
        if self.interrupted_of is not None:
            lines[0] += f" · interrupted: {len(self.rows)} of {self.interrupted_of} rows finished"
        if self.scorer_errors:
            lines[0] += f" · {self._errors_note()}"
        if self.run_url:
            lines[0] += f" · {self.run_url}"
        for target in self._groups():
            rates = []
            for scorer in self.scorers:
                ok, total = self.rate(scorer, target)
                rates.append(f"{scorer} {ok}/{total}")
            latency, tokens = self._summary(target)
            label = f"{target}: " if target else ""
            lines.append(f"  {label}{' · '.join(rates)} · latency {latency} · tokens {tokens}")
        lines += self._since_text()
        shown = self.ordered()[: self.max_rows]
        for row in shown:
            marks = " ".join(f"{s}={_mark(row.scores.get(s, (None, None))[0], s in row.errored)}" for s in self.scorers)
            prefix = f"[{row.target}] " if len(self.targets) > 1 else ""
            lines.append(f"  {'✗' if row.failing else '✓'} {prefix}{one_line(row.question, TEXT_CELL)} · {marks}")
        if len(self.rows) > len(shown):
            lines.append(f"  … {len(self.rows) - len(shown)} more rows (EvalResult.to_pandas() has them all)")
        return "\n".join(lines)

    def _since_text(self) -> list[str]:
        lines = []
        for target, since in self.since.items():
            rates = " · ".join(f"{name} {b:.0%} → {a:.0%} ({_points(a - b)})" for name, b, a in since.rates)
            lines.append(f"  since run {since.run_id} ({target}, same data): {rates or 'no common scorers'}")
            for row, question, scorers in since.regressed[:MAX_REGRESSED]:
                lines.append(f"    regressed: row {row} {one_line(question, TEXT_CELL)} · {', '.join(scorers)}")
            if len(since.regressed) > MAX_REGRESSED:
                lines.append(f"    … {len(since.regressed) - MAX_REGRESSED} more regressed rows")
        return lines

    def _since_html(self) -> str:
        if not self.since:
            return ""
        rows = []
        for target, since in self.since.items():
            cells = " · ".join(
                f"{escape(name)} {b:.0%} → <b>{a:.0%}</b> <small>({escape(_points(a - b))})</small>"
                for name, b, a in since.rates
            )
            regressed = "".join(
                f"<li>row {row}: {escape(shorten(question, CELL))} <small>({escape(', '.join(scorers))})</small></li>"
                for row, question, scorers in since.regressed[:MAX_REGRESSED]
            )
            if len(since.regressed) > MAX_REGRESSED:
                regressed += f"<li>… {len(since.regressed) - MAX_REGRESSED} more</li>"
            rows.append(
                f'<tr class="am-since"><td>{escape(target)}</td><td><code>{escape(since.run_id)}</code></td>'
                f"<td>{cells or '–'}</td><td>{f'<ul>{regressed}</ul>' if regressed else 'none'}</td></tr>"
            )
        return (
            "<p>Since the previous evaluation on the same data:</p>"
            "<table><thead><tr><th>target</th><th>previous run</th><th>pass rate</th><th>regressed rows</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>"
        )

    def html(self) -> str:
        head = "".join(f"<th>{escape(s)}</th>" for s in self.scorers)
        summary = []
        for target in self._groups():
            cells = []
            for scorer in self.scorers:
                ok, total = self.rate(scorer, target)
                share = f"{ok / total:.0%}" if total else "–"
                cells.append(f"<td>{share} <small>({ok}/{total})</small></td>")
            latency, tokens = self._summary(target)
            label = escape(target) if target else "all"
            summary.append(
                f"<tr><td>{label}</td>{''.join(cells)}<td>{escape(latency)}</td><td>{escape(tokens)}</td></tr>"
            )
        shown = self.ordered()[: self.max_rows]
        body = []
        for row in shown:
            target_cell = f"<td>{escape(row.target)}</td>" if len(self.targets) > 1 else ""
            scores = "".join(_score_cell(row.scores.get(s, (None, None)), s in row.errored) for s in self.scorers)
            body.append(
                f'<tr class="{"am-fail" if row.failing else "am-pass"}">{target_cell}'
                f"<td>{escape(shorten(row.question, CELL))}</td><td>{escape(shorten(row.answer, CELL))}</td>"
                f"{scores}</tr>"
            )
        more = ""
        if len(self.rows) > len(shown):
            more = f"<p>… {len(self.rows) - len(shown)} more rows (EvalResult.to_pandas() has them all)</p>"
        target_head = "<th>target</th>" if len(self.targets) > 1 else ""
        state = ""
        if self.interrupted_of is not None:
            state = f" · <b>interrupted</b>: {len(self.rows)} of {self.interrupted_of} rows finished"
        if self.scorer_errors:
            state += f" · <b>{escape(self._errors_note())}</b>"
        link = ""
        if self.run_url and self.run_url.startswith(("http://", "https://")):
            link = f' · <a href="{escape(self.run_url)}" target="_blank" rel="noopener">open in MLflow</a>'

        return (
            '<div class="agent-magics-scorecard tex2jax_ignore mathjax_ignore">'
            f"<p><b>agent_eval</b>: {len(self.rows)} rows · {escape(', '.join(self.targets))}"
            f" · MLflow run <code>{escape(self.run_id)}</code>{link}{state}</p>"
            f"<table><thead><tr><th>target</th>{head}<th>latency</th><th>tokens</th></tr></thead>"
            f"<tbody>{''.join(summary)}</tbody></table>{self._since_html()}"
            f"<table><thead><tr>{target_head}<th>question</th><th>answer</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>{more}</div>"
        )


def _points(change: float) -> str:
    """A change in pass rate in percentage points: +20 pts, −5 pts, ±0."""
    points = round(change * 100)
    return "±0" if points == 0 else f"{'+' if points > 0 else '−'}{abs(points)} pts"


def _mark(verdict: bool | None, errored: bool = False) -> str:
    return "pass" if verdict is True else "FAIL" if verdict is False else "error" if errored else "?"


def _score_cell(score: tuple[bool | None, object], errored: bool = False) -> str:
    verdict, rationale = score
    why = "" if rationale is None else escape(shorten(str(rationale), CELL))
    return f'<td title="{why}">{_mark(verdict, errored)}<br><small>{why}</small></td>'
