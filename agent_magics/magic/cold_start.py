"""A cold first cell on the embedded workspace: say so at once, and start the server early.

With no workspace configured, the first ``%%agent`` cell starts the local demo workspace, a process
that needs ~2 s to import MLflow and bind its ports, while the cell's own imports (databricks-sdk,
the views) take ~1-2 s more. Launched first, the server starts while the kernel imports; and one line
under the cell ("starting the local demo workspace…") says what the wait is. The line is a display
that the banner naming the workspace replaces once it is up (or that is emptied if the cell fails
first), so it never stays in a saved notebook.
"""

from __future__ import annotations

import sys
import time
from typing import Any

STARTING = "agent_magics: starting the local demo workspace…"


class StartLine:
    """The one-line display of a cold start, replaced in place (a kernel) or printed (a terminal)."""

    def __init__(self, shell: Any) -> None:
        self._handle: Any = None
        self._open = True
        self.started = time.monotonic()
        if getattr(shell, "kernel", None) is not None:  # a Jupyter kernel: an output that can be replaced
            from IPython.display import display

            self._handle = display({"text/plain": STARTING}, raw=True, display_id=True)
        else:
            print(STARTING, file=sys.stderr, flush=True)

    def replace(self, message: str) -> None:
        """Show ``message`` (the banner) in the line's place, with how long the start-up took."""
        message = f"{message} (started in {time.monotonic() - self.started:.1f} s)"
        if self._handle is not None and self._open:
            self._handle.update({"text/plain": message}, raw=True)
        else:
            print(message, flush=True)
        self._open = False

    def close(self) -> None:
        """Empty the line if nothing replaced it (the cell failed before the workspace was up)."""
        if self._handle is not None and self._open:
            self._handle.update({"text/plain": ""}, raw=True)
        self._open = False


def launch_local_early(shell: Any, target: str | None, profile: str | None, force_local: bool) -> StartLine | None:
    """Start the embedded workspace's process now if this cell is going to need it; None otherwise.

    Only when no workspace is configured (or ``%config AgentMagics.workspace = "local"``), no
    profile is named, the target is not a URL, and the workspace is not already up.
    """
    if profile or (target or "").startswith(("http://", "https://")):
        return None
    from agent_magics.transport import embedded

    if embedded.shared_workspace_ready():
        return None
    from agent_magics.transport.workspace import workspace_configured

    if not force_local and workspace_configured():
        return None
    line = StartLine(shell)
    try:
        embedded.launch_shared_workspace()
    except BaseException:
        line.close()
        raise
    return line


def prepare_while_starting(view_mode: str) -> None:
    """What the cell will need once the workspace is up, loaded while it starts: the view's modules,
    httpx's connection pool (httpcore, anyio: imported by the first transport) and the TLS context.
    ~0.4 s that would otherwise come between the workspace being up and the first answer."""
    from agent_magics.transport.http import warm_up as warm_up_http
    from agent_magics.view.live import warm_up as warm_up_view

    warm_up_http()
    warm_up_view(view_mode)
