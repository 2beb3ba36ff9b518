"""``%agent_sql`` in a real kernel: what a failed, a stopped and a failOnError => false statement show."""

from __future__ import annotations

from kernel_helpers import Kernel

QUESTIONS = "import pandas as pd\nqs = pd.DataFrame({'q': ['What is MLflow?', 'What is ai_query?']})"


def test_a_remote_failure_is_one_line_and_keeps_the_querys_rows(kernel: Kernel) -> None:
    kernel.run(QUESTIONS)
    out = kernel.run(
        "%%agent_sql --quiet --out got\n"
        "SELECT q, ai_query('demo-agent', q) AS good, ai_query('fault-500', q) AS bad FROM qs"
    )
    assert not out.errors, out.errors  # no exception: the next cells of Run All still run
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agent_sql: failed · ai_query('fault-500') failed on row"), lines
    assert "HTTP 500" in lines[0] and "failOnError => false" in lines[0]
    html = out.results[0]["text/html"]
    assert ">good</th>" in html and ">bad</th>" in html and "What is MLflow?" in html
    assert kernel.value("[got.attrs['agent_sql_status'], list(got.columns), len(got)]") == [
        "failed",
        ["q", "good", "bad"],
        2,
    ]


def test_a_timeout_returns_the_querys_columns_with_unanswered_rows_marked(kernel: Kernel) -> None:
    out = kernel.run(
        "%%agent_sql --quiet --timeout 1 --concurrency 1 --out stopped\n"
        "SELECT id, ai_query('bench-agent', named_struct('input', array(named_struct('role', 'user', "
        "'content', concat('q', id))), 'custom_inputs', named_struct('first_token_delay', 0.4, 'tokens', 2)), "
        "failOnError => false) AS r FROM range(12) AS t(id)"
    )
    assert not out.errors, out.errors
    assert out.stderr.startswith("agent_sql: interrupted · timed out after 1 s: ") and out.stderr.count("\n") == 1
    html = out.results[0]["text/html"]
    assert ">id</th>" in html and ">r</th>" in html and ">endpoint</th>" not in html
    assert "errorMessage: not answered (stopped)" in html
    unanswered = kernel.value("[stopped.attrs['agent_sql_unanswered'], len(stopped)]")
    assert 0 < unanswered[0] < 12 and unanswered[1] == 12


def test_fail_on_error_false_structs_show_as_answers_and_errors(kernel: Kernel) -> None:
    kernel.run(QUESTIONS)
    out = kernel.run(
        "%%agent_sql --quiet --out checked\nSELECT q, ai_query('demo-agent', q, failOnError => false) AS ok, "
        "ai_query('fault-500', q, failOnError => false) AS bad FROM qs"
    )
    assert not out.errors and not out.stderr.strip(), (out.errors, out.stderr)
    html, plain = out.results[0]["text/html"], out.results[0]["text/plain"]
    for shown in (html, plain):
        assert "{'result'" not in shown and "{&#x27;result" not in shown
        assert shown.count("errorMessage: fault-500: HTTP 500") == 2
    assert "MLflow is an open-source platform" in html
    # the data stays a struct
    assert kernel.value("sorted(checked.loc[0, 'bad'])") == ["errorMessage", "response", "result"]
