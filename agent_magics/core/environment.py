"""Facts about where the code runs that several layers ask."""

from __future__ import annotations

import os


def in_databricks_runtime() -> bool:
    """Inside a Databricks notebook or job (the runtime sets ``DATABRICKS_RUNTIME_VERSION``)."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))
