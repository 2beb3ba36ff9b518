"""A fresh MLflow store for each evaluation test (a SQLite file under tmp_path), telemetry off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    import mlflow

    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("AGENT_MAGICS_MLFLOW_DIR", str(tmp_path / "store"))
    before = mlflow.get_tracking_uri() if mlflow.tracking.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield workdir
    mlflow.set_tracking_uri(before)  # type: ignore[arg-type]
