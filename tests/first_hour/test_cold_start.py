"""A cold first cell with no workspace configured: a line at once, the server started before the imports.

One fresh kernel with no Databricks configuration (so the embedded local workspace starts inside the
first ``%%agent`` cell). What is checked is what a user sees and in which order, never how fast:
the speed is measured by ``make bench`` (benchmarks/coldstart.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kernel_helpers import Kernel, kernel_env

STARTING = "agent_magics: starting the local demo workspace…"
BANNER = "agent_magics: no Databricks workspace configured, so using the local demo workspace at http://127.0.0.1:"

# Notes when the cell's heavy modules are first imported, to compare with when the server was launched.
IMPORT_SPY = """
import sys as _sys, time as _time
class _ImportSpy:
    seen = {}
    def find_spec(self, name, path=None, target=None):
        if name in ("agent_magics.run", "databricks.sdk") and name not in self.seen:
            self.seen[name] = _time.monotonic()
        return None
_spy = _ImportSpy()
_sys.meta_path.insert(0, _spy)
"""


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    base: Path = tmp_path_factory.mktemp("cold")
    started = Kernel(kernel_env(base, None))
    setup = started.run("%load_ext agent_magics\n" + IMPORT_SPY)
    assert not setup.errors, setup.errors
    yield started
    started.stop()


def test_the_first_cell_says_at_once_that_the_workspace_starts_and_leaves_only_the_banner(cold: Kernel) -> None:
    out = cold.run("%%agent demo-agent\nWhat is MLflow?")
    assert not out.errors, out.errors
    shown = [(k, c) for k, c in out.messages if k not in ("status", "execute_input")]
    kind, first = shown[0]
    # The first thing under the cell is the start-up line, a display that can be replaced ...
    assert kind == "display_data" and first["data"]["text/plain"] == STARTING, shown[:2]
    display_id = first["transient"]["display_id"]
    # ... and it is replaced in place by the banner once the workspace is up, before the answer.
    updates = [c for k, c in out.messages if k == "update_display_data" and c["transient"]["display_id"] == display_id]
    assert len(updates) == 1 and updates[0]["data"]["text/plain"].startswith(BANNER), updates
    assert "(started in " in updates[0]["data"]["text/plain"]
    assert STARTING not in out.stdout + out.stderr  # never printed, so never left in the saved output
    assert "MLflow" in out.shown.split(BANNER, 1)[1]  # the answer follows
    # The server process was launched before the cell's heavy modules were imported, and the local
    # workspace's OAuth needs no databricks-sdk (its import alone is ~1.7 s).
    order = cold.value(
        "[__import__('agent_magics.transport.embedded').transport.embedded._shared.launched_at,"
        " _spy.seen.get('agent_magics.run'), _spy.seen.get('databricks.sdk')]"
    )
    launched, run_imported, sdk_imported = order
    assert run_imported is not None and launched < run_imported, order
    assert sdk_imported is None, order


def test_later_cells_show_no_start_up_line(cold: Kernel) -> None:
    saved = cold.saved("%%agent demo-agent\nWhat is MLflow?")
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in saved)
    assert STARTING not in text and BANNER not in text and "MLflow" in text


def test_a_failing_first_cell_leaves_no_start_up_line(tmp_path: Path) -> None:
    started = Kernel(kernel_env(tmp_path, None))
    try:
        started.run("%load_ext agent_magics")
        saved = started.saved("%%agent demo-agnet\nWhat is MLflow?")  # misspelled: fails once the workspace is up
        texts = [str(o.get("data", {}).get("text/plain", "")) for o in saved]
        assert STARTING not in texts, saved
        assert any("demo-agent" in str(o) for o in saved), saved  # the failure says what to do
    finally:
        started.stop()
