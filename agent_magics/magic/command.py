"""Option parsing for ``%%agent`` / ``%agent``: one object owns the whole command line."""

from __future__ import annotations

import argparse
import builtins
import json
import re
import shlex
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_magics.core import defaults
from agent_magics.core.errors import AgentUsageError
from agent_magics.core.request import is_time_limit
from agent_magics.magic.errors import HelpShown

EXAMPLES = """\
Examples:
  %%agent demo-agent
  What does Databricks do?

  %%agent apps/demo-app --custom-inputs '{"id": 5}'
  Summarise {report}            <- {name} is filled in from the notebook; {{ }} for literal braces

  %%agent demo-agent --return-trace --out answer --no-stream
  Which tools did you use?

  %%agent demo-agent --continue
  And how do I pass custom inputs?

  %agent demo-chat-agent What is MLflow?
  %agent --list

Comparing agents (the same question to each, at the same time, answers side by side):
  %%agent demo-agent demo-chat-agent apps/demo-app --api demo-chat-agent=chat
  What is MLflow?

  %%agent demo-agent apps/demo-app --custom-inputs apps/demo-app='{"id": 5}' --out answers
  What is MLflow?               <- answers is an AgentComparison (answers.to_pandas(), answers.diff())

  %agent demo-agent,demo-chat-agent What is MLflow?     <- line form: the targets joined by commas
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises a clean one-line usage error instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise AgentUsageError(f"{self.prog}: {message}. See {self.prog}? for the options.")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise AgentUsageError(message.strip())
        raise HelpShown


def build_parser(prog: str = "%%agent") -> _Parser:
    parser = _Parser(
        prog=prog,
        description="Ask an AI agent deployed on Databricks (Model Serving endpoint, app, or URL), or several at once.",
        epilog=EXAMPLES
        + "\nSeveral targets:\n"
        + textwrap.fill(defaults.PER_TARGET_HELP, 96, initial_indent="  ", subsequent_indent="  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=True,
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=defaults.TARGETS_HELP)
    stream = parser.add_mutually_exclusive_group()
    stream.add_argument("--stream", dest="stream", action="store_true", default=None, help="stream (default)")
    stream.add_argument("--no-stream", dest="stream", action="store_false", help="wait for the whole answer")
    parser.add_argument(
        "--custom-inputs",
        metavar="[TARGET=]JSON|NAME",
        action="append",
        help="custom_inputs: JSON text or a dict variable (TARGET=...: for that target only)",
    )
    trace = parser.add_mutually_exclusive_group()
    trace.add_argument(
        "--return-trace",
        dest="return_trace",
        action="store_true",
        default=None,
        help="ask for the MLflow trace (databricks_options.return_trace)",
    )
    trace.add_argument("--no-return-trace", dest="return_trace", action="store_false")
    parser.add_argument("--databricks-options", metavar="JSON|NAME", help="databricks_options: JSON or a dict variable")
    parser.add_argument("--profile", metavar="NAME", help="Databricks config profile (~/.databrickscfg)")
    parser.add_argument(
        "--continue",
        dest="continue_",
        action="store_true",
        help="next turn of the conversation with this target (with each)",
    )
    parser.add_argument("--system", metavar="TEXT", help="system prompt for this turn")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, help="total time limit for the answer")
    parser.add_argument(
        "--log", action="store_true", help="log the answer's trace to MLflow (locally: the workspace's MLflow server)"
    )
    # Not argparse choices: a value may be TARGET=VALUE (checked by _choice, saying "invalid choice" too).
    parser.add_argument(
        "--via", metavar=_choices(defaults.VIA_CHOICES), action="append", help=defaults.VIA_HELP + _PER_TARGET
    )
    parser.add_argument(
        "--api", metavar=_choices(defaults.API_CHOICES), action="append", help=defaults.API_HELP + _PER_TARGET
    )
    parser.add_argument(
        "--token-env", metavar="NAME", help="for URL targets: environment variable holding the bearer token"
    )
    parser.add_argument(
        "--view",
        choices=["auto", "widget", "display", "stream", "text"],
        help="how to show the answer live (default: auto = display outputs in a kernel, text in a terminal)",
    )
    add_shared_options(
        parser, result="the AgentResult (AgentComparison for several targets)", hides="display, not even Out[]"
    )
    parser.add_argument("--list", action="store_true", help="list the workspace's agent endpoints and apps")
    return parser


_PER_TARGET = " (TARGET=VALUE: for that target only)"


def add_shared_options(parser: argparse.ArgumentParser, *, result: str, hides: str) -> None:
    """``--out``, ``--quiet`` and ``--debug``, declared once for every magic's parser.

    ``result`` names what the magic returns (what ``--out`` stores), ``hides`` what ``--quiet`` turns off.
    """
    parser.add_argument("--out", metavar="NAME", help=f"store {result} in this variable")
    parser.add_argument("--quiet", action="store_true", help=f"no {hides}; the result is still returned")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")


def _choices(values: tuple[str, ...]) -> str:
    return "{" + ",".join(values) + "}"


@dataclass
class AgentCommand:
    """A parsed ``%%agent`` invocation (before the target is resolved).

    ``targets`` are the TARGETs named (none: the default target; several: a comparison), ``target``
    the first of them. The shared ``custom_inputs`` / ``api`` / ``via`` apply to every target, and
    ``per_target`` holds what ``TARGET=VALUE`` gave one of them; with a single target it is folded
    into the shared values.
    """

    target: str | None
    question: str
    stream: bool | None
    custom_inputs: dict[str, Any] | None
    return_trace: bool | None
    databricks_options: dict[str, Any] | None
    out: str | None
    profile: str | None
    continue_: bool
    system: str | None
    timeout: float | None
    quiet: bool
    via: defaults.ViaChoice | None
    api: defaults.ApiChoice | None
    token_env: str | None
    view: str | None
    debug: bool
    list: bool
    log: bool = False
    # builtins.list: the field "list" above shadows the name in the class body.
    targets: builtins.list[str] = field(default_factory=builtins.list)
    per_target: dict[str, dict[str, Any]] = field(default_factory=dict)

    def options_for(self, target: str) -> dict[str, Any]:
        """The per-target options (``custom_inputs``, ``api``, ``via``) that apply to ``target``."""
        shared = {"custom_inputs": self.custom_inputs, "api": self.api, "via": self.via}
        return {**{k: v for k, v in shared.items() if v is not None}, **self.per_target.get(target, {})}


IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def json_option(name: str, value: str | None, namespace: Mapping[str, Any]) -> dict[str, Any] | None:
    """A JSON-object option: JSON text, or the name of a dict in the user namespace."""
    if value is None:
        return None
    text = value.strip()
    if IDENTIFIER.match(text) and text not in ("null", "true", "false"):
        if text not in namespace:
            raise AgentUsageError(f"{name}: no variable named {text!r}; pass JSON like '{{\"id\": 5}}' or a dict name.")
        found = namespace[text]
        if not isinstance(found, Mapping):
            raise AgentUsageError(f"{name}: {text!r} is a {type(found).__name__}, not a dict.")
        return dict(found)
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AgentUsageError(
            f"{name}: not valid JSON ({exc.msg} at character {exc.pos}); quote it like '{{\"id\": 5}}'."
        ) from None
    except (ValueError, RecursionError) as exc:  # an int of over 4300 digits; nesting deeper than the parser goes
        raise AgentUsageError(
            f"{name}: JSON the parser cannot read ({type(exc).__name__}); pass a dict variable."
        ) from None
    if not isinstance(parsed, dict):
        raise AgentUsageError(f"{name}: expected a JSON object like '{{\"id\": 5}}', got {type(parsed).__name__}.")
    return parsed


_JSON_OPTIONS = ("--custom-inputs", "--databricks-options")
_TARGET_PREFIX = re.compile(r"^[^\s'\"={]+=")  # TARGET= of a per-target value
# A word as the shell rules read it: unquoted runs and quoted strings, joined (--opt="a b" is one).
_WORD = re.compile(r"""(?:[^\s'"]+|'[^']*'|"(?:[^"\\]|\\.)*"|['"])+""")


def check_unquoted_json(line: str) -> None:
    """A JSON object typed without quotes is split at its spaces (and loses its quotes) by the shell
    rules: argparse would then say "unrecognized arguments: 5}". Say to quote it instead.

    Read word by word as typed (a quoted string is one word), so an option's name inside another
    option's quoted value (``--system "use --custom-inputs {id}"``) is not taken for the option."""
    words = _WORD.findall(line)
    for index, word in enumerate(words):
        option, equals, token = word.partition("=")
        if option not in _JSON_OPTIONS:
            continue
        if not equals:
            token = words[index + 1] if index + 1 < len(words) else ""
        token = _TARGET_PREFIX.sub("", token, count=1)
        if not token.startswith("{"):
            continue
        try:
            whole = json.loads(" ".join(shlex.split(token)))
        except ValueError:
            whole = None
        if not isinstance(whole, dict):
            raise AgentUsageError(
                f"{option}: quote the JSON, like {option} '{{\"id\": 5}}', or pass the name of a dict variable."
            )


def split_line(line: str) -> list[str]:
    check_unquoted_json(line)
    try:
        return shlex.split(line, posix=True)
    except ValueError as exc:
        raise AgentUsageError(f"could not parse the options ({exc}); check the quotes.") from None


def parse_cell(line: str, cell: str, namespace: Mapping[str, Any]) -> AgentCommand:
    """Parse ``%%agent <line>`` with ``cell`` as the question."""
    # Intermixed: the TARGETs may come before, between or after the options.
    return _to_command(build_parser("%%agent").parse_intermixed_args(split_line(line)), cell, namespace)


def parse_line(line: str, namespace: Mapping[str, Any]) -> AgentCommand:
    """Parse ``%agent [options] TARGET question...``: the question is the rest of the line, as typed."""
    parser = build_parser("%agent")
    options, rest = split_options(line, parser, positionals=1)
    args = parser.parse_args(split_line(options))
    question = rest
    if not args.targets and not args.list and rest:
        target, _, question = rest.lstrip().partition(" ")
        args.targets = [target]
    return _to_command(args, question.strip(), namespace)


TOKEN = re.compile(r"\s*('(?:[^']*)'|\"(?:[^\"\\]|\\.)*\"|\S+)")


def split_options(line: str, parser: argparse.ArgumentParser, *, positionals: int = 0) -> tuple[str, str]:
    """Cut ``line`` into its leading options (with up to ``positionals`` words, the TARGET) and the free text.

    The free text (a question, SQL) may hold apostrophes and quotes, so it must not go through shlex.
    ``--`` ends the options explicitly.
    """
    takes_value = {opt for action in parser._actions if _takes_value(action) for opt in action.option_strings}
    pos, seen = 0, 0
    while pos < len(line):
        match = TOKEN.match(line, pos)
        if not match:
            break
        token = match.group(1)
        if token == "--":
            return line[: match.start(1)], line[match.end() :]
        if token.startswith("-"):
            pos = match.end()
            if token.split("=", 1)[0] in takes_value and "=" not in token:
                value = TOKEN.match(line, pos)
                if value:
                    pos = value.end()
            continue
        if seen < positionals:
            seen += 1
            pos = match.end()
            continue
        break
    return line[:pos], line[pos:]


def _takes_value(action: argparse.Action) -> bool:
    return (
        bool(action.option_strings)
        and action.nargs != 0
        and not isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._HelpAction))
    )


def check_common(args: argparse.Namespace) -> None:
    """The checks every magic's command line needs: ``--timeout`` positive, ``--out`` a Python name."""
    timeout = getattr(args, "timeout", None)
    if timeout is not None and not is_time_limit(timeout):  # also nan and inf
        raise AgentUsageError("--timeout must be a positive number of seconds.")
    out = getattr(args, "out", None)
    if out is not None and not IDENTIFIER.match(out):
        raise AgentUsageError(f"--out: {out!r} is not a valid Python variable name.")


def split_targets(words: list[str]) -> list[str]:
    """TARGET words as typed, several per word when joined by commas (``demo-agent,apps/demo-app``)."""
    return [name for word in words for name in word.split(",") if name.strip()]


def _per_target(
    option: str, values: list[str] | None, targets: list[str], parse: Callable[[str], Any]
) -> tuple[Any, dict[str, Any]]:
    """``--option VALUE`` (every target) and ``--option TARGET=VALUE`` (that one), each at most once."""
    shared: Any = None
    own: dict[str, Any] = {}
    for value in values or []:
        # The longest target that prefixes the value: an app's or a URL's name may hold '='.
        named = max((t for t in targets if value.startswith(t + "=")), key=len, default=None)
        if named is None:
            if shared is not None:
                raise AgentUsageError(f"{option} is given twice; for one target only, write {option} TARGET=VALUE.")
            shared = parse(value)
        elif named in own:
            raise AgentUsageError(f"{option} {named}=... is given twice.")
        else:
            own[named] = parse(value[len(named) + 1 :])
    return shared, own


def _choice(option: str, choices: tuple[str, ...], targets: list[str]) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value in choices:
            return value
        named, sep, _ = value.rpartition("=")
        if sep and named:
            listed = ", ".join(targets) if targets else "none named in this cell"
            raise AgentUsageError(f"{option} {value}: {named!r} is not one of this cell's targets ({listed}).")
        raise AgentUsageError(
            f"{option}: invalid choice {value!r} (choose from {', '.join(choices)}; TARGET=VALUE for one target)."
        )

    return parse


def _json_value(targets: list[str], namespace: Mapping[str, Any]) -> Callable[[str], dict[str, Any] | None]:
    def parse(value: str) -> dict[str, Any] | None:
        named, sep, _ = value.partition("=")
        if sep and not value.lstrip().startswith("{") and not IDENTIFIER.match(value.strip()):
            listed = ", ".join(targets) if targets else "none named in this cell"
            raise AgentUsageError(f"--custom-inputs: {named!r} is not one of this cell's targets ({listed}).")
        return json_option("--custom-inputs", value, namespace)

    return parse


def _to_command(args: argparse.Namespace, question: str, namespace: Mapping[str, Any]) -> AgentCommand:
    check_common(args)
    targets = split_targets(args.targets)
    if len(set(targets)) != len(targets):
        raise AgentUsageError("name each TARGET once (a target named twice would be asked twice).")
    custom_inputs, own_inputs = _per_target(
        "--custom-inputs", args.custom_inputs, targets, _json_value(targets, namespace)
    )
    api, own_api = _per_target("--api", args.api, targets, _choice("--api", defaults.API_CHOICES, targets))
    via, own_via = _per_target("--via", args.via, targets, _choice("--via", defaults.VIA_CHOICES, targets))
    per_target: dict[str, dict[str, Any]] = {}
    for key, own in (("custom_inputs", own_inputs), ("api", own_api), ("via", own_via)):
        for target, value in own.items():
            per_target.setdefault(target, {})[key] = value
    if len(targets) == 1 and per_target:  # one target: TARGET=VALUE is just its value
        custom_inputs = per_target[targets[0]].get("custom_inputs", custom_inputs)
        api = per_target[targets[0]].get("api", api)
        via = per_target[targets[0]].get("via", via)
        per_target = {}
    return AgentCommand(
        target=targets[0] if targets else None,
        targets=targets,
        per_target=per_target,
        question=question,
        stream=args.stream,
        custom_inputs=custom_inputs,
        return_trace=args.return_trace,
        databricks_options=json_option("--databricks-options", args.databricks_options, namespace),
        out=args.out,
        profile=args.profile,
        continue_=args.continue_,
        system=args.system,
        timeout=args.timeout,
        quiet=args.quiet,
        via=via,
        api=api,
        token_env=args.token_env,
        view=args.view,
        debug=args.debug,
        list=args.list,
        log=args.log,
    )


def help_text() -> str:
    return build_parser().format_help()
