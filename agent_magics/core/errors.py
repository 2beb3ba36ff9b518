"""The two kinds of failure the package raises, as plain exceptions (no IPython here).

The magics turn both into one-line IPython ``UsageError``s (``magic/errors.py``); from plain Python
they are ordinary exceptions whose message already says what to do.
"""

from __future__ import annotations

from typing import Any


class _Redacted(Exception):
    """Its message never holds a secret the process knows: it may quote a server's reply (which can
    echo the request's headers), and it reaches tracebacks, results, MLflow spans and notebooks."""

    def __init__(self, *args: Any) -> None:
        from agent_magics.core.secrets import redact_value  # secrets imports this module

        super().__init__(*(redact_value(arg) for arg in args))


class AgentUsageError(_Redacted, ValueError):
    """A user mistake: bad option, bad JSON, missing target. The message says what to do."""


class AgentError(_Redacted, RuntimeError):
    """A remote or configuration failure, already phrased for the user (target + what to do)."""
