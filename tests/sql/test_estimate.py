"""--estimate, tokens in the progress line, --retry-failed: the local engine against the local workspace
over HTTP (real endpoints, real usage figures), through the magic in a real InteractiveShell."""

from __future__ import annotations

import re
import threading
import uuid

import pandas as pd
import pytest
from IPython.core.error import UsageError
from test_magics import point_at, shell  # noqa: F401  (the fixture)

from agent_magics.sql.estimate import Sampler, estimate
from agent_magics.sql.local_engine import LocalOptions, run_local


class CountingInvoker:
    """The real workspace invoker, counting the requests that leave the process."""

    def __init__(self, inner):
        self.inner = inner
        self.posts = 0
        self._lock = threading.Lock()

    def interface(self, endpoint):
        return self.inner.interface(endpoint)

    def post(self, endpoint, body):
        with self._lock:
            self.posts += 1
        return self.inner.post(endpoint, body)


def questions(n: int) -> pd.DataFrame:
    nonce = uuid.uuid4().hex[:8]  # fresh bodies: the fault endpoints count attempts per distinct body
    return pd.DataFrame({"q": [f"question {i} ({nonce}): what is MLflow?" for i in range(n)]})


def test_only_the_sample_is_sent_and_the_count_is_exact(invoker):
    counting = CountingInvoker(invoker)
    made = []

    def wrap(asker):
        made.append(Sampler(asker, 3))
        return made[0]

    sql = (
        "SELECT q, ai_query('demo-agent', q) AS a, ai_query('demo-agent', q) AS b FROM qs "
        "WHERE q NOT LIKE 'question 7 %'"
    )
    frame = run_local(sql, {"qs": questions(20)}, counting, LocalOptions(concurrency=4, wrap=wrap))
    assert counting.posts == 3  # 3 sent of the 38 requests the statement makes (19 rows x 2 calls)
    figures = estimate(made[0], 4, 0.5)
    assert figures.requests == 38 and figures.sampled == 3 and figures.sample_failed == 0
    assert figures.tokens_per_request and figures.tokens == round(figures.tokens_per_request * 38)
    assert figures.seconds == 10 * figures.seconds_per_request  # ceil(38 / 4) waves
    assert figures.cost == pytest.approx(figures.tokens / 1000 * 0.5)
    assert frame["a"].isna().sum() + frame["b"].isna().sum() == 35  # the unsent ones are NULL, never made up


def test_estimate_through_the_magic(shell, capsys):  # noqa: F811
    shell.user_ns["qs"] = questions(50)
    figures = shell.run_cell_magic(
        "agent_sql",
        "--quiet --estimate --sample 4 --concurrency 10 --price-per-1k-tokens 0.002",
        "SELECT ai_query('demo-agent', q) AS a FROM qs",
    )
    row = figures.iloc[0]
    assert row["requests"] == 50 and row["sampled"] == 4 and row["concurrency"] == 10
    assert row["tokens"] > 0 and row["cost"] == pytest.approx(row["tokens"] / 1000 * 0.002)
    line = capsys.readouterr().out
    assert line.startswith("agent_sql --estimate: 50 ai_query requests · ~") and "at --concurrency 10" in line
    assert "from 4 sampled requests" in line


def test_estimate_mistakes_are_one_line(shell):  # noqa: F811
    for line, fragment in [
        ("--estimate SELECT 1 AS x", "calls no ai_query"),
        ("--estimate --sample 0 SELECT ai_query('demo-agent', 'x')", "--sample must be 1 or more"),
        ("--estimate --engine warehouse SELECT ai_query('demo-agent', 'x')", "--estimate runs on the local engine"),
        ("--estimate --into t SELECT ai_query('demo-agent', 'x')", "--estimate writes nothing"),
        ("--price-per-1k-tokens -1 --estimate SELECT ai_query('demo-agent', 'x')", "must be 0 or more"),
    ]:
        with pytest.raises(UsageError, match=fragment):
            shell.run_line_magic("agent_sql", "--quiet " + line)


def test_progress_line_shows_tokens(shell, capsys):  # noqa: F811
    shell.user_ns["qs"] = questions(3)
    shell.run_line_magic("agent_sql", "SELECT ai_query('demo-agent', q) AS a FROM qs")
    out = capsys.readouterr().out
    assert "ai_query: 3/3 rows · 0 errors · " in out and " tokens · " in out


def test_retry_failed_resends_only_the_failed_requests(shell, capsys):  # noqa: F811
    shell.user_ns["qs"] = questions(4)
    sql = "SELECT q, ai_query('demo-agent', q) AS a, ai_query('fault-503', q, failOnError => false) AS r FROM qs"
    first = shell.run_cell_magic("agent_sql", "--quiet --retries 0 --out answers", sql)
    assert first["r"].map(lambda r: r["errorMessage"] is not None).all()  # fault-503: a 503 on a first attempt
    capsys.readouterr()
    # fault-503 fails the first 2 attempts of a body: attempt 2 fails, its retry (attempt 3) answers
    again = shell.run_line_magic("agent_sql", "--quiet --retries 1 --retry-failed answers --out answers")
    assert capsys.readouterr().out.strip() == "agent_sql --retry-failed: sent 4 requests again, reused 4 answers."
    assert again["r"].map(lambda r: r["errorMessage"] is None and bool(r["result"])).all()
    assert again["a"].tolist() == first["a"].tolist() and again["q"].tolist() == first["q"].tolist()
    with pytest.raises(UsageError, match="not an %agent_sql result with failed rows"):  # nothing failed now
        shell.run_line_magic("agent_sql", "--retry-failed answers")


def test_retry_failed_mistakes(shell):  # noqa: F811
    with pytest.raises(UsageError, match="no variable 'nope'"):
        shell.run_line_magic("agent_sql", "--retry-failed nope")
    shell.user_ns["plain"] = pd.DataFrame({"a": [1]})
    with pytest.raises(UsageError, match="'plain' is not an %agent_sql result"):
        shell.run_line_magic("agent_sql", "--retry-failed plain")
    with pytest.raises(UsageError, match="write no SQL with it"):
        shell.run_line_magic("agent_sql", "--retry-failed plain SELECT 1")


def test_retry_failed_after_a_timeout_sends_only_what_was_not_answered(shell, capsys):  # noqa: F811
    """A stopped statement (--timeout, Ctrl-C) keeps its answers for --retry-failed: the rows already
    answered are not sent, and paid for, again."""
    shell.user_ns["qs"] = questions(12)
    pace = '\'{"tokens": 20, "tokens_per_second": 40}\''  # bench-agent: about 0.5 s an answer
    line = f"--quiet --concurrency 2 --timeout 2 --custom-inputs {pace} --out answers"
    first = shell.run_cell_magic("agent_sql", line, "SELECT q, ai_query('bench-agent', q) AS a FROM qs")
    assert first.attrs.get("agent_sql_status") == "interrupted"
    capsys.readouterr()
    again = shell.run_line_magic("agent_sql", f"--quiet --custom-inputs {pace} --retry-failed answers")
    said = capsys.readouterr().out.strip()
    sent, reused = (int(n) for n in re.findall(r"sent (\d+) requests? again, reused (\d+) answers?", said)[0])
    assert sent + reused == 12 and 1 <= reused <= 10, said
    assert again["a"].map(lambda a: isinstance(a, str) and len(a) > 0).all()
