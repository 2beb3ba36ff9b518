"""``%%agent A B ...``: the same question to several targets at once, answers side by side.

The comparison path of the ``%%agent`` magic (``agent.py`` hands a command naming several targets
here): the cell's options go to every target, ``TARGET=VALUE`` options to one; ``run.compare``
asks them all at once (one failing does not stop the others; Ctrl-C stops them all, keeping every
partial answer); a comparison view shows them live. No HTTP and no HTML in this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_magics.core.errors import AgentUsageError
from agent_magics.magic import shown_once
from agent_magics.magic.interpolate import interpolate
from agent_magics.magic.notice import notice

if TYPE_CHECKING:
    from agent_magics.core.comparison import AgentComparison
    from agent_magics.magic.agent import AgentMagics
    from agent_magics.magic.command import AgentCommand


def compare_cell(magics: AgentMagics, command: AgentCommand, namespace: dict[str, Any]) -> AgentComparison:
    from agent_magics.run import compare

    targets = command.targets
    question, missing = interpolate(command.question.strip(), namespace)
    if missing:
        notice(f"not found in the notebook, left as written: {', '.join('{' + m + '}' for m in missing)}")
    if not question.strip():
        raise AgentUsageError(f"the question is empty: write it in the cell body under %%agent {' '.join(targets)}.")
    for target in targets:  # a mistyped TARGET is a usage error before anything is sent
        _check_target(target)
    workspaces = {target: magics._workspace(target, command.profile) for target in targets}
    # The same keys as a single-target cell's: --continue goes on with either.
    keys = {t: (workspaces[t].label if workspaces[t] else "url", t) for t in targets}
    histories = {t: magics.conversations.get(keys[t], []) for t in targets} if command.continue_ else {}
    if command.continue_:
        new = [t for t in targets if not histories[t]]
        if new:
            notice(f"--continue: no earlier turn with {', '.join(new)}; starting a new conversation with each.")
    per_target = {target: _options(magics, command, target, workspaces[target]) for target in targets}
    mode = "none" if command.quiet else (command.view or magics.view)
    view = _make_view(mode, targets, magics.update_rate)
    comparison = compare(
        targets,
        question,
        system=command.system,
        per_target=per_target,  # type: ignore[arg-type]  # keys checked by _options
        views=view.views() if view is not None else None,
        histories=histories,
        debug=command.debug or magics.debug,
    )
    if view is not None:
        view.finish(comparison)
    turn = ([{"role": "system", "content": command.system}] if command.system else []) + [
        {"role": "user", "content": question}
    ]
    for result in comparison:
        if not command.quiet:
            magics._show_databricks_trace(result)
        if result.output:  # one conversation per target; a failed answer with no output is not a turn
            history = histories.get(result.target, [])
            magics.conversations[keys[result.target]] = [*history, *turn, *result.output]
    if command.out:  # before --log: an interrupted or failed logging never costs the answers
        namespace[command.out] = comparison
    shown_once.mark(magics.shell, comparison, shown_live=view is not None, hide_once=command.quiet)
    if command.log:
        from agent_magics.magic.log_answer import log_to_mlflow

        for result in comparison:  # a trace per answer, each holding the agent's own
            logging = {"debug": command.debug or magics.debug, "quiet": command.quiet, "name_target": True}
            if not log_to_mlflow(result, question, workspaces[result.target], **logging):
                break
    return comparison


def _check_target(target: str) -> None:
    from agent_magics.transport.targets import parse_target

    parse_target(target)


def _options(magics: AgentMagics, command: AgentCommand, target: str, workspace: Any) -> dict[str, Any]:
    """Everything one target is asked with: the cell's options, its own TARGET=VALUE ones, the traitlets."""
    own = command.options_for(target)
    return {
        "custom_inputs": own.get("custom_inputs"),
        "api": own.get("api") or "auto",
        "via": magics._via(own.get("via")),
        "return_trace": command.log or (magics.return_trace if command.return_trace is None else command.return_trace),
        "databricks_options": command.databricks_options,
        "stream": magics.stream if command.stream is None else command.stream,
        "timeout": command.timeout,
        "token_env": command.token_env,
        "client_library": magics._client_library(),
        "connect_timeout": magics.connect_timeout,
        "read_timeout": magics.read_timeout,
        "max_retries": magics.max_retries,
        "retry_max_wait": magics.retry_max_wait,
        "workspace": workspace,
        "profile": command.profile or magics.profile,
    }


def _make_view(mode: str, targets: list[str], max_rate: float) -> Any:
    if mode == "none":
        return None
    from agent_magics.view.compare_live import make_comparison_view

    return make_comparison_view(mode, targets, max_rate=max_rate)
