"""Shared pytest fixtures."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from agent_magics.transport.embedded import LocalWorkspace
from agent_magics.transport.workspace import forget_workspaces

try:  # the small venvs that run a few of these tests may not have hypothesis
    from hypothesis import settings
except ImportError:  # pragma: no cover
    pass
else:
    # The suite tries the same examples on every run, so CI's verdict is the code's, not the dice's.
    # `make fuzz` runs the property tests with fresh random examples to find new failing cases.
    settings.register_profile("deterministic", derandomize=True, print_blob=True)
    settings.register_profile("explore", derandomize=False, print_blob=True)
    settings.load_profile(os.environ.get("AGENT_MAGICS_HYPOTHESIS", "deterministic"))


@pytest.fixture(scope="session", autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """The interrupt tests send SIGINT to this process. A runner started in the background without job
    control (``(cmd &)`` in a script, nohup) inherits SIGINT ignored, and Python then installs no
    handler: Ctrl-C would never become KeyboardInterrupt. Give the suite Python's own handler."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="session")
def local_workspace() -> Iterator[LocalWorkspace]:
    """A local Databricks workspace for the whole session: zero streaming pace, fault-hang bounded
    to 3 s. Ambient DATABRICKS_* variables are removed while it runs, so neither a real workspace nor
    a ~/.databrickscfg profile can leak into the tests."""
    with pytest.MonkeyPatch.context() as env:
        for key in [k for k in os.environ if k.startswith("DATABRICKS_")]:
            env.delenv(key)
        with LocalWorkspace(first_token_delay=0, tokens_per_second=0, hang_seconds=3) as workspace:
            yield workspace


@pytest.fixture
def local_workspace_env(local_workspace: LocalWorkspace, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalWorkspace]:
    """The default workspace (no profile, no host given) is the session's local workspace, by its
    DATABRICKS_* variables (OAuth M2M); no ~/.databrickscfg. The workspace cache is fresh on both sides."""
    for name in [k for k in os.environ if k.startswith("DATABRICKS_")]:
        monkeypatch.delenv(name)
    for name, value in local_workspace.env(auth="oauth").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
    forget_workspaces()
    yield local_workspace
    forget_workspaces()


@pytest.fixture
def shell(local_workspace_env: LocalWorkspace) -> Iterator[Any]:
    """A real InteractiveShell with agent_magics loaded, pointed at the local workspace (OAuth)."""
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "agent_magics")
    ip.run_line_magic("config", "AgentMagics.view = 'text'")
    # Pinned: "auto" depends on whether another test already imported databricks_openai
    ip.run_line_magic("config", "AgentMagics.client_library = 'openai'")
    magics = ip.magics_manager.registry["AgentMagics"]
    magics.conversations.clear()
    yield ip
