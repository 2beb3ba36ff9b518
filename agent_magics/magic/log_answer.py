"""``%%agent ... --log``: hand the answer to ``evaluate.log`` and say in one line where it went.

A failure to log never costs the answer: it is one line under the cell, and the result stays.
"""

from __future__ import annotations

from typing import Any

from agent_magics.magic.notice import notice


def log_to_mlflow(result: Any, question: str, workspace: Any, *, debug: bool = False) -> None:
    from agent_magics.core import secrets
    from agent_magics.core.extras import require_extra

    try:
        require_extra("evaluate")
        from agent_magics.evaluate.log import log_answer

        logged = log_answer(result, question, workspace)
    except Exception as exc:
        if debug:
            raise
        first_line = (str(exc).splitlines() or [""])[0]
        notice(secrets.redact(f"--log: the answer was not logged to MLflow ({type(exc).__name__}: {first_line})."))
        return
    print(logged.notice(), flush=True)
