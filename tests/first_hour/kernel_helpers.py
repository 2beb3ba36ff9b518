"""A real ipykernel (jupyter_client) and what one cell showed: the kernel helpers of every test that
runs cells in a kernel (tests/first_hour, test_autoload, tests/install on another venv's Python)."""

from __future__ import annotations

import json
import os
import time
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
    seconds: float = 0.0  # how long the cell took
    reply: dict[str, Any] = field(default_factory=dict)  # the execute_reply's content

    @property
    def failures(self) -> list[str]:
        """The errors, or the reply when the cell did not succeed without one (aborted, say)."""
        if self.errors or self.reply.get("status", "ok") == "ok":
            return self.errors
        return [str(self.reply)]

    @property
    def text(self) -> str:
        """What the cell shows at the end as text: streams and the text/plain of displays and Out[],
        in order, each display as its last update left it."""
        parts: list[str] = []
        where: dict[str, int] = {}  # display id -> its place in parts
        for kind, content in self.messages:
            display_id = content.get("transient", {}).get("display_id")
            if kind == "stream":
                parts.append(content["text"])
            elif kind in ("display_data", "execute_result"):
                if display_id is not None:
                    where[display_id] = len(parts)
                parts.append(content["data"].get("text/plain", ""))
            elif kind == "update_display_data" and display_id in where:
                parts[where[display_id]] = content["data"].get("text/plain", "")
        return "".join(parts)

    @property
    def shown(self) -> str:
        """Everything visible as text: streams, displays' and Out[]'s text/plain, errors."""
        plain = [b.get("text/plain", "") for b in [*self.displays, *self.results]]
        return "\n".join([self.stdout, self.stderr, *plain, *self.errors, *self.pages])


class Kernel:
    """A started ipykernel and a client on it.

    ``python``: run the kernel on that interpreter (another venv's) instead of this one's; its stdout
    and stderr then go to ``base/kernel.log`` and it starts in ``base``, so that the source tree
    (on sys.path by ``-m ipykernel_launcher``) cannot shadow the wheel installed there."""

    def __init__(
        self, env: dict[str, str], *, python: str | None = None, base: Path | None = None, timeout: float = TIMEOUT
    ) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        self.timeout = timeout
        if python is None:
            self.manager = KernelManager(kernel_name="python3")
            self.manager.start_kernel(env=env)
        else:
            assert base is not None, "a kernel on another Python needs a base folder for its spec and log"
            spec_dir = base / "kernels" / "other"
            spec_dir.mkdir(parents=True)
            argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
            spec = {"argv": argv, "display_name": "other", "language": "python"}
            (spec_dir / "kernel.json").write_text(json.dumps(spec))
            self.log_path = base / "kernel.log"
            self._log = self.log_path.open("wb")
            specs = KernelSpecManager(kernel_dirs=[str(base / "kernels")])
            self.manager = KernelManager(kernel_name="other", kernel_spec_manager=specs)
            self.manager.start_kernel(env=env, stdout=self._log, stderr=self._log, cwd=str(base))
        self.process = self.manager.provisioner.process  # type: ignore[union-attr]
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=timeout)

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

        started = time.monotonic()
        reply = self.client.execute_interactive(code, output_hook=hook, timeout=self.timeout)
        out.seconds = time.monotonic() - started
        out.reply = reply["content"]
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
        if hasattr(self, "_log"):
            self._log.close()


def kernel_env(base: Path, workspace: Any | None = None, *, autoload: bool = False) -> dict[str, str]:
    """This process's environment without its Databricks, Jupyter and IPython settings, with private
    IPython and Jupyter folders under ``base``; ``autoload``: the startup file may load the extension."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JUPYTER", "IPYTHON"))}
    env.pop("AGENT_MAGICS_TARGET", None)
    env.pop("AGENT_MAGICS_NO_AUTOLOAD", None)
    if not autoload:
        env["AGENT_MAGICS_NO_AUTOLOAD"] = "1"  # the extension is loaded by %load_ext, as documented
    for name, sub in [("IPYTHONDIR", "ipython"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data")]:
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(base / sub)
    env["DATABRICKS_CONFIG_FILE"] = str(base / "no-such-databrickscfg")
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if workspace is not None:
        env.update(workspace.env(auth="oauth"))
    return env
