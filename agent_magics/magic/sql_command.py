"""Option parsing for ``%agent_sql`` / ``%%agent_sql``: one object owns the command line."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent_magics.core.defaults import ESTIMATE_SAMPLE
from agent_magics.core.errors import AgentUsageError
from agent_magics.magic.command import _Parser, add_shared_options, check_common, json_option, split_line, split_options
from agent_magics.sql.execute import ENGINES, MAX_CONCURRENCY, SqlOptions

EXAMPLES = """\
Examples:
  %agent_sql SELECT ai_query("demo-agent", question) FROM (VALUES ('what is MLflow?')) AS t(question)

  %%agent_sql --out answers --concurrency 16
  SELECT question, ai_query('demo-agent', question, failOnError => false) AS r
  FROM questions                <- a pandas DataFrame in the notebook, queried by its name

  %%agent_sql --engine warehouse --warehouse 1234567890abcdef
  SELECT ai_query('my-agent', q) FROM main.default.questions

  %%agent_sql --engine warehouse --into main.default.answers   <- the answers stay in the table;
  SELECT id, ai_query('my-agent', q, failOnError => false) AS r     a one-row summary comes back
  FROM main.default.questions

  %%agent_sql --estimate --price-per-1k-tokens 0.002          <- 5 requests sent, the rest counted
  SELECT ai_query('demo-agent', question) AS a FROM questions

  %agent_sql --retry-failed answers                           <- re-send only the rows that failed in `answers`

  %agent_sql --return-trace SELECT ai_query('demo-agent', '{topic}') AS a   <- {name} from the notebook,
                                                                       bound as a value, never SQL
"""


def build_parser(prog: str = "%agent_sql") -> _Parser:
    parser = _Parser(
        prog=prog,
        description="Run Databricks SQL with ai_query(...): locally over the notebook's DataFrames (DuckDB), "
        "on a SQL warehouse, or on the notebook's Spark session. The result is a pandas DataFrame.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="auto (default): Spark inside Databricks, else a configured warehouse, else local",
    )
    parser.add_argument(
        "--warehouse",
        metavar="ID",
        help="SQL warehouse id (default: $DATABRICKS_WAREHOUSE_ID or the profile's warehouse_id)",
    )
    parser.add_argument(
        "--concurrency", metavar="N", type=int, help="ai_query requests in flight at once (local engine; default 8)"
    )
    parser.add_argument(
        "--custom-inputs", metavar="JSON|NAME", help="custom_inputs sent with every row's request (local engine)"
    )
    parser.add_argument(
        "--return-trace", action="store_true", help="add a trace column with each row's MLflow trace (local engine)"
    )
    parser.add_argument("--stream", action="store_true", help="show rows in a live table as they finish")
    parser.add_argument("--profile", metavar="NAME", help="Databricks config profile (~/.databrickscfg)")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, help="time limit for the whole statement")
    parser.add_argument(
        "--retries",
        metavar="N",
        type=int,
        default=3,
        help="retries of 429/503/connection errors per request (local engine; default 3)",
    )
    parser.add_argument(
        "--into",
        metavar="TABLE",
        help="write the result with CREATE TABLE TABLE AS ... on the warehouse or Spark and return a summary "
        "(table, rows_written, failed_rows): for results too big to bring to the notebook",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="send only --sample requests and print, for the whole input, requests, tokens, time and cost "
        "(local engine)",
    )
    parser.add_argument(
        "--sample",
        metavar="N",
        type=int,
        default=ESTIMATE_SAMPLE,
        help=f"requests --estimate sends (default {ESTIMATE_SAMPLE})",
    )
    parser.add_argument(
        "--price-per-1k-tokens", metavar="PRICE", type=float, help="--estimate's cost: price of 1,000 tokens"
    )
    parser.add_argument(
        "--retry-failed",
        metavar="NAME",
        help="run the statement of the earlier result NAME (its --out) again, re-sending only its failed "
        "requests (local engine; write no SQL)",
    )
    add_shared_options(parser, result="the DataFrame", hides="progress display")
    return parser


@dataclass
class SqlCommand:
    sql: str
    options: SqlOptions
    out: str | None
    debug: bool
    retry_failed: str | None = None  # the variable holding the earlier result


def parse_line(line: str, namespace: Mapping[str, Any]) -> SqlCommand:
    """``%agent_sql [options] SQL``: options first, then the SQL exactly as typed."""
    parser = build_parser("%agent_sql")
    options, sql = split_options(line, parser)
    return _to_command(parser.parse_args(split_line(options)), sql, namespace)


def parse_cell(line: str, cell: str, namespace: Mapping[str, Any]) -> SqlCommand:
    """``%%agent_sql [options]`` with the SQL as the cell body."""
    parser = build_parser("%%agent_sql")
    return _to_command(parser.parse_args(split_line(line)), cell, namespace)


def _to_command(args: argparse.Namespace, sql: str, namespace: Mapping[str, Any]) -> SqlCommand:
    if args.concurrency is not None and not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise AgentUsageError(f"--concurrency must be between 1 and {MAX_CONCURRENCY}.")
    check_common(args)
    if args.retries < 0:
        raise AgentUsageError("--retries must be 0 or more.")
    options = SqlOptions(
        engine=args.engine,
        warehouse=args.warehouse,
        concurrency=args.concurrency,
        custom_inputs=json_option("--custom-inputs", args.custom_inputs, namespace),
        return_trace=args.return_trace,
        stream=args.stream,
        profile=args.profile,
        timeout=args.timeout,
        retries=args.retries,
        progress="none" if args.quiet else "auto",
        into=args.into,
        estimate=args.estimate,
        sample=args.sample,
        price_per_1k_tokens=args.price_per_1k_tokens,
    )
    return SqlCommand(sql=sql.strip(), options=options, out=args.out, debug=args.debug, retry_failed=args.retry_failed)


def help_text() -> str:
    return build_parser().format_help()
