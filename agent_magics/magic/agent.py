"""``%%agent`` / ``%agent``: parse, resolve, run, show. No HTTP and no HTML in this module."""

from __future__ import annotations

import os
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Enum, Float, Int, Unicode

from agent_magics.core import defaults
from agent_magics.core.errors import AgentUsageError
from agent_magics.magic import shown_once
from agent_magics.magic.command import AgentCommand, help_text, parse_cell, parse_line
from agent_magics.magic.errors import usage_errors
from agent_magics.magic.interpolate import interpolate
from agent_magics.magic.notice import notice

TARGET_ENV = "AGENT_MAGICS_TARGET"


@magics_class
class AgentMagics(Magics):
    """Query AI agents deployed on Databricks. Configure with ``%config AgentMagics.<name> = ...``."""

    default_target = Unicode(
        None, allow_none=True, help=f"TARGET used when a cell names none (else ${TARGET_ENV})"
    ).tag(config=True)
    stream = Bool(defaults.STREAM, help="stream answers by default").tag(config=True)
    return_trace = Bool(defaults.RETURN_TRACE, help="ask for the MLflow trace by default").tag(config=True)
    profile = Unicode(None, allow_none=True, help="Databricks config profile to use by default").tag(config=True)
    via = Enum(list(defaults.VIA_CHOICES), defaults.VIA, help=defaults.VIA_HELP).tag(config=True)
    client_library = Enum(
        list(defaults.CLIENT_LIBRARY_CHOICES), defaults.CLIENT_LIBRARY, help=defaults.CLIENT_LIBRARY_HELP
    ).tag(config=True)
    view = Enum(
        ["auto", "widget", "display", "stream", "text"],
        "auto",
        help="live view: auto = display outputs in a kernel, text in a terminal; widget = one ipywidgets output; "
        "stream = display outputs whose unfinished block is patched in place (needs anywidget)",
    ).tag(config=True)
    update_rate = Float(15.0, help="maximum live updates per second").tag(config=True)
    connect_timeout = Float(defaults.CONNECT_TIMEOUT, help="seconds to connect").tag(config=True)
    read_timeout = Float(defaults.READ_TIMEOUT, help="seconds without data before giving up").tag(config=True)
    max_retries = Int(defaults.MAX_RETRIES, help="retries of 429/503/connection errors before the first byte").tag(
        config=True
    )
    retry_max_wait = Float(
        defaults.RETRY_MAX_WAIT, help="longest wait between retries, in seconds (caps Retry-After)"
    ).tag(config=True)
    workspace = Enum(["auto", "local"], "auto", help="'local' forces the embedded demo workspace").tag(config=True)
    debug = Bool(False, help="show full tracebacks").tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.conversations: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._start_line: Any = None  # a cold start's "starting the local demo workspace…" line

    @no_var_expand
    @line_cell_magic
    def agent(self, line: str, cell: str | None = None) -> Any:
        namespace = self.shell.user_ns if self.shell is not None else {}
        with usage_errors(debug=self.debug) as guard:
            command = parse_cell(line, cell, namespace) if cell is not None else parse_line(line, namespace)
            guard.debug = guard.debug or command.debug
            self._start_line = self._launch_local_early(command)  # before the heavy imports
            try:
                if command.list:
                    return self._list(command)
                if len(command.targets) > 1:  # %%agent A B ...: side by side (magic/compare.py)
                    from agent_magics.magic.compare import compare_cell

                    return compare_cell(self, command, namespace)
                return self._ask(command, namespace)
            finally:
                if self._start_line is not None:
                    self._start_line.close()
                    self._start_line = None
        return None  # --help was shown

    def _launch_local_early(self, command: AgentCommand) -> Any:
        from agent_magics.magic.cold_start import launch_local_early

        target = None if command.list else (command.target or self.default_target or os.environ.get(TARGET_ENV))
        if not (command.list or target):
            return None  # a usage error follows: nothing to start
        return launch_local_early(self.shell, target, command.profile or self.profile, self.workspace == "local")

    def _ask(self, command: AgentCommand, namespace: dict[str, Any]) -> Any:
        from agent_magics.core.request import Timeouts
        from agent_magics.run import build_request, execute
        from agent_magics.transport.retry import RetryPolicy

        target = command.target or self.default_target or os.environ.get(TARGET_ENV)
        if not target:
            raise AgentUsageError(
                "no TARGET: write %%agent <endpoint | apps/<name> | URL>, or set %config AgentMagics.default_target."
            )
        question, missing = interpolate(command.question.strip(), namespace)
        if missing:
            notice(f"not found in the notebook, left as written: {', '.join('{' + m + '}' for m in missing)}")
        if not question.strip():
            raise AgentUsageError(
                "the question is empty: write it in the cell body under %%agent TARGET, or after the target "
                "on the line (%agent TARGET question; the line form always names its TARGET)."
            )
        view_mode = "none" if command.quiet else (command.view or self.view)
        if self._start_line is not None:  # the local workspace is starting: load the view meanwhile
            from agent_magics.magic.cold_start import prepare_while_starting

            prepare_while_starting(view_mode)
        workspace = self._workspace(target, command.profile)
        key = (workspace.label if workspace else "url", target)
        history = self.conversations.get(key, []) if command.continue_ else []
        if command.continue_ and not history:
            notice(f"--continue: no earlier turn with {target}; starting a new conversation.")
        turn = ([{"role": "system", "content": command.system}] if command.system else []) + [
            {"role": "user", "content": question}
        ]
        total = command.timeout
        request = build_request(
            target,
            history + turn,
            workspace=workspace,
            api=command.api,
            via=self._via(command.via),
            stream=self.stream if command.stream is None else command.stream,
            custom_inputs=command.custom_inputs,
            databricks_options=command.databricks_options,
            return_trace=command.log or (self.return_trace if command.return_trace is None else command.return_trace),
            timeouts=Timeouts(
                connect=self.connect_timeout,
                read=min(self.read_timeout, total) if total else self.read_timeout,
                total=total,
            ),
            token_env=command.token_env,
            client_library=self._client_library(),
        )
        view = self._make_view(view_mode)
        policy = RetryPolicy(max_retries=self.max_retries, max_wait=self.retry_max_wait)
        result = execute(request, workspace, view, policy, debug=command.debug or self.debug)
        if not command.quiet:
            self._show_databricks_trace(result)
        if result.output:
            self.conversations[key] = [*history, *turn, *result.output]
        if command.out:  # before --log: an interrupted or failed logging never costs the answer
            namespace[command.out] = result
        # The view showed it: this cell's value is then a one-line summary; quiet: nothing shown, not
        # even Out[] (still returned and assigned).
        shown_once.mark(self.shell, result, shown_live=not command.quiet, hide_once=command.quiet)
        if command.log:
            from agent_magics.magic.log_answer import log_to_mlflow

            log_to_mlflow(result, question, workspace, debug=command.debug or self.debug, quiet=command.quiet)
        return result

    def _show_databricks_trace(self, result: Any) -> None:
        from agent_magics.view.databricks import trace_bundle

        bundle = trace_bundle(result)
        if bundle is not None:
            from IPython.display import display

            display(bundle, raw=True)

    def _workspace(self, target: str, profile: str | None) -> Any:
        from agent_magics.transport.targets import parse_target
        from agent_magics.transport.workspace import get_workspace

        kind, _ = parse_target(target)
        if kind == "url":
            return None
        notice = self._start_line.replace if self._start_line is not None else print
        return get_workspace(profile or self.profile, prefer_local=self.workspace == "local", notice=notice)

    def _via(self, asked: Any = None) -> Any:
        from agent_magics.run import choose_via

        return choose_via(asked or self.via, self._client_library())

    def _client_library(self) -> Any:
        from agent_magics.run import choose_client_library

        return choose_client_library(self.client_library)

    def _make_view(self, mode: str) -> Any:
        if mode == "none":
            return None
        from agent_magics.view.live import make_view

        return make_view(mode, max_rate=self.update_rate)

    def _list(self, command: AgentCommand) -> Any:
        from agent_magics.magic.listing import list_agents

        workspace = self._workspace("x", command.profile)
        return list_agents(workspace)


AgentMagics.agent.__doc__ = help_text()
