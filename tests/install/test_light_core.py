"""The light core, as `pip install agent_magics` gives it: the wheel alone in its own venv.

Kernels run on that venv's Python (``AGENT_MAGICS_LIGHT_PYTHON``; ``make test-light`` and
``make test-lowest`` build it from the wheel with only ipykernel beside it), driven from the test
venv through jupyter_client. The configured workspace is this test venv's local workspace server,
reached over HTTP through DATABRICKS_HOST: the light venv has no [local] extra, so its
missing-extra messages are real.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from first_hour.kernel_helpers import Kernel, Outputs  # tests/ is on sys.path (its conftest, prepend mode)

LIGHT = os.environ.get("AGENT_MAGICS_LIGHT_PYTHON", "")
LIGHT = str(Path(LIGHT).absolute()) if LIGHT else ""  # the kernels and tools run in other directories
TIMEOUT = 90.0
pytestmark = [
    pytest.mark.skipif(not LIGHT, reason="set AGENT_MAGICS_LIGHT_PYTHON (make test-light / make test-lowest)"),
    pytest.mark.timeout(300),
]
EXTRA_MODULES = ("mlflow", "uvicorn", "starlette", "duckdb", "sqlglot", "pandas", "pyarrow", "databricks_openai")
HEAVY = ("databricks.sdk", "openai", "ipywidgets", "mlflow", "databricks_openai")


def light(code: str) -> str:
    # cwd: `python -c` puts it on sys.path, and the source tree there would shadow the wheel
    done = subprocess.run(
        [LIGHT, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True, cwd=Path(LIGHT).parent
    )
    return done.stdout.strip()


class LightKernel(Kernel):
    """An ipykernel of the light venv (or of ``python``); its stdout/stderr go to a file, read after shutdown."""

    def __init__(self, base: Path, env: dict[str, str], python: str = "") -> None:
        super().__init__(env, python=python or LIGHT, base=base, timeout=TIMEOUT)

    def children(self) -> list[int]:
        """PIDs of the kernel's child processes (a local workspace server would be one)."""
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            found += [int(pid) for pid in (task / "children").read_text().split()]
        return found

    def shutdown(self) -> tuple[int | None, str]:
        """Ask the kernel to exit as a user would; (exit code, everything it printed)."""
        self.client.stop_channels()
        self.manager.shutdown_wait_time = 30.0  # a loaded CI machine: not jupyter_client's 5 s before SIGTERM
        self.manager.shutdown_kernel(now=False)
        code = self.process.wait(timeout=30)
        self._log.close()
        return code, self.log_path.read_text(errors="replace")


def kernel_env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABRICKS_", "JUPYTER", "IPYTHON", "AGENT_"))}
    (base / "ipython").mkdir(parents=True)
    env.update(
        IPYTHONDIR=str(base / "ipython"),
        DATABRICKS_CONFIG_FILE=str(base / "no-databrickscfg"),
        MLFLOW_DISABLE_TELEMETRY="true",
        PYTHONPATH="",  # the light venv's own site-packages only
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def unconfigured(tmp_path_factory) -> Iterator[LightKernel]:
    base = tmp_path_factory.mktemp("light-unconfigured")
    kernel = LightKernel(base, kernel_env(base))
    yield kernel
    if kernel.process.poll() is None:
        kernel.shutdown()


@pytest.fixture(scope="module")
def configured(tmp_path_factory, local_workspace) -> Iterator[LightKernel]:
    base = tmp_path_factory.mktemp("light-configured")
    kernel = LightKernel(base, kernel_env(base, **local_workspace.env(auth="pat")))
    yield kernel
    if kernel.process.poll() is None:
        kernel.shutdown()


def test_the_light_venv_is_the_wheel_without_extras() -> None:
    where = json.loads(
        light(
            "import json, sys, sysconfig, importlib.util as u, agent_magics; "
            "print(json.dumps({'file': agent_magics.__file__, 'purelib': sysconfig.get_paths()['purelib'], "
            f"'prefix': sys.prefix, 'found': [m for m in {EXTRA_MODULES!r} if u.find_spec(m)]}}))"
        )
    )
    assert where["file"].startswith(where["purelib"]), f"not the installed wheel: {where['file']}"
    assert where["found"] == [], f"the light venv has extras' packages: {where['found']}"
    assert Path(where["prefix"], "etc", "ipython", "startup", "50-agent_magics.py").is_file()


def test_auto_load_and_load_ext_import_nothing_heavy(unconfigured: LightKernel) -> None:
    lazy = unconfigured.value("sorted(get_ipython().magics_manager.lazy_magics)")
    assert {"agent", "agent_sql"} <= set(lazy), lazy  # the wheel's startup file ran
    cell = unconfigured.run("%load_ext agent_magics")
    assert not cell.errors and cell.text == "", (cell.text, cell.errors)
    loaded = unconfigured.value(f"[m for m in {HEAVY!r} if m in __import__('sys').modules]")
    assert loaded == [], f"%load_ext imported {loaded}"


def assert_one_line(cell: Outputs, *needles: str) -> str:
    """The cell failed with one UsageError line (an error message, or, with ipykernel 5, stderr text)."""
    out, errors = cell.text, cell.errors
    if errors:
        assert len(errors) == 1, errors
        ename, _, message = errors[0].partition(": ")
        assert ename == "UsageError", errors
    else:
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("UsageError: "), out
        message = lines[0].removeprefix("UsageError: ")
    assert "\n" not in message.strip(), message
    for needle in needles:
        assert needle in message, message
    return message


def test_agent_without_workspace_or_local_extra_says_what_to_install(unconfigured: LightKernel) -> None:
    cell = unconfigured.run("%agent demo-agent What is MLflow")
    message = assert_one_line(cell, "pip install 'agent_magics[local]'", "DATABRICKS_HOST")
    assert "LocalWorkspaceError" not in message
    assert cell.seconds < 10, f"{cell.seconds:.1f} s"
    assert unconfigured.children() == [], "a local workspace server was started anyway"


def test_agent_sql_without_the_sql_extra_says_what_to_install(unconfigured: LightKernel) -> None:
    cell = unconfigured.run("%agent_sql SELECT 1")
    assert_one_line(cell, "pip install 'agent_magics[sql]'", "missing: duckdb")
    assert "ModuleNotFoundError" not in cell.text


def test_agent_magics_workspace_cli_says_what_to_install() -> None:
    cli = Path(LIGHT).parent / "agent-magics"
    done = subprocess.run([str(cli), "workspace"], capture_output=True, text=True, timeout=TIMEOUT, cwd=cli.parent)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "pip install 'agent_magics[local]'" in done.stderr, done.stderr


def test_the_kernel_exits_cleanly_after_the_missing_extras(unconfigured: LightKernel) -> None:
    unconfigured.run("%agent demo-agent What is MLflow")  # once more, right before the exit
    code, printed = unconfigured.shutdown()
    assert code == 0, printed
    assert "Fatal Python error" not in printed and "Traceback" not in printed, printed


def test_configured_workspace_answers_through_rest_and_the_client(configured: LightKernel) -> None:
    for via in ("rest", "client"):
        errors = configured.run(f"%agent demo-agent --via {via} --quiet --out r What is MLflow\n").errors
        assert not errors, errors
        result = configured.value("{'status': r.status, 'via': r.via, 'text': r.text, 'error': r.error}")
        assert result["status"] == "completed", result
        assert result["via"] == via and "MLflow" in result["text"], result
    loaded = configured.value(f"[m for m in {EXTRA_MODULES!r} if m in __import__('sys').modules]")
    assert loaded == [], loaded


def test_databricks_openai_without_its_extra_says_what_to_install(configured: LightKernel) -> None:
    configured.run("%config AgentMagics.client_library = 'databricks-openai'")
    try:
        configured.run("%agent demo-agent --via client --quiet --out r hi\n")
        result = configured.value("{'status': r.status, 'error': r.error}")
    finally:
        configured.run("%config AgentMagics.client_library = 'auto'")
    assert result["status"] == "failed", result
    assert "pip install 'agent_magics[databricks-openai]'" in result["error"] and "\n" not in result["error"], result


def test_an_unreachable_host_fails_in_seconds(configured: LightKernel) -> None:
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.listen(0)
    filler = socket.create_connection(("127.0.0.1", port))  # accept queue full: a blackhole
    try:
        configured.run(
            "import os, agent_magics.transport.workspace as _w\n"
            f"_saved = os.environ['DATABRICKS_HOST']; os.environ['DATABRICKS_HOST'] = 'http://127.0.0.1:{port}'\n"
            "_w.forget_workspaces()"
        )
        cell = configured.run("%agent demo-agent hi")
    finally:
        configured.run("os.environ['DATABRICKS_HOST'] = _saved; _w.forget_workspaces()")
        filler.close()
        sock.close()
    assert_one_line(cell, f"http://127.0.0.1:{port}", "no connection within 10 s")
    assert cell.seconds < 10 + 5, f"{cell.seconds:.1f} s"


def test_configured_kernel_exits_cleanly(configured: LightKernel) -> None:
    code, printed = configured.shutdown()
    assert code == 0 and "Fatal Python error" not in printed and "Traceback" not in printed, printed
