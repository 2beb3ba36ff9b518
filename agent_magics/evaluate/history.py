"""The previous evaluation of the same target on the same data, read back from MLflow.

Each target's run is tagged with a digest of its data (every row's question, expectations and custom
inputs, in order) and keeps its per-row verdicts as a small JSON artifact. The next evaluation of
that target on data with the same digest, in the same experiment, finds the latest finished run so
tagged; the scorecard then shows each scorer's change in pass rate and the rows that passed then and
fail now. The lookup lives in MLflow, not in the kernel: yesterday's run counts too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent_magics.evaluate.dataset import Row

DIGEST_TAG = "agent_magics.data_digest"
TARGET_DIGEST_TAG = "agent_magics.target_digest"  # the target as hex: safe in a search filter
VERDICTS_FILE = "agent_magics/verdicts.json"
FORMAT = 1
CANDIDATES = 5  # runs of the target on the same data looked at, newest first (one whose verdicts are gone is skipped)

Verdicts = list[dict[str, bool | None]]  # per data row: scorer -> passed (None: no verdict)


def data_digest(rows: Sequence[Row]) -> str:
    """Same rows in the same order, same digest: what "the same data" means here."""
    # repr for keys json cannot sort (a dict mixing int and str keys): a digest never fails
    try:
        text = json.dumps([row.record() for row in rows], sort_keys=True, default=str)
    except TypeError:
        text = repr([row.record() for row in rows])
    return _hex(text)


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class PreviousRun:
    run_id: str
    verdicts: Verdicts


def record(run_id: str, target: str, digest: str, verdicts: Verdicts) -> None:
    """Tag ``run_id`` with the data's and the target's digests and keep its per-row verdicts beside it.

    Only a run that scored every row is recorded, so a tagged run is a whole baseline, even when it
    later ended KILLED (Ctrl-C during a later target of the same evaluation ends them all)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    client.log_dict(run_id, {"format": FORMAT, "rows": verdicts}, VERDICTS_FILE)
    client.set_tag(run_id, TARGET_DIGEST_TAG, _hex(target))
    client.set_tag(run_id, DIGEST_TAG, digest)  # last: a tagged run always has its verdicts


def find_previous(experiment_id: str, target: str, digest: str, exclude: set[str]) -> PreviousRun | None:
    """The newest finished run of ``target`` on data with ``digest``, other than those in ``exclude``."""
    from mlflow import MlflowClient

    client = MlflowClient()
    # Both digests are hex: nothing from the notebook is pasted into the filter as it is.
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{DIGEST_TAG}` = '{digest}' and tags.`{TARGET_DIGEST_TAG}` = '{_hex(target)}'",
        order_by=["attributes.start_time DESC"],
        max_results=CANDIDATES,
    )
    for run in runs:
        if run.info.run_id in exclude:
            continue
        verdicts = _load_verdicts(client, run.info.run_id)
        if verdicts is not None:
            return PreviousRun(run.info.run_id, verdicts)
    return None


def _load_verdicts(client: Any, run_id: str) -> Verdicts | None:
    import tempfile
    from pathlib import Path

    try:
        with tempfile.TemporaryDirectory() as directory:
            path = client.download_artifacts(run_id, VERDICTS_FILE, directory)
            data = json.loads(Path(path).read_text())
    except Exception:  # a run whose artifact is gone or unreadable is not a baseline
        return None
    rows = data.get("rows") if isinstance(data, dict) and data.get("format") == FORMAT else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        return None
    return [{str(k): v if isinstance(v, bool) else None for k, v in row.items()} for row in rows]


@dataclass(frozen=True)
class Change:
    """One scorer's pass rate before and after, over the rows both evaluations scored."""

    scorer: str
    before: float
    after: float
    rows: int

    @property
    def delta(self) -> float:
        return self.after - self.before


@dataclass(frozen=True)
class Regression:
    """A row that passed a scorer in the previous evaluation and does not now."""

    index: int
    scorers: tuple[str, ...]


def changes(before: Verdicts, after: Verdicts, scorers: Sequence[str]) -> list[Change]:
    """Per scorer both runs have: pass rates over the rows both scored (a row with no verdict fails)."""
    common = range(min(len(before), len(after)))
    out = []
    for name in scorers:
        if not common or not any(name in row for row in before):
            continue
        b = sum(before[i].get(name) is True for i in common) / len(common)
        a = sum(after[i].get(name) is True for i in common) / len(common)
        out.append(Change(name, b, a, len(common)))
    return out


def regressions(before: Verdicts, after: Verdicts, scorers: Sequence[str]) -> list[Regression]:
    found = []
    for index in range(min(len(before), len(after))):
        lost = tuple(s for s in scorers if before[index].get(s) is True and after[index].get(s) is not True)
        if lost:
            found.append(Regression(index, lost))
    return found
