"""The one place where the package's plain exceptions become IPython's one-line ``UsageError``.

IPython prints a bare message, no traceback, only for ``UsageError`` itself (``etype is UsageError``),
not for subclasses: so every user mistake and every remote or configuration failure is re-raised as
exactly that. ``--debug`` (or ``%config AgentMagics.debug``) lets the original exception through.
"""

from __future__ import annotations

from types import TracebackType

from IPython.core.error import UsageError

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.core.secrets import redact


def configured_debug(shell: object) -> bool:
    """``%config AgentMagics.debug``, for the magics of the other classes (``%agent_sql``, ``%%agent_eval``)."""
    registry = getattr(getattr(shell, "magics_manager", None), "registry", {})
    return bool(getattr(registry.get("AgentMagics"), "debug", False))


class HelpShown(Exception):
    """``--help`` was printed; nothing else to do."""


class usage_errors:
    """``with usage_errors(prefix) as guard:`` ... set ``guard.debug`` once the options are parsed."""

    def __init__(self, prefix: str = "", *, debug: bool = False) -> None:
        self.prefix = prefix
        self.debug = debug

    def __enter__(self) -> usage_errors:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if exc is None:
            return False
        if isinstance(exc, HelpShown):
            return True  # swallowed: the magic returns None
        if self.debug or not isinstance(exc, Exception):  # KeyboardInterrupt and friends pass
            return False
        if isinstance(exc, (AgentUsageError, AgentError)):
            raise UsageError(redact(str(exc))) from None
        raise UsageError(
            redact(f"{self.prefix}unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)")
        ) from None
