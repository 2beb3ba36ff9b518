"""A real IPython kernel driven through jupyter_client, with the iopub traffic of each cell accounted.

The client reads the iopub socket itself (raw multipart frames), so that the byte count is the
serialised size of each message as the kernel sent it (identity, delimiter, signature, header,
parent header, metadata, content, buffers), and the receive time of each message is taken as it
comes off the socket. Only the small header frames are decoded; contents are searched as bytes
(a naive per-token widget sends ~100 MB, and decoding it here would steal CPU from the kernel on a
2-core machine).

Time stamps are ``time.monotonic()``: on Linux that is CLOCK_MONOTONIC, one clock for every process
of the machine, so a time taken inside the kernel and one taken here can be subtracted.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import zmq
from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parents[1]

# Messages Jupyter Server's IOPub rate limit does not count (ZMQChannelsWebsocketConnection).
UNLIMITED = {"status", "comm_open", "execute_input"}
# What can change the page: kept with run(record=True) for the live-update figures.
RECORDED = {"display_data", "update_display_data", "comm_msg", "comm_open", "stream", "execute_result"}
# Messages that put something in the cell's output area (a widget's comm_msg included).
SHOWN = {"stream", "display_data", "update_display_data", "execute_result", "error", "comm_msg"}


class CellError(RuntimeError):
    """The benchmark cell raised inside the kernel."""


def kernel_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark kernel: no Databricks credentials of the caller, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "MLFLOW_", "AGENT_MAGICS_"))}
    env.update(
        DATABRICKS_CONFIG_FILE="/nonexistent",
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        AGENT_MAGICS_NO_AUTOLOAD="1",  # %load_ext is measured, not an IPython startup file
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    )
    env.update(extra or {})
    return env


@dataclass
class Execution:
    """What one cell did, seen from the client."""

    sent: float  # monotonic time the execute_request was sent
    idle: float  # ... and the time its status: idle arrived (everything before it was received)
    messages: dict[str, int] = field(default_factory=dict)  # iopub messages by type
    bytes: int = 0  # serialised iopub bytes of this cell
    bytes_by_type: dict[str, int] = field(default_factory=dict)
    marker_at: float | None = None  # first iopub message containing the marker bytes
    # With run(record=True): (arrival time, type, content JSON bytes) of every output message.
    records: list[tuple[float, str, bytes]] = field(default_factory=list)
    first_output_at: float | None = None  # first iopub message that shows something (output, display)
    cpu: float = 0.0  # kernel process CPU seconds (user + system) during the cell
    expressions: dict[str, Any] = field(default_factory=dict)  # user_expressions, JSON-decoded

    @property
    def wall(self) -> float:
        return self.idle - self.sent

    @property
    def limited(self) -> int:
        """Messages Jupyter Server's 1000 msg/s IOPub limit counts."""
        return sum(n for kind, n in self.messages.items() if kind not in UNLIMITED)


class BenchKernel:
    """A fresh kernel with a private IPYTHONDIR; ``with BenchKernel() as k: k.run(code)``."""

    def __init__(self, env: dict[str, str] | None = None, startup_timeout: float = 120.0) -> None:
        self._dir = tempfile.mkdtemp(prefix="agent-magics-bench-")
        self._env = kernel_env(env)
        self._env.update(IPYTHONDIR=os.path.join(self._dir, "ipython"), JUPYTER_RUNTIME_DIR=self._dir)
        self._startup_timeout = startup_timeout
        self.km: KernelManager | None = None
        self._log: Any = None
        self.kc: Any = None
        self.pid: int | None = None
        self.started_in = 0.0

    def start(self) -> BenchKernel:
        t0 = time.monotonic()
        self.km = KernelManager(kernel_name="python3", connection_file=os.path.join(self._dir, "kernel.json"))
        self.km.ip = "127.0.0.1"
        # the kernel's own stderr (its TCP warning, tracebacks of crashes) goes to a log, not to the table
        self._log = open(os.path.join(self._dir, "kernel.log"), "wb")  # noqa: SIM115 - closed in stop()
        self.km.start_kernel(env=self._env, cwd=self._dir, stderr=self._log)
        self.pid = self.km.provisioner.pid  # type: ignore[union-attr]
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=self._startup_timeout)
        self.started_in = time.monotonic() - t0
        return self

    def stop(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            # shutdown_kernel asks, then kills this kernel's own process (by its handle) if it must
            self.km.shutdown_kernel(now=False)
            self.km = None
        if self._log is not None:
            self._log.close()
            self._log = None
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> BenchKernel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.pid).cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return psutil.Process(self.pid).memory_info().rss

    def run(
        self,
        code: str,
        *,
        marker: bytes | None = None,
        expressions: dict[str, str] | None = None,
        timeout: float = 300.0,
        record: bool = False,
    ) -> Execution:
        """Execute ``code``; account every iopub message whose parent is this request.

        ``expressions`` are evaluated in the kernel right after the cell (``user_expressions``: no
        iopub traffic) and must evaluate to JSON text.
        """
        kc = self.kc
        socket: zmq.Socket = kc.iopub_channel.socket
        cpu0 = self.cpu_seconds()
        sent = time.monotonic()
        msg_id = kc.execute(code, silent=False, store_history=True, user_expressions=expressions or {})
        result = Execution(sent=sent, idle=0.0)
        error: str | None = None
        deadline = sent + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"cell did not finish within {timeout:.0f} s")
            if not socket.poll(int(min(remaining, 1.0) * 1000)):
                continue
            frames = socket.recv_multipart(copy=True)
            now = time.monotonic()
            _, parts = kc.session.feed_identities(frames, copy=True)
            # parts: signature, header, parent_header, metadata, content, *buffers
            if json.loads(parts[2]).get("msg_id") != msg_id:
                continue  # output of an earlier request, or a kernel-wide message
            kind = json.loads(parts[1])["msg_type"]
            result.messages[kind] = result.messages.get(kind, 0) + 1
            size = sum(len(f) for f in frames)
            result.bytes += size
            result.bytes_by_type[kind] = result.bytes_by_type.get(kind, 0) + size
            if record and kind in RECORDED:
                result.records.append((now, kind, parts[4]))
            if result.first_output_at is None and kind in SHOWN:
                result.first_output_at = now
            if marker is not None and result.marker_at is None and any(marker in p for p in parts[4:]):
                result.marker_at = now
            if kind == "error":
                content = json.loads(parts[4])
                error = f"{content.get('ename')}: {content.get('evalue')}"
            if kind == "status" and json.loads(parts[4]).get("execution_state") == "idle":
                result.idle = now
                break
        result.cpu = self.cpu_seconds() - cpu0
        while True:  # the reply to this request (a reply to an abandoned earlier one is skipped)
            reply = kc.get_shell_msg(timeout=max(5.0, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if error or reply["content"].get("status") != "ok":
            raise CellError(error or str(reply["content"]))
        for name, value in reply["content"].get("user_expressions", {}).items():
            if value.get("status") != "ok":
                raise CellError(f"{name}: {value.get('ename')}: {value.get('evalue')}")
            # text/plain is the repr of the JSON string the expression returned
            result.expressions[name] = json.loads(ast.literal_eval(value["data"]["text/plain"]))
        return result
