"""Optional parts and the pip extras that bring them: checked before a part starts.

``pip install agent_magics`` is the light core (what Databricks notebooks get). The local demo
workspace, the local SQL engine and DatabricksOpenAI need extras; without them the part says, in
one line, which extra to install, instead of failing halfway (a child process that dies, a
``ModuleNotFoundError`` deep in a call). The check only looks the modules up (``find_spec``): it
imports nothing.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

from agent_magics.core.errors import AgentUsageError


@dataclass(frozen=True)
class Extra:
    name: str  # the pip extra: agent_magics[<name>]
    part: str  # what needs it, as the message names it
    modules: tuple[str, ...]  # top-level modules it must provide (its required, not optional, packages)


# Keep in step with [project.optional-dependencies] in pyproject.toml (tests/install checks it).
EXTRAS: dict[str, Extra] = {
    "local": Extra(
        "local",
        "the local demo workspace",
        ("mlflow", "numpy", "pandas", "starlette", "uvicorn", "fastapi", "duckdb", "sqlglot", "pyarrow"),
    ),
    "sql": Extra("sql", "%agent_sql's local engine (DuckDB)", ("duckdb", "sqlglot", "pandas", "pyarrow")),
    "evaluate": Extra("evaluate", "%%agent_eval (MLflow GenAI evaluation)", ("mlflow", "pandas")),
    "databricks-openai": Extra("databricks-openai", "client_library 'databricks-openai'", ("databricks_openai",)),
}


class MissingExtraError(AgentUsageError):
    """An optional part was asked for without its extra; the message says what to install."""


def missing_modules(modules: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that cannot be found (nothing is imported)."""
    missing = []
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken or half-removed package counts as missing
            found = False
        if not found:
            missing.append(module)
    return missing


def missing_extra_message(
    extra: str, *, part: str | None = None, modules: tuple[str, ...] | None = None, hint: str = ""
) -> str | None:
    """One line saying what to install for ``extra``, or None when everything is there.

    ``part`` names what needs it (default: the extra's own part); ``modules`` narrows the check to
    what this part needs; ``hint`` is an alternative to installing (what to configure instead).
    """
    spec = EXTRAS[extra]
    missing = missing_modules(modules if modules is not None else spec.modules)
    if not missing:
        return None
    message = (
        f"{part or spec.part} needs the [{spec.name}] extra (missing: {', '.join(missing)}): "
        f"pip install 'agent_magics[{spec.name}]'"
    )
    return f"{message}, {hint}" if hint else f"{message}."


def require_extra(
    extra: str, *, part: str | None = None, modules: tuple[str, ...] | None = None, hint: str = ""
) -> None:
    """Raise ``MissingExtraError`` (one clean line in IPython) when ``extra`` is not installed."""
    message = missing_extra_message(extra, part=part, modules=modules, hint=hint)
    if message is not None:
        raise MissingExtraError(message)


def no_mlflow_telemetry() -> None:
    """Call before any import of MLflow: its telemetry client starts when ``mlflow`` is first
    imported, so the setting must come first. A user's own value is kept."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
