"""A real ipykernel (jupyter_client) and what one cell showed: the helpers of tests/first_hour."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TIMEOUT = 120.0


@dataclass
class Outputs:
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)  # display_data bundles
    results: list[dict[str, Any]] = field(default_factory=list)  # execute_result (Out[]) bundles
    errors: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)  # pager payloads (help)
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every output message, in order

    @property
    def shown(self) -> str:
        """Everything visible as text: streams, displays' and Out[]'s text/plain, errors."""
        plain = [b.get("text/plain", "") for b in [*self.displays, *self.results]]
        return "\n".join([self.stdout, self.stderr, *plain, *self.errors, *self.pages])


class Kernel:
    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=TIMEOUT)

    def run(self, code: str) -> Outputs:
        out = Outputs()

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            out.messages.append((kind, content))
            if kind == "stream":
                if content["name"] == "stdout":
                    out.stdout += content["text"]
                else:
                    out.stderr += content["text"]
            elif kind in ("display_data", "update_display_data"):
                out.displays.append(content["data"])
            elif kind == "execute_result":
                out.results.append(content["data"])
            elif kind == "error":
                out.errors.append(f"{content['ename']}: {content['evalue']}")

        reply = self.client.execute_interactive(code, output_hook=hook, timeout=TIMEOUT)
        for payload in reply["content"].get("payload", []):  # help (``%agent?``) comes as a page
            if payload.get("source") == "page":
                out.pages.append(payload["data"].get("text/plain", ""))
        return out

    def saved(self, code: str) -> list[dict[str, Any]]:
        """Run ``code`` and return the outputs a notebook would save: display updates applied in place."""
        out = self.run(code)
        saved: list[dict[str, Any]] = []
        for kind, content in out.messages:
            display_id = content.get("transient", {}).get("display_id")
            if kind == "update_display_data":
                for output in saved:
                    if output.get("display_id") == display_id:
                        output["data"] = content["data"]
            elif kind in ("display_data", "execute_result", "stream", "error"):
                saved.append({"kind": kind, "display_id": display_id, **content})
        return saved

    def value(self, expression: str) -> Any:
        out = self.run(f"import json as _j; print(_j.dumps({expression}))")
        assert not out.errors, out.errors
        return json.loads(out.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def kernel_env(base: Path, workspace: Any | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JUPYTER", "IPYTHON"))}
    env.pop("AGENT_MAGICS_TARGET", None)
    env["AGENT_MAGICS_NO_AUTOLOAD"] = "1"  # the extension is loaded by %load_ext, as documented
    for name, sub in [("IPYTHONDIR", "ipython"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data")]:
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(base / sub)
    env["DATABRICKS_CONFIG_FILE"] = str(base / "no-such-databrickscfg")
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if workspace is not None:
        env.update(workspace.env(auth="oauth"))
    return env
