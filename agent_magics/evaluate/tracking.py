"""Where evaluation runs go: the user's MLflow tracking URI when one is set, else a local sqlite
store in a data directory that outlives the kernel (``AGENT_MAGICS_MLFLOW_DIR``, default
``~/.cache/agent_magics/mlflow``). Artifacts go there too, never into the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_ENV = "AGENT_MAGICS_MLFLOW_DIR"
EXPERIMENT = "agent_magics-evaluations"


def data_dir() -> Path:
    configured = os.environ.get(DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "agent_magics" / "mlflow"


def prepare(experiment: str | None = None) -> str:
    """Point MLflow at a tracking store and an experiment; the experiment's id."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow.tracking import is_tracking_uri_set

    directory = data_dir()
    if not is_tracking_uri_set():
        directory.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{directory / 'mlflow.db'}")
    name = experiment or EXPERIMENT
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        uri = mlflow.get_tracking_uri()
        # A local store would put artifacts under ./mlruns; keep them in the data directory.
        local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
        location = (directory / "artifacts").as_uri() if local else None
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    else:
        experiment_id = found.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return str(experiment_id)
