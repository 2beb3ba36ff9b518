"""``%agent --list``: the workspace's serving endpoints and apps, with interface, state and description.

The description is the workspace's own: a serving endpoint's ``description`` (else its ``description``
tag), an app's ``description``. The text table shortens it to one line; the DataFrame and the HTML
table keep it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_magics.core.secrets import redact_value
from agent_magics.core.text import one_line
from agent_magics.transport.workspace import ENDPOINT_TASK_TO_INTERFACE, Workspace
from agent_magics.view.sanitize import NO_MATH, escape

COLUMNS = ("target", "kind", "interface", "task", "state", "description")
TEXT_DESCRIPTION = 60  # characters of the description in the plain-text table


@dataclass
class AgentList:
    rows: list[dict[str, str]]
    host: str

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(COLUMNS))

    def __repr__(self) -> str:
        rows = [{**r, "description": one_line(r["description"], TEXT_DESCRIPTION)} for r in self.rows]
        widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in COLUMNS}
        lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip()]
        lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
        return f"Agents on {self.host}\n" + "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{escape(r[c])}</td>" for c in COLUMNS) + "</tr>"
            for r in self.rows
        )
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        # Descriptions are other users' text: not typeset by MathJax either.
        return f'<div class="{NO_MATH}"><b>Agents on {escape(self.host)}</b>{table}</div>'


def list_agents(workspace: Workspace) -> AgentList:
    rows: list[dict[str, str]] = []
    for endpoint in workspace.api("GET", "/api/2.0/serving-endpoints").get("endpoints", []):
        task = endpoint.get("task") or ""
        state = endpoint.get("state") or {}
        rows.append(
            {
                "target": endpoint.get("name", ""),
                "kind": "serving endpoint",
                "interface": ENDPOINT_TASK_TO_INTERFACE.get(task, "unknown"),
                "task": task,
                "state": str(state.get("ready", "")),
                "description": _endpoint_description(endpoint),
            }
        )
    for app in workspace.api("GET", "/api/2.0/apps").get("apps", []):
        status = app.get("app_status") or app.get("compute_status") or {}
        rows.append(
            {
                "target": f"apps/{app.get('name', '')}",
                "kind": "app",
                "interface": "responses",
                "task": "",
                "state": str(status.get("state", "")),
                "description": str(app.get("description") or ""),
            }
        )
    return AgentList(redact_value(rows), workspace.host)  # a workspace that echoes headers shows no token


def _endpoint_description(endpoint: dict[str, Any]) -> str:
    """The endpoint's ``description``; Databricks UIs often keep it in a ``description`` tag instead."""
    if endpoint.get("description"):
        return str(endpoint["description"])
    for tag in endpoint.get("tags") or []:
        if isinstance(tag, dict) and tag.get("key") == "description" and tag.get("value"):
            return str(tag["value"])
    return ""
