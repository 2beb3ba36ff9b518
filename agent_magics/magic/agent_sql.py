"""``%agent_sql`` / ``%%agent_sql``: parse, interpolate, run on an engine, return the DataFrame.

Registered by ``agent_magics.load_ipython_extension`` as ``AgentSqlMagics``. No HTTP and no SQL
engine code here: ``run.run_sql`` does the work and is usable without IPython.
"""

from __future__ import annotations

import sys
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from agent_magics.core.errors import AgentUsageError
from agent_magics.core.secrets import redact
from agent_magics.magic.errors import configured_debug, usage_errors
from agent_magics.magic.interpolate import interpolate_sql
from agent_magics.magic.notice import notice


@magics_class
class AgentSqlMagics(Magics):
    """Run Databricks ``ai_query(...)`` SQL: locally (DuckDB), on a SQL warehouse, or on Spark."""

    @no_var_expand
    @line_cell_magic
    def agent_sql(self, line: str, cell: str | None = None) -> Any:
        from agent_magics.magic.sql_command import parse_cell, parse_line

        namespace = self.shell.user_ns if self.shell is not None else {}
        with usage_errors("agent_sql: ") as guard:
            command = parse_cell(line, cell, namespace) if cell is not None else parse_line(line, namespace)
            guard.debug = command.debug or configured_debug(self.shell)
            return self._run(command, namespace)
        return None  # --help was shown

    def _run(self, command: Any, namespace: dict[str, Any]) -> Any:
        from dataclasses import replace

        from agent_magics.sql.execute import BatchFailed, BatchInterrupted, run_sql

        if command.retry_failed is not None:  # the earlier statement, as it ran (sql/retry_failed.py)
            from agent_magics.sql.retry_failed import recall

            if command.sql.strip():
                raise AgentUsageError("--retry-failed runs the earlier statement again: write no SQL with it.")
            memo = recall(command.retry_failed, namespace)
            sql, options = memo.sql, replace(command.options, parameters=memo.parameters, retry_failed=memo)
        else:
            # {name} is a value bound as a named parameter on every engine: never pasted into the SQL
            filled = interpolate_sql(command.sql, namespace)
            sql, missing = filled.sql, filled.missing
            if missing:
                notice(f"not found in the notebook, left as written: {', '.join('{' + m + '}' for m in missing)}")
            if not sql.strip():
                raise AgentUsageError("no SQL: write %agent_sql SELECT ... or put the query under %%agent_sql.")
            options = replace(command.options, parameters=filled.parameters or None)
        try:
            frame = run_sql(sql, namespace, options)
        except BatchInterrupted as stopped:
            # Like %%agent's failed or interrupted answer: one line saying what happened, and what
            # finished kept as the cell's value (and --out), not an exception that would stop Run All.
            # The statement's own columns; frame.attrs["agent_sql_status"] says it did not complete.
            status = "failed" if isinstance(stopped, BatchFailed) else "interrupted"
            said = redact(str(stopped))
            print(f"agent_sql: {said}" if said.startswith(status) else f"agent_sql: {status} · {said}", file=sys.stderr)
            frame = stopped.partial
            if hasattr(frame, "attrs"):
                frame.attrs.update(agent_sql_status=status, agent_sql_error=said)
        if command.out:
            namespace[command.out] = frame
        return frame


def _doc() -> str:
    from agent_magics.magic.sql_command import help_text

    return help_text()


AgentSqlMagics.agent_sql.__doc__ = _doc()
