"""What the wheel promises: the extras table matches pyproject.toml, and (in the wheel legs) the
package and its IPython startup file come from the installed wheel, not the source tree."""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from pathlib import Path

import pytest
import tomllib

import agent_magics
from agent_magics.core.extras import EXTRAS, MissingExtraError, missing_extra_message, missing_modules, require_extra

REPO = Path(__file__).resolve().parents[2]
# Packages whose import name differs from the distribution name
MODULE_OF = {"mlflow-skinny": "mlflow", "databricks-openai": "databricks_openai"}
# Speed-ups the server falls back from (h11, asyncio's loop): not required to start it
OPTIONAL = {"uvloop", "httptools"}


def extra_requirements(extra: str) -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {re.match(r"[A-Za-z0-9._-]+", line).group(0).lower() for line in project["optional-dependencies"][extra]}
    return {MODULE_OF.get(name, name.replace("-", "_")) for name in names - OPTIONAL}


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_each_extra_checks_what_pyproject_installs(extra: str) -> None:
    assert set(EXTRAS[extra].modules) == extra_requirements(extra)


def test_the_message_is_one_line_naming_the_extra_and_what_is_missing() -> None:
    assert missing_modules(("json", "no_such_module_for_agent_magics")) == ["no_such_module_for_agent_magics"]
    message = missing_extra_message("sql", part="this part", modules=("no_such_module_for_agent_magics",), hint="or x")
    assert message == (
        "this part needs the [sql] extra (missing: no_such_module_for_agent_magics): "
        "pip install 'agent_magics[sql]', or x"
    )
    assert missing_extra_message("sql", modules=("json",)) is None
    with pytest.raises(MissingExtraError, match=r"\[local\]"):
        require_extra("local", modules=("no_such_module_for_agent_magics",))


@pytest.mark.skipif(not os.environ.get("AGENT_MAGICS_EXPECT_INSTALLED"), reason="only in the wheel legs")
def test_the_package_is_the_installed_wheel() -> None:
    purelib = sysconfig.get_paths()["purelib"]
    assert agent_magics.__file__.startswith(purelib), f"imported from {agent_magics.__file__}, not {purelib}"
    startup = Path(sys.prefix, "etc", "ipython", "startup", "50-agent_magics.py")
    assert startup.read_text() == (REPO / "jupyter-config" / "ipython-startup" / startup.name).read_text()
