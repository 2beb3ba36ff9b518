"""Write the demo notebooks (source only; CI executes them with nbclient).

Run: .venv/bin/python notebooks/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    return nb


QUICKSTART = [
    (
        "md",
        """# agent_magics quickstart

Ask AI agents deployed on Databricks from a notebook cell and watch the answer stream in.

With no Databricks workspace configured, this notebook talks to the **local demo workspace** that
`agent_magics` starts on 127.0.0.1: it speaks the Databricks REST API and hosts demo agents built
on MLflow's agent interfaces. Point it at a real workspace with `DATABRICKS_HOST` (plus a token or
OAuth), a `~/.databrickscfg` profile, or `--profile NAME`, and the same cells query your agents.""",
    ),
    ("code", "%load_ext agent_magics"),
    ("md", "What can we talk to? `%agent --list` shows the workspace's agent endpoints and apps."),
    ("code", "%agent --list"),
    (
        "md",
        """## Ask a Model Serving agent

`demo-agent` is a `ResponsesAgent` on Model Serving. The cell body is the question. The answer
streams; tool calls (here `search_docs`) show up as they happen.""",
    ),
    ("code", "%%agent demo-agent\nWhat does Databricks do?"),
    ("md", "The cell's value is an `AgentResult`: text, output items, custom outputs, trace."),
    ("code", "result = _\nprint(result.text[:200])\n[item['type'] for item in result.output]"),
    (
        "md",
        """## custom_inputs and the trace

`--custom-inputs` sends `custom_inputs` with the request; `--return-trace` asks the endpoint for
its MLflow trace (`databricks_options.return_trace`), shown under the answer.""",
    ),
    (
        "code",
        "%%agent demo-agent --custom-inputs '{\"id\": 5}' --return-trace --out answer\n"
        "How do I get the trace of an agent call?",
    ),
    ("code", "answer.custom_outputs"),
    ("code", "answer.trace.to_pandas()[['name', 'span_type', 'duration_ms', 'status']]"),
    (
        "md",
        """## An agent on Databricks Apps

Apps are addressed as `apps/<name>`; their URL comes from the Apps API and they accept OAuth
tokens only.""",
    ),
    ("code", "%%agent apps/demo-app\nHow do I query an agent deployed on Databricks Apps?"),
    ("md", "## A legacy ChatAgent, and a follow-up turn\n\n`--continue` sends the earlier turns too."),
    ("code", "%%agent demo-chat-agent\nWhat is MLflow?"),
    ("code", "%%agent demo-chat-agent --continue\nHow does it trace agents?"),
    ("md", "`{name}` fills in notebook variables (use `{{ }}` for literal braces):"),
    ("code", "topic = 'ai_query'\n"),
    ("code", "%%agent demo-agent --no-stream\nIn one paragraph: what is {topic}?"),
]


def main() -> None:
    nbformat.write(notebook(QUICKSTART), HERE / "quickstart.ipynb")


if __name__ == "__main__":
    main()
