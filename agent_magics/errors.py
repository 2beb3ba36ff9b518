"""Errors the user sees as one clean line (IPython prints a UsageError without a traceback)."""

from __future__ import annotations

from IPython.core.error import UsageError


class AgentUsageError(UsageError):
    """A user mistake: bad option, bad JSON, missing target. The message says what to do."""


class AgentError(UsageError):
    """A remote or configuration failure, already phrased for the user (target + what to do)."""
