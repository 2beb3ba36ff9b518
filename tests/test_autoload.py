"""The opt-in IPython startup file: ``%%agent`` without ``%load_ext``, lazily, silently, switchable off.

Kernels are real ipykernel processes (jupyter_client ``KernelManager``) with a private
``IPYTHONDIR``. The startup file is the one the package installs as hatch shared-data into
``<sys.prefix>/etc/ipython/startup/``; when the (editable) install did not put it there, the tests
copy it into the private profile's ``startup/`` directory, which IPython runs the same way.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from first_hour.kernel_helpers import Kernel, kernel_env

REPO = Path(__file__).resolve().parents[1]
STARTUP_NAME = "50-agent_magics.py"
SOURCE = REPO / "jupyter-config" / "ipython-startup" / STARTUP_NAME
INSTALLED = Path(sys.prefix) / "etc" / "ipython" / "startup" / STARTUP_NAME
HEAVY = ("agent_magics", "databricks.sdk", "openai", "ipywidgets", "mlflow", "databricks_openai")
HEAVY_AFTER_LOAD = HEAVY[1:]  # %load_ext imports agent_magics itself, but nothing heavy
TIMEOUT = 60.0


def install_startup_file(ipythondir: Path) -> str:
    """Make the startup file visible to IPython; returns where it comes from."""
    if INSTALLED.exists():
        assert INSTALLED.read_text() == SOURCE.read_text(), f"{INSTALLED} is stale: reinstall the package"
        return "sys.prefix"
    startup = ipythondir / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    shutil.copy(SOURCE, startup / STARTUP_NAME)
    return "profile"


@pytest.fixture
def kernel_factory(tmp_path: Path) -> Iterator[Any]:
    kernels: list[Kernel] = []

    def start(autoload: bool = True, install: bool = True) -> Kernel:
        base = tmp_path / f"k{len(kernels)}"
        env = kernel_env(base, autoload=autoload)
        if install:
            install_startup_file(Path(env["IPYTHONDIR"]))
        kernel = Kernel(env, timeout=TIMEOUT)
        kernels.append(kernel)
        return kernel

    yield start
    for kernel in kernels:
        kernel.stop()


MAGICS_STATE = (
    "{"
    '"cell": "agent" in get_ipython().magics_manager.magics["cell"], '
    '"line": "agent" in get_ipython().magics_manager.magics["line"], '
    '"lazy": sorted(get_ipython().magics_manager.lazy_magics), '
    f'"loaded": [m for m in {HEAVY!r} if m in __import__("sys").modules]'
    "}"
)


def test_startup_file_is_shipped_as_shared_data() -> None:
    pyproject = (REPO / "pyproject.toml").read_text()
    assert f'"jupyter-config/ipython-startup/{STARTUP_NAME}" = "etc/ipython/startup/{STARTUP_NAME}"' in pyproject


def test_fresh_kernel_has_agent_magic_lazily(kernel_factory: Any) -> None:
    kernel = kernel_factory()
    state = kernel.value(MAGICS_STATE)
    # Registered lazily: known to the magics manager, but nothing imported yet.
    assert {"agent", "agent_sql"} <= set(state["lazy"]), state
    assert state["loaded"] == [], f"imported at startup: {state['loaded']}"

    # The first use of the cell magic loads the extension (no %load_ext); --help needs no workspace.
    cell = kernel.run("%%agent --help\nWhat does Databricks do?")
    assert not cell.failures, cell.failures
    assert "--custom-inputs" in cell.text and "--return-trace" in cell.text
    cell = kernel.run("%agent --help")
    assert not cell.failures, cell.failures
    assert "--custom-inputs" in cell.text
    state = kernel.value(MAGICS_STATE)
    assert state["cell"] and state["line"], state
    # Using the magic's parser still imports no client, widget or MLflow module.
    assert state["loaded"] == ["agent_magics"], f"heavy modules after first use: {state['loaded']}"


def test_load_ext_imports_nothing_heavy(kernel_factory: Any) -> None:
    kernel = kernel_factory(autoload=False)
    cell = kernel.run("%load_ext agent_magics")
    assert not cell.failures and cell.text == "", (cell.text, cell.failures)
    state = kernel.value(MAGICS_STATE)
    assert state["cell"] and state["line"], state
    heavy = [m for m in state["loaded"] if m in HEAVY_AFTER_LOAD]
    assert heavy == [], f"%load_ext imported: {heavy}"


def test_no_autoload_env_switches_it_off(kernel_factory: Any) -> None:
    kernel = kernel_factory(autoload=False)
    state = kernel.value(MAGICS_STATE)
    assert "agent" not in state["lazy"] and not state["cell"] and not state["line"], state
    errors = kernel.run("%agent --help").failures
    assert errors and "UsageError" in errors[0], errors


@pytest.mark.parametrize("autoload", [True, False])
def test_startup_file_prints_nothing(tmp_path: Path, autoload: bool) -> None:
    # Terminal IPython runs the same startup files; anything the file prints would show here.
    env = kernel_env(tmp_path, autoload=autoload)
    install_startup_file(Path(env["IPYTHONDIR"]))
    probe = "import sys; print('lazy' if 'agent' in get_ipython().magics_manager.lazy_magics else 'none')"
    done = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=nocolor", "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("lazy\n" if autoload else "none\n"), done.stdout  # only the probe's line
    assert done.stderr == "", done.stderr


def test_startup_file_is_silent_in_a_kernel(kernel_factory: Any) -> None:
    # Output a startup file prints while the kernel starts is lost to clients, so run it again,
    # in the kernel, with stdout/stderr captured (it is idempotent).
    kernel = kernel_factory(install=False)
    code = (
        "import contextlib, io, warnings\n"
        f"_src = {SOURCE.read_text()!r}\n"
        "_buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(_buf), contextlib.redirect_stderr(_buf), "
        "warnings.catch_warnings(record=True) as _w:\n"
        "    warnings.simplefilter('always')\n"
        "    exec(compile(_src, 'startup', 'exec'), {})\n"
        "print(repr(_buf.getvalue()), len(_w))"
    )
    cell = kernel.run(code)
    assert not cell.failures, cell.failures
    assert cell.text.strip() == "'' 0", cell.text
    assert "agent" in kernel.value("sorted(get_ipython().magics_manager.lazy_magics)")
