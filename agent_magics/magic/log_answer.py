"""``%%agent ... --log``: hand the answer to ``evaluate.log`` and say in one line where it went.

A failure to log never costs the answer: it is one line under the cell, and the result stays.
"""

from __future__ import annotations

from typing import Any

from agent_magics.magic.notice import notice


def log_to_mlflow(
    result: Any, question: str, workspace: Any, *, debug: bool = False, quiet: bool = False, name_target: bool = False
) -> bool:
    """Log ``result`` as an MLflow trace; a failure or Ctrl-C is a notice (the answer is already kept).
    ``quiet``: no line for a trace logged; ``name_target``: the line names the answer's target (a
    comparison logs one per target). False when Ctrl-C stopped it (log no more)."""
    from agent_magics.core import secrets
    from agent_magics.core.extras import require_extra

    try:
        require_extra("evaluate")
        from agent_magics.evaluate.log import log_answer

        logged = log_answer(result, question, workspace)
    except KeyboardInterrupt:  # starting the tracking server or importing MLflow takes a while
        notice("--log: interrupted; the answer was not logged to MLflow (it is kept: the cell's value and --out).")
        return False
    except Exception as exc:
        if debug:
            raise
        first_line = (str(exc).splitlines() or [""])[0]
        notice(secrets.redact(f"--log: the answer was not logged to MLflow ({type(exc).__name__}: {first_line})."))
        return True
    if not quiet:
        print(logged.notice(result.target if name_target else None), flush=True)
    return True
