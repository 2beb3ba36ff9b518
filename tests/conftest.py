"""Shared pytest fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from agent_magics.local import LocalWorkspace


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
