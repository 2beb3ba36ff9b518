"""A real ipykernel (jupyter_client) pointed at the session's local workspace, for what a user sees.

One kernel per test module: ``%load_ext agent_magics`` and the text view are set once. ``run()``
returns every output message of one cell (stream text, display data, the cell's Out[] value,
errors, help pages), so a test can say exactly what the user would see under the cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kernel_helpers import Kernel, kernel_env


@pytest.fixture(scope="module")
def kernel(local_workspace: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """A kernel with agent_magics loaded, the text view, on the session's local workspace (OAuth)."""
    started = Kernel(kernel_env(tmp_path_factory.mktemp("kernel"), local_workspace))
    setup = started.run(
        "%load_ext agent_magics\n%config AgentMagics.view = 'text'\n%config AgentMagics.client_library = 'openai'"
    )
    assert not setup.errors, setup.errors
    yield started
    started.stop()
