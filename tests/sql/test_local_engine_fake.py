"""The local engine with an injected invoker: order, concurrency bound, failures, traces, stops."""

from __future__ import annotations

import random
import threading
import time

import pandas as pd
import pyarrow as pa
import pytest

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.sql.execute import BatchFailed
from agent_magics.sql.local_engine import BatchInterrupted, LocalOptions, run_local


class FakeInvoker:
    """Answers ``A:<question>`` after a random short delay; counts requests in flight."""

    def __init__(self, fail=lambda q: False, delay=(0.0, 0.004), interfaces=None):
        self.fail = fail
        self.delay = delay
        self.interfaces = interfaces or {}
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies = []

    def interface(self, endpoint):
        if endpoint == "missing":
            raise AgentError("ai_query endpoint 'missing': HTTP 404: not found.")
        return self.interfaces.get(endpoint, "responses")

    def post(self, endpoint, body):
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.bodies.append(body)
        try:
            time.sleep(random.uniform(*self.delay))
            question = body["input"][0]["content"] if "input" in body else str(body)
            if self.fail(question):
                return f"{endpoint}: HTTP 503: busy. Try again shortly."
            return {
                "output": [
                    {
                        "type": "message",
                        "id": "m",
                        "role": "assistant",
                        "content": [{"type": "output_text", "text": f"A:{question}"}],
                    }
                ],
                "databricks_output": {"trace": {"info": {"trace_id": f"tr-{question}"}}},
            }
        finally:
            with self.lock:
                self.in_flight -= 1


def questions(n: int) -> pd.DataFrame:
    return pd.DataFrame({"i": range(n), "q": [f"q{i}" for i in range(n)]})


def test_row_order_is_kept_and_concurrency_is_bounded():
    fake = FakeInvoker()
    df = questions(3000)  # more than one DuckDB vector (2,048 rows)
    out = run_local("SELECT i, q, ai_query('ep', q) AS a FROM df", {"df": df}, fake, LocalOptions(concurrency=6))
    assert out["i"].tolist() == list(range(3000))
    assert (out["a"] == "A:" + out["q"]).all()
    assert fake.max_in_flight <= 6 and fake.max_in_flight >= 2


def test_fail_on_error_true_fails_naming_the_row_and_reason():
    fake = FakeInvoker(fail=lambda q: q == "q7")
    with pytest.raises(AgentError) as info:
        run_local("SELECT ai_query('ep', q) AS a FROM df", {"df": questions(20)}, fake)
    message = str(info.value)
    assert "failed on row 7" in message and '"q7"' in message and "HTTP 503" in message
    assert "failOnError => false" in message and "\n" not in message


def test_fail_on_error_false_keeps_every_row():
    fake = FakeInvoker(fail=lambda q: int(q[1:]) % 10 == 3)
    out = run_local("SELECT i, ai_query('ep', q, failOnError => false) AS r FROM df", {"df": questions(200)}, fake)
    assert out["i"].tolist() == list(range(200))
    for i, r in zip(out["i"], out["r"]):
        if i % 10 == 3:
            assert r["result"] is None and "HTTP 503" in r["errorMessage"]
        else:
            assert r["result"] == r["response"] == f"A:q{i}" and r["errorMessage"] is None


def test_error_rows_can_be_filtered_in_sql():
    fake = FakeInvoker(fail=lambda q: q in ("q1", "q4"))
    out = run_local(
        "SELECT q FROM (SELECT q, ai_query('ep', q, failOnError => false) AS r FROM df) "
        "WHERE r.errorMessage IS NOT NULL ORDER BY q",
        {"df": questions(6)},
        fake,
    )
    assert out["q"].tolist() == ["q1", "q4"]


def test_null_requests_give_null_without_a_request():
    fake = FakeInvoker()
    df = pd.DataFrame({"q": ["a", None, "b"]})
    out = run_local("SELECT ai_query('ep', q) AS a FROM df", {"df": df}, fake)
    assert out["a"].tolist()[0] == "A:a" and pd.isna(out["a"][1]) and len(fake.bodies) == 2


def test_trace_column_pairs_each_row_with_its_trace_even_for_repeated_requests():
    fake = FakeInvoker()
    df = pd.DataFrame({"q": ["x", "y", "x", "z"] * 50})
    out = run_local(
        "SELECT q, ai_query('ep', q) AS a FROM df", {"df": df}, fake, LocalOptions(concurrency=8, return_trace=True)
    )
    assert [t["info"]["trace_id"] for t in out["trace"]] == [f"tr-{q}" for q in out["q"]]
    assert all(b.get("databricks_options") == {"return_trace": True} for b in fake.bodies)


def test_custom_inputs_go_with_every_request():
    fake = FakeInvoker()
    run_local(
        "SELECT ai_query('ep', q) AS a FROM df", {"df": questions(5)}, fake, LocalOptions(custom_inputs={"id": 5})
    )
    assert [b["custom_inputs"] for b in fake.bodies] == [{"id": 5}] * 5


def test_arrow_tables_and_case_insensitive_names():
    fake = FakeInvoker()
    table = pa.table({"q": ["a", "b"]})
    out = run_local("SELECT ai_query('ep', q) AS a FROM Questions", {"questions": table}, fake)
    assert out["a"].tolist() == ["A:a", "A:b"]


def test_plain_sql_needs_no_endpoint():
    out = run_local("SELECT sum(i) AS s FROM df", {"df": questions(10)}, FakeInvoker())
    assert out["s"].tolist() == [45]


def test_errors_are_clean():
    fake = FakeInvoker()
    with pytest.raises(AgentError, match="no DataFrame named nope"):
        run_local("SELECT * FROM nope", {}, fake)
    with pytest.raises(AgentError, match="endpoint 'missing'"):
        run_local("SELECT ai_query('missing', 'x')", {}, fake)
    with pytest.raises(AgentError, match=r"^SQL error \(local DuckDB engine\): Binder Error"):
        run_local("SELECT nope FROM df", {"df": questions(1)}, fake)
    with pytest.raises(AgentUsageError, match="UNSUPPORTED_ENDPOINT_TYPE"):
        run_local("SELECT ai_query('ep', 'x', modelParameters => named_struct('temperature', 0))", {}, fake)


def test_timeout_stops_and_returns_what_finished():
    fake = FakeInvoker(delay=(0.05, 0.05))
    with pytest.raises(BatchInterrupted) as info:
        run_local(
            "SELECT q, ai_query('ep', q) AS a, upper(q) AS shout FROM df",
            {"df": questions(400)},
            fake,
            LocalOptions(concurrency=4, timeout=0.5),
        )
    stopped = info.value
    assert "timed out" in str(stopped) and "cancelled" in str(stopped)
    partial = stopped.partial
    # the statement's own columns and every one of its rows; the unanswered ai_query values are NULL
    assert list(partial.columns) == ["q", "a", "shout"] and len(partial) == 400
    answered = partial[partial["a"].notna()]
    assert 0 < len(answered) < 400 and (answered["a"] == "A:" + answered["q"]).all()
    assert partial["a"].isna().sum() == partial.attrs["agent_sql_unanswered"]
    assert (partial["shout"] == partial["q"].str.upper()).all()
    time.sleep(0.2)
    assert len(fake.bodies) < 400  # the queued rows were dropped, not sent


def test_cancel_event_stops_a_running_statement():
    fake = FakeInvoker(delay=(0.05, 0.05))
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(BatchInterrupted, match="cancelled"):
        run_local(
            "SELECT ai_query('ep', q) AS a FROM df",
            {"df": questions(1000)},
            fake,
            LocalOptions(concurrency=4, cancel=cancel),
        )
    assert time.monotonic() - started < 3


def test_keyboard_interrupt_in_the_waiting_thread_reports_partial(monkeypatch):
    fake = FakeInvoker(delay=(0.02, 0.02))
    calls = {"n": 0}

    def tick(batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(BatchInterrupted, match="interrupted") as info:
        run_local(
            "SELECT ai_query('ep', q) AS a FROM df",
            {"df": questions(2000)},
            fake,
            LocalOptions(concurrency=4),
            tick=tick,
        )
    partial = info.value.partial
    assert list(partial.columns) == ["a"] and len(partial) == 2000
    assert 0 < partial["a"].notna().sum() < 2000


def test_a_stop_under_fail_on_error_false_marks_the_unanswered_rows():
    fake = FakeInvoker(delay=(0.05, 0.05), fail=lambda q: q == "q1")
    with pytest.raises(BatchInterrupted) as info:
        run_local(
            "SELECT q, ai_query('ep', q, failOnError => false) AS r FROM df",
            {"df": questions(200)},
            fake,
            LocalOptions(concurrency=4, timeout=0.5),
        )
    partial = info.value.partial
    assert list(partial.columns) == ["q", "r"] and len(partial) == 200
    rows = dict(zip(partial["q"], partial["r"]))
    assert "HTTP 503" in rows["q1"]["errorMessage"]  # a real failure keeps its own message
    assert rows["q0"] == {"result": "A:q0", "errorMessage": None, "response": "A:q0"}
    unanswered = [r for r in partial["r"] if r["errorMessage"] == "not answered (stopped)"]
    assert len(unanswered) == partial.attrs["agent_sql_unanswered"] > 0
    assert all(r["result"] is None for r in unanswered)


def test_a_row_failure_keeps_the_rows_that_finished():
    """failOnError => true: the first failure stops the statement (as on Databricks); what finished is kept."""
    fake = FakeInvoker(delay=(0.01, 0.01), fail=lambda q: q == "q30")
    with pytest.raises(BatchFailed) as info:
        run_local("SELECT q, ai_query('ep', q) AS a FROM df", {"df": questions(100)}, fake, LocalOptions(concurrency=2))
    assert "failed on row 30" in str(info.value) and "failOnError => false" in str(info.value)
    partial = info.value.partial
    assert list(partial.columns) == ["q", "a"] and len(partial) == 100
    assert partial.loc[partial["q"] == "q0", "a"].item() == "A:q0"
    assert partial.loc[partial["q"] == "q30", "a"].isna().item()
