"""``%%agent_eval TARGET [TARGET ...] --data NAME [--scorers a,b] [--judge ENDPOINT] [--out NAME]``.

Evaluates agents over a DataFrame in the notebook with MLflow GenAI evaluation; the cell body, if
any, is guidelines text for the ``guidelines`` judge. The work is ``evaluate.engine.evaluate``; this
module parses, looks names up in the notebook and shows the scorecard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from agent_magics.core import defaults
from agent_magics.core.errors import AgentUsageError
from agent_magics.magic import shown_once
from agent_magics.magic.command import _Parser, add_shared_options, check_common, split_line
from agent_magics.magic.errors import configured_debug, usage_errors


def _parser() -> _Parser:
    parser = _Parser(
        prog="%%agent_eval",
        description=(
            "Evaluate agents over a DataFrame in the notebook with MLflow GenAI evaluation. The cell "
            "body, if any, is the guidelines for the guidelines judge (one per line)."
        ),
    )
    parser.add_argument("targets", nargs="+", metavar="TARGET", help="endpoints or apps/<name> to evaluate")
    parser.add_argument("--data", metavar="NAME", required=True, help="a DataFrame with a question (or inputs) column")
    parser.add_argument(
        "--scorers",
        metavar="a,b,...",
        help="MLflow judges, tool_called:NAME, latency_under:SECONDS, or @scorer functions in the notebook "
        "(default: what the data allows)",
    )
    parser.add_argument(
        "--judge", metavar="ENDPOINT", help="chat endpoint for MLflow's judges (default: demo-judge, locally)"
    )
    parser.add_argument(
        "--experiment",
        metavar="NAME",
        help=f"MLflow experiment (default: {defaults.EVAL_EXPERIMENT}; tracking to Databricks: the active one)",
    )
    parser.add_argument("--timeout", metavar="SECONDS", type=float, help="time limit for each answer")
    parser.add_argument("--profile", metavar="NAME", help="Databricks config profile (~/.databrickscfg)")
    add_shared_options(parser, result="the EvalResult", hides="progress line or scorecard")
    return parser


def help_text() -> str:
    return _parser().format_help()


@dataclass(frozen=True)
class EvalCommand:
    targets: list[str]
    data: str
    scorers: list[str] | None
    judge: str | None
    out: str | None
    experiment: str | None
    timeout: float | None
    profile: str | None
    quiet: bool
    debug: bool
    guidelines: str | None


def parse(line: str, cell: str | None) -> EvalCommand:
    args = _parser().parse_args(split_line(line))  # --help: printed, then HelpShown
    check_common(args)  # --timeout a positive number, --out a Python name, as for the other magics
    scorers = [s.strip() for s in args.scorers.split(",") if s.strip()] if args.scorers else None
    guidelines = cell if cell is not None and cell.strip() else None
    return EvalCommand(
        args.targets,
        args.data,
        scorers,
        args.judge,
        args.out,
        args.experiment,
        args.timeout,
        args.profile,
        args.quiet,
        args.debug,
        guidelines,
    )


@magics_class
class AgentEvalMagics(Magics):
    """Evaluate agents over a dataset with MLflow's judges and our code scorers."""

    @no_var_expand
    @line_cell_magic
    def agent_eval(self, line: str, cell: str | None = None) -> Any:
        namespace = self.shell.user_ns if self.shell is not None else {}
        with usage_errors("agent_eval: ") as guard:
            command = parse(line, cell)
            guard.debug = command.debug or configured_debug(self.shell)
            return self._run(command, namespace)
        return None

    def _run(self, command: EvalCommand, namespace: dict[str, Any]) -> Any:
        from agent_magics.evaluate.engine import evaluate
        from agent_magics.view.progress import Progress

        if command.data not in namespace:
            raise AgentUsageError(f"--data {command.data}: no such variable in the notebook (a pandas DataFrame).")
        options: dict[str, Any] = {}
        if command.timeout is not None:
            options["timeout"] = command.timeout
        if command.profile is not None:
            options["profile"] = command.profile
        result = evaluate(
            command.targets,
            namespace[command.data],
            scorers=command.scorers,
            judge=command.judge,
            guidelines=command.guidelines,
            namespace=namespace,
            experiment=command.experiment,
            progress=None if command.quiet else Progress(label="agent_eval"),
            data_name=command.data,
            **options,
        )
        shown_once.mark(self.shell, result, hide_once=command.quiet)  # quiet: no Out[] either (still returned)
        if command.out:
            namespace[command.out] = result
        return result


AgentEvalMagics.agent_eval.__doc__ = help_text()
