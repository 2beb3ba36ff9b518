"""Credentials never appear in outputs, errors, reprs, widget state, logs or the saved
notebook. A notebook runs the quickstart calls and the fault matrix in a real kernel against a
workspace whose secrets we know; then the saved .ipynb and every log are searched for them."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

TOKENISH = re.compile(r"dapi[0-9a-f]{8,}|Bearer\s+\S{8,}", re.IGNORECASE)

CELLS = [
    "%load_ext agent_magics",
    "%config AgentMagics.retry_max_wait = 0.05",
    "%agent --list",
    "%%agent demo-agent --return-trace --custom-inputs '{\"id\": 5}'\nWhat does Databricks do?",
    "r = _\nprint(repr(r)); print(r); r",
    "%%agent apps/demo-app --return-trace\nHow do I query an app?",
    "%%agent demo-chat-agent\nWhat is MLflow?",
    "%%agent demo-agent --via rest --api invocations\nWhat is MLflow?",
    *[
        f"%%agent {target} --api responses {opts}\nfault {target} {opts}"
        for target in (
            "fault-401",
            "fault-403",
            "fault-429-always",
            "fault-500",
            "fault-503-always",
            "fault-drop",
            "fault-malformed-sse",
            "fault-error-event",
            "fault-error-dict",
        )
        for opts in ("--via client", "--via rest --no-stream")
    ],
    "%%agent apps/fault-login\nlog in",
    "%%agent no-such-endpoint --debug\nq",
    "from agent_magics.transport.workspace import get_workspace\n"
    "ws = get_workspace()\nprint(repr(ws)); print(ws.config)",
    "import agent_magics\nprint(vars(agent_magics.magic.agent.AgentMagics.__dict__.get('conversations', {})))",
]


@pytest.fixture(scope="module")
def executed(local_workspace, tmp_path_factory):
    root = tmp_path_factory.mktemp("secrets")
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update(local_workspace.env(auth="oauth"))
    env.update(
        {
            "DATABRICKS_CONFIG_FILE": str(root / "none.cfg"),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "IPYTHONDIR": str(root / "ipython"),
        }
    )
    log_file = root / "kernel.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    try:
        client = NotebookClient(
            nb, timeout=120, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(root)}}
        )
        client.execute(env=env)  # passed on to the kernel manager: the kernel uses our workspace
    finally:
        logging.getLogger().removeHandler(handler)
    path = root / "executed.ipynb"
    nbformat.write(nb, path)
    return nb, path, log_file


def secrets_of(ws) -> list[str]:
    return [ws.token, ws.client_secret]


def test_saved_notebook_and_logs_hold_no_credentials(executed, local_workspace):
    _, path, log_file = executed
    texts = {"notebook": path.read_text(), "kernel log": log_file.read_text()}
    if local_workspace.log_path and Path(local_workspace.log_path).exists():
        texts["server log"] = Path(local_workspace.log_path).read_text(errors="replace")
    for where, text in texts.items():
        for secret in secrets_of(local_workspace):
            assert secret not in text, f"a credential leaked into the {where}"
        assert not TOKENISH.search(text), f"token-like text in the {where}: {TOKENISH.search(text).group(0)[:12]}..."


def test_the_notebook_really_ran_the_cells(executed, local_workspace):
    nb, _, _ = executed
    outputs = json.dumps([cell.get("outputs", []) for cell in nb.cells])
    assert local_workspace.host in outputs  # the kernel talked to the workspace whose secrets we know
    assert "MLflow" in outputs and "search_docs" in outputs  # answers and tool calls are there
    for fragment in (
        "HTTP 401",
        "HTTP 403",
        "HTTP 429",
        "HTTP 500",
        "HTTP 503",
        "dropped",
        "not JSON",
        "HTML page",
        "404",
    ):
        assert fragment in outputs, fragment
