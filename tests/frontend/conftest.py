"""Fixtures for the browser tests: JupyterLab on loopback, Debian Chromium through Playwright.

Each JupyterLab server runs as a subprocess on a free 127.0.0.1 port with a temporary root dir and
private Jupyter/IPython dirs, so nothing from the user's setup (extensions, settings, workspaces,
kernels, ~/.databrickscfg) leaks in. Kernels inherit the server's environment: no DATABRICKS_*
variables and a config file that does not exist, so ``%%agent`` uses the embedded local workspace.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAB_START_TIMEOUT = 60.0


def kernel_env(base: Path) -> dict[str, str]:
    """The environment for a server and its kernels: private dirs, no Databricks configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JUPYTER", "IPYTHON"))}
    env.pop("AGENT_MAGICS_TARGET", None)
    for name, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (base / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(base / sub)
    env["DATABRICKS_CONFIG_FILE"] = str(base / "no-such-databrickscfg")  # never created
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_lab_settings(config_dir: Path) -> None:
    # The announcements plugin pops a "news?" notification over the outputs: disable it.
    labconfig = config_dir / "labconfig"
    labconfig.mkdir(parents=True, exist_ok=True)
    (labconfig / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    # Render every cell (no virtual scrolling), so outputs below the fold are in the DOM.
    tracker = config_dir / "lab" / "user-settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))


@dataclass
class LabServer:
    """One JupyterLab subprocess; ``stop()`` ends it by PID (process group) and nothing else."""

    base: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.base / "root"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.base / "lab.log"

    def start(self) -> LabServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.env = kernel_env(self.base)
        _write_lab_settings(Path(self.env["JUPYTER_CONFIG_DIR"]))
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            *self.app_arguments(),
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={self.root}",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def app_arguments(self) -> list[str]:
        """The module to run and its own settings (the server's are shared)."""
        return [
            "jupyterlab",
            # No news / update checks from the server either: the tests run offline.
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # Let tests read kernel state through window.jupyterapp instead of guessing from pixels.
            "--LabApp.expose_app_in_browser=True",
        ]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/status", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"JupyterLab not ready after {LAB_START_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the server's REST API (with the XSRF cookie + header that non-GET calls need)."""
        with httpx.Client(base_url=self.url, timeout=30.0) as client:
            client.get("/lab")  # sets the _xsrf cookie
            headers = {"X-XSRFToken": client.cookies.get("_xsrf", "")}
            response = client.request(method, path, headers=headers, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def shutdown_kernels(self) -> None:
        """Shut every kernel down through the server's REST API (as Kernel > Shut Down does)."""
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # The server runs in its own session: signal its process group (server + its kernels).
        pgid = os.getpgid(self.process.pid)
        try:
            self.shutdown_kernels()
        except (httpx.HTTPError, OSError):
            pass
        os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def write_notebook(self, name: str, cells: list[tuple[str, str]]) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [
            nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
            for kind, src in cells
        ]
        path = self.root / name
        nbformat.write(nb, path)
        return path


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian chromium (`make browser`) to run the browser tests")


def _running(server: LabServer) -> Iterator[LabServer]:
    """``server`` started for the fixture's life, stopped after it (the three server fixtures)."""
    _require_chromium()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A JupyterLab server shared by the tests of one module (each test opens its own notebook)."""
    yield from _running(LabServer(tmp_path_factory.mktemp("lab")))


@pytest.fixture
def fresh_lab(tmp_path: Path) -> Iterator[LabServer]:
    """A JupyterLab server of its own, for a test that needs kernels nobody else touched."""
    yield from _running(LabServer(tmp_path / "lab"))


class Notebook7Server(LabServer):
    """Notebook 7 (the notebook-only frontend on JupyterLab's components) instead of JupyterLab."""

    def app_arguments(self) -> list[str]:
        # window.jupyterapp, as in JupyterLab (an unknown trait here would drop every setting)
        return ["notebook", "--JupyterNotebookApp.expose_app_in_browser=True"]


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A Notebook 7 server shared by the tests of one module."""
    pytest.importorskip("notebook", minversion="7")
    yield from _running(Notebook7Server(tmp_path_factory.mktemp("notebook7")))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class PageLog:
    """Everything the page did that a test may want to assert on."""

    requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def page(browser: Any, page_log: PageLog, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context + page; records requests and dialogs, screenshots at teardown."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.on("request", lambda r: page_log.requests.append(r.url))
    pg.on("websocket", lambda ws: page_log.websockets.append(ws.url))
    pg.on("console", lambda m: page_log.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: page_log.page_errors.append(str(e)))

    def on_dialog(dialog: Any) -> None:
        page_log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        failed = report is not None and report.failed
        save_screenshot(pg, request.node.name + ("-FAILED" if failed else ""))
        if not failed:  # a stale failure picture from an earlier run would mislead
            (ARTIFACTS / _artifact_name(request.node.name + "-FAILED")).unlink(missing_ok=True)
        context.close()


def _artifact_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) + ".png"


def save_screenshot(pg: Any, name: str) -> Path | None:
    """Keep a full-page screenshot under test-artifacts/ (git-ignored); never fail a test for it."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / _artifact_name(name)
    try:
        pg.screenshot(path=str(path), full_page=True, timeout=10_000)
    except Exception:
        return None
    return path


class _Screenshot:
    """``screenshot(page, name)`` saves a full-page PNG under test-artifacts/ (the fixture's value)."""

    directory = ARTIFACTS

    def __call__(self, pg: Any, name: str) -> Path | None:
        return save_screenshot(pg, name)


@pytest.fixture
def screenshot() -> _Screenshot:
    ARTIFACTS.mkdir(exist_ok=True)
    return _Screenshot()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    # Expose the call report to fixtures, so the page fixture can name the failure screenshot.
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
