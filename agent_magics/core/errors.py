"""The two kinds of failure the package raises, as plain exceptions (no IPython here).

The magics turn both into one-line IPython ``UsageError``s (``magic/errors.py``); from plain Python
they are ordinary exceptions whose message already says what to do.
"""

from __future__ import annotations


class AgentUsageError(ValueError):
    """A user mistake: bad option, bad JSON, missing target. The message says what to do."""


class AgentError(RuntimeError):
    """A remote or configuration failure, already phrased for the user (target + what to do)."""
