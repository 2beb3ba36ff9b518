"""Where evaluation runs (and ``%%agent --log`` traces) go, and the link to a run in MLflow's UI.

* The user's MLflow tracking URI, when one is set (``MLFLOW_TRACKING_URI``, ``mlflow.set_tracking_uri``;
  on Databricks the notebook's, ``databricks``): used as it is.
* The embedded local workspace: a real MLflow tracking server it runs beside itself (MLflow's own
  server app, SQLite backend), in a data directory that outlives the kernel
  (``AGENT_MAGICS_MLFLOW_DIR``, default ``~/.cache/agent_magics/mlflow``); its UI is on loopback.
* Anything else (a workspace that is not ours and no tracking URI): a SQLite store in that same data
  directory, read by ``mlflow ui --backend-store-uri sqlite:///<dir>/mlflow.db``.

Artifacts never land in the working directory. ``scoped()`` gives MLflow's active experiment
back as it was once the evaluation or the logging is over: the user's own ``mlflow.start_run()``
in the next cell does not land in the evaluation's experiment.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from agent_magics.core import defaults
from agent_magics.core.errors import AgentUsageError

DIR_ENV = "AGENT_MAGICS_MLFLOW_DIR"
SERVER_ROUTE = "/api/2.0/agent-magics/mlflow-server"
SERVER_START_TIMEOUT = 200.0  # the workspace answers once MLflow's server does (10-35 s, cold)

_lock = threading.Lock()
_ours: set[str] = set()  # tracking URIs this module set (not the user's), so re-resolved when asked


@dataclass(frozen=True)
class Tracking:
    uri: str
    ui: str | None  # the MLflow UI's base URL, when we know one
    experiment_id: str | None = None  # None: the notebook's own (Databricks)

    def run_url(self, experiment_id: str, run_id: str) -> str | None:
        if self.ui is None:
            return None
        if self.uri.startswith("databricks"):
            return f"{self.ui}/ml/experiments/{experiment_id}/runs/{run_id}"
        return f"{self.ui}/#/experiments/{experiment_id}/runs/{run_id}"

    def trace_url(self, experiment_id: str, trace_id: str) -> str | None:
        if self.ui is None or self.uri.startswith("databricks"):
            return None
        return f"{self.ui}/#/experiments/{experiment_id}/traces?selectedEvaluationId={trace_id}"


def data_dir() -> Path:
    configured = os.environ.get(DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "agent_magics" / "mlflow"


def _loopback(host: str | None) -> bool:
    return bool(host) and urlparse(str(host)).hostname in ("127.0.0.1", "localhost", "::1")


def is_local(workspace: Any) -> bool:
    """The embedded local workspace, or a workspace on loopback (the same server, reached from the
    environment as the tests and the CLI's ``workspace`` command do)."""
    return workspace is not None and (
        getattr(workspace, "is_local", False) or _loopback(getattr(workspace, "host", None))
    )


def tracks_to_databricks() -> bool:
    """Does MLflow track to a Databricks workspace (a Databricks notebook, or a ``databricks`` URI)?"""
    if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
        return True
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri and "mlflow" in sys.modules:
        from mlflow.tracking import is_tracking_uri_set

        uri = sys.modules["mlflow"].get_tracking_uri() if is_tracking_uri_set() else ""
    return uri.startswith("databricks")


def local_server_url(workspace: Any) -> str | None:
    """The URL of the MLflow server the local workspace runs for our data directory (started now if
    need be); None when ``workspace`` is not the local one (or is one that has no such server)."""
    if not is_local(workspace):
        return None
    from agent_magics.core.errors import AgentError

    try:
        found = workspace.api("POST", SERVER_ROUTE, json={"data_dir": str(data_dir())}, timeout=SERVER_START_TIMEOUT)
    except AgentError as exc:
        if getattr(exc, "status", None) == 404:  # a loopback server that is not our workspace
            return None
        raise AgentError(f"the local MLflow tracking server: {exc}") from None
    url = found.get("url") if isinstance(found, dict) else None
    return url if isinstance(url, str) and _loopback(url) else None


def _tracking_uri(workspace: Any) -> tuple[str, str | None]:
    """(tracking URI, UI base) to use, setting MLflow's tracking URI when it is ours to choose."""
    import mlflow
    from mlflow.tracking import is_tracking_uri_set

    current = mlflow.get_tracking_uri() if is_tracking_uri_set() else None
    if current is not None and current not in _ours:  # the user's choice (or Databricks')
        ui = current if current.startswith(("http://", "https://")) else None
        if current.startswith("databricks") and workspace is not None and not getattr(workspace, "is_local", False):
            ui = str(workspace.host).rstrip("/")
        return current, ui
    server = local_server_url(workspace)
    if server is not None:
        uri, ui = server, server
    else:
        directory = data_dir()
        directory.mkdir(parents=True, exist_ok=True)
        uri, ui = f"sqlite:///{directory / 'mlflow.db'}", None
    _ours.add(uri)
    mlflow.set_tracking_uri(uri)
    return uri, ui


def prepare(experiment: str | None = None, workspace: Any = None) -> Tracking:
    """Point MLflow at the tracking store for ``workspace`` and at an experiment."""
    import mlflow

    with _lock:
        uri, ui = _tracking_uri(workspace)
    if uri.startswith("databricks") and experiment is None:
        return Tracking(uri, ui)  # the notebook's own experiment (a bare name is not a workspace path)
    name = experiment or defaults.EVAL_EXPERIMENT
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        local = uri.startswith(("sqlite:", "file:")) or "://" not in uri
        # A local store would put artifacts under ./mlruns; keep them in the data directory.
        location = (data_dir() / "artifacts").as_uri() if local else None
        experiment_id = mlflow.create_experiment(name, artifact_location=location)
    elif found.lifecycle_stage == "deleted":  # the store still has it, and MLflow refuses to use it
        raise AgentUsageError(
            f"the MLflow experiment {name!r} was deleted: restore it (MlflowClient().restore_experiment("
            f"{found.experiment_id!r})), or pass --experiment with another name."
        )
    else:
        experiment_id = found.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return Tracking(uri, ui, str(experiment_id))


@contextlib.contextmanager
def scoped(experiment: str | None = None, workspace: Any = None) -> Iterator[Tracking]:
    """``prepare()`` for the body of the ``with``; then MLflow's active experiment (and the variable
    MLflow mirrors it in, for subprocesses) as it was before.

    The tracking URI is left where ``prepare()`` put it: it is the user's own when they set one, and
    when they set none it stays on the store the runs went to, so that ``mlflow.get_run(ev.run_id)``
    finds them. Setting it back would also reset MLflow's tracer provider twice a call (an exporter
    and its threads each time), and a judge still scoring after Ctrl-C would write to the default store.
    """
    from mlflow.tracking import fluent

    experiment_before = getattr(fluent, "_active_experiment_id", None)
    environment_before = os.environ.get("MLFLOW_EXPERIMENT_ID")
    try:
        yield prepare(experiment, workspace)
    finally:
        if hasattr(fluent, "_active_experiment_id"):
            fluent._active_experiment_id = experiment_before
        if environment_before is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = environment_before
