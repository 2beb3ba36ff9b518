"""Run an evaluation: ``mlflow.genai.evaluate`` per target, its predict function our engine.

Each question goes through ``agent_magics.run`` (the engine behind ``%%agent``: retries, timeouts),
with ``return_trace`` so that the agent's own spans (tool calls, model calls) are added to the
trace MLflow records for the row, where judges and code scorers see them. MLflow's worker pool bounds
the concurrency (``MLFLOW_GENAI_EVAL_MAX_WORKERS``). One MLflow run per target, nested under one
parent run, so several targets are compared in one place.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.core.result import AgentResult
from agent_magics.core.secrets import redact
from agent_magics.evaluate import history
from agent_magics.evaluate.dataset import Row, rows_from_frame
from agent_magics.evaluate.partial import InFlight, finished_rows, mark_interrupted
from agent_magics.evaluate.result import SCORER_ERROR_CHARS, EvalResult, RowScore, Since, TargetRun
from agent_magics.evaluate.scorers import default_judge, default_names, resolve
from agent_magics.evaluate.tracking import is_local, scoped, tracks_to_databricks

logger = logging.getLogger("agent_magics.evaluate")


class AgentAnswerError(RuntimeError):
    """The agent did not answer a row: the row's trace records this, and the row counts as failed."""


@dataclass
class Tally:
    """Rows done and failed so far (what the progress bar reads), updated from MLflow's workers."""

    submitted: int = 0
    done: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def count(self, ok: bool) -> None:
        with self._lock:
            self.done += 1
            self.failed += 0 if ok else 1


def _lent_credentials(workspace: Any) -> dict[str, str]:
    """The environment that MLflow's Databricks provider needs to reach ``workspace``'s judge."""
    config = getattr(workspace, "config", None)
    token = getattr(config, "token", None)
    client_id, client_secret = getattr(config, "client_id", None), getattr(config, "client_secret", None)
    if token:
        return {"DATABRICKS_HOST": workspace.host, "DATABRICKS_TOKEN": token}
    if client_id and client_secret:
        return {
            "DATABRICKS_HOST": workspace.host,
            "DATABRICKS_CLIENT_ID": client_id,
            "DATABRICKS_CLIENT_SECRET": client_secret,
        }
    return {}


@contextlib.contextmanager
def _lent_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in the environment for the block, then put back what was there."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _judge_environment(workspace: Any) -> dict[str, str]:
    """MLflow's Databricks provider builds its own WorkspaceClient from the environment; when the
    workspace came from elsewhere (the embedded local one), lend it that workspace's host and
    credentials (a token, or OAuth client credentials) for the run."""
    return _lent_credentials(workspace) if workspace is not None and not os.environ.get("DATABRICKS_HOST") else {}


def _mlflow_environment(local: bool) -> dict[str, str]:
    """What MLflow is told for our evaluation only, not for the user's own ``mlflow.genai.evaluate``.

    Our predict function always traces, so MLflow need not call it once more to check (the user's
    may not: MLflow then wraps it in a trace, which a process-wide skip would stop). MLflow's
    artifact downloads (the previous verdicts) draw a tqdm bar, and ending a run on a tracking
    server prints the run's URL (the scorecard links it); on the local workspace its judges
    would fetch a model catalog from GitHub (three tries, 5 s each) for a demo endpoint no catalog
    lists. What the user set themselves is left alone."""
    wanted = {
        "MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    }
    if local:
        wanted["MLFLOW_MODEL_CATALOG_URI"] = ""  # MLflow's documented "no remote fetch"
    return {key: value for key, value in wanted.items() if key not in os.environ}


@contextlib.contextmanager
def _without_mlflow_output() -> Iterator[None]:
    """Ours is the one progress bar and the one summary. MLflow's harness shows a tqdm bar (a widget
    in a kernel, left in the saved notebook) unless tqdm is missing, a case it handles; make it look
    missing meanwhile. After each run it prints (or, in a kernel, displays) a "results are in MLflow"
    box: one per target, beside a scorecard that links the run already."""
    try:
        from mlflow.genai.evaluation import base, harness
    except ImportError:
        yield
        return
    saved = []
    if hasattr(harness, "tqdm"):
        saved.append((harness, "tqdm", harness.tqdm))
        harness.tqdm = None
    if hasattr(base, "display_evaluation_output"):
        saved.append((base, "display_evaluation_output", base.display_evaluation_output))
        base.display_evaluation_output = lambda run_id: None
    try:
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


class _MlflowRetries:
    """Which failed rows MLflow will ask again: it retries a predict error that reads like a rate limit
    (MLFLOW_GENAI_EVAL_MAX_RETRIES times). Those attempts are not rows, so the progress counts a row once."""

    def __init__(self) -> None:
        try:
            from mlflow.environment_variables import MLFLOW_GENAI_EVAL_MAX_RETRIES
            from mlflow.genai.evaluation.rate_limiter import is_rate_limit_error
        except ImportError:  # an MLflow that does not retry
            self.budget, self._retried = 0, lambda error: False
        else:
            self.budget = int(MLFLOW_GENAI_EVAL_MAX_RETRIES.get() or 0)
            self._retried = lambda error: is_rate_limit_error(AgentAnswerError(error))
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def will_retry(self, question: str, custom_inputs: Any, error: str) -> bool:
        key = json.dumps([question, custom_inputs], sort_keys=True, default=str)
        with self._lock:
            attempts = self._attempts.get(key, 0)
            if self._retried(error) and attempts < self.budget:
                self._attempts[key] = attempts + 1
                return True
            self._attempts.pop(key, None)
            return False


def _in_mlflow_trace_check() -> bool:
    """Is predict being called by MLflow's trace check, not for a row? MLflow's harness sets a
    prediction context around every row's call; its check before the rows runs without one."""
    try:
        from mlflow.pyfunc.context import get_prediction_context
    except ImportError:  # an MLflow without it: no check to tell apart (ours skips it by default)
        return False
    return get_prediction_context() is None


def _predict_fn(
    target: str,
    options: Mapping[str, Any],
    answers: dict[str, tuple[str, AgentResult]],
    tally: Tally,
    tick: Callable[[], None],
    in_flight: InFlight,
) -> Callable[..., str]:
    import mlflow

    from agent_magics.run import stream

    retries = _MlflowRetries()

    # Our own root span, so the row's trace is "the question went to TARGET and this text came back",
    # with the agent's trace under it (MLflow would otherwise take the agent's root as the row's).
    # Every row traced, whatever MLFLOW_TRACE_SAMPLING_RATIO says: MLflow's results table leaves out
    # a row with no trace, and the row would be neither scored nor failed.
    @mlflow.trace(name=target, span_type="AGENT", sampling_ratio_override=1.0)
    def predict(question: str, custom_inputs: dict[str, Any] | None = None) -> str:
        if in_flight.cancelled.is_set():  # a row MLflow starts after Ctrl-C: not asked at all
            raise AgentAnswerError("not asked: the evaluation was interrupted")
        merged = {**options, "return_trace": True}
        if custom_inputs:
            merged["custom_inputs"] = custom_inputs
        trace_id = mlflow.get_active_trace_id()
        try:
            answer = stream(target, question, **merged)
        except (AgentError, AgentUsageError) as exc:  # e.g. a misspelt target: this row failed, saying why
            result = AgentResult(target=target, text="", status="failed", error=str(exc))
        else:
            in_flight.add(answer)
            try:
                result = answer.result
            finally:
                in_flight.discard(answer)
        if _in_mlflow_trace_check():
            # MLflow's check that predict traces (a user's MLFLOW_GENAI_EVAL_SKIP_TRACE_VALIDATION=false)
            # calls it once with tracing off: not a row, so not counted, and a failure must not abort
            # the evaluation (the row itself is asked again and reports it).
            return result.text
        if trace_id is not None:  # (always set: sampled at 1.0 above)
            answers[trace_id] = (question, result)
        if not result.ok and retries.will_retry(question, custom_inputs, result.error or ""):
            # MLflow asks this row again (its own rate-limit retry): the row is not done yet.
            raise AgentAnswerError(result.error or f"the agent's answer is {result.status}")
        if result.trace_dict:
            with contextlib.suppress(Exception):  # a trace MLflow cannot read must not fail the row
                mlflow.add_trace(result.trace_dict)
        tally.count(result.ok)
        tick()
        if not result.ok:
            raise AgentAnswerError(result.error or f"the agent's answer is {result.status}")
        return result.text

    return predict


def evaluate(
    targets: Sequence[str],
    data: Any,
    *,
    scorers: Sequence[str] | None = None,
    judge: str | None = None,
    guidelines: str | None = None,
    namespace: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    progress: Any = None,
    data_name: str = "data",
    **options: Any,
) -> EvalResult:
    """Ask every target every question of ``data`` (a DataFrame) and score the answers with MLflow.

    ``scorers``: names (see :mod:`agent_magics.evaluate.scorers`); default: those the data allows.
    ``judge``: the serving endpoint MLflow's judges use (default: ``demo-judge`` on the local
    workspace, else MLflow's own default). ``options``: as :func:`agent_magics.run.ask`'s.
    ``progress``: a ``view.progress.Progress`` (or None).
    """
    from agent_magics.core.extras import require_extra

    require_extra("evaluate")
    if not targets:
        raise AgentUsageError("agent_eval: name at least one target.")
    if len(set(targets)) != len(targets):
        raise AgentUsageError("agent_eval: each target once.")
    rows = rows_from_frame(data, data_name)
    names = list(scorers) if scorers else default_names(any(r.expectations for r in rows), bool(guidelines))
    if "correctness" in names and not any(r.expectations for r in rows):
        raise AgentUsageError("correctness needs an 'expected_response' or 'expected_facts' column in --data.")
    workspace = options.get("workspace")
    if workspace is None:
        from agent_magics.transport.workspace import get_workspace

        workspace = get_workspace(options.get("profile"))
    if judge is None:
        judge = default_judge(names, local=is_local(workspace), databricks_tracking=tracks_to_databricks())
    resolved = resolve(names, judge=judge, guidelines=guidelines, namespace=namespace)
    options = {**options, "workspace": workspace} if workspace is not None else options
    import mlflow

    tally = Tally(submitted=len(rows) * len(targets))
    lock = threading.Lock()

    def tick(force: bool = False) -> None:
        if progress is not None:
            with lock:
                progress.tick(lambda: (tally, ()), force=force)

    group = uuid.uuid4().hex[:12]
    digest = history.data_digest(rows)
    runs: list[TargetRun] = []
    in_flight = InFlight()
    interrupted = False
    names_resolved = [str(s.name) for s in resolved]
    title = f"agent_eval {', '.join(targets)}"
    # Lent until every run has ended: marking Ctrl-C's runs KILLED below ends them too (and prints URLs).
    lent = {**_judge_environment(workspace), **_mlflow_environment(is_local(workspace))}
    # MLflow's active experiment is the evaluation's until the runs have ended, and the user's after.
    with _progress_ends_on_failure(progress, tally), _lent_environment(lent), scoped(experiment, workspace) as tracking:
        with _without_mlflow_output(), mlflow.start_run(run_name=title) as parent:
            mlflow.set_tags({"agent_magics.eval_group": group, "agent_magics.targets": ",".join(targets)})
            for target in targets:
                answers: dict[str, tuple[str, AgentResult]] = {}
                child_id = ""
                try:
                    with mlflow.start_run(run_name=target, nested=True) as child:
                        child_id = child.info.run_id
                        mlflow.set_tag("agent_magics.target", target)
                        outcome = mlflow.genai.evaluate(
                            data=[row.record() for row in rows],
                            predict_fn=_predict_fn(target, options, answers, tally, tick, in_flight),
                            scorers=resolved,
                        )
                    run = _target_run(target, child_id, rows, outcome, answers)
                    if len(run.rows) == len(rows) and not run.left_out:  # every row scored: a baseline for next time
                        run.since = _since_last(run, child.info.experiment_id, digest, names_resolved)
                    runs.append(run)
                except KeyboardInterrupt:
                    # Ctrl-C: stop the answers in flight, keep the rows already answered and scored.
                    in_flight.cancel()
                    interrupted = True
                    if child_id:
                        runs.append(
                            TargetRun(target, child_id, finished_rows(target, child_id, rows, answers, names_resolved))
                        )
                    break
        result = EvalResult(runs=runs, scorer_names=names_resolved, run_id=parent.info.run_id)
        result.run_url = tracking.run_url(parent.info.experiment_id, parent.info.run_id)
        if interrupted:
            result.interrupted = True
            result.planned = len(rows) * len(targets)
            mark_interrupted([parent.info.run_id, *result.run_ids.values()], len(result.rows), result.planned)
    tick(force=True)
    if progress is not None:
        state = f" · interrupted: {len(result.rows)} of {result.planned} rows kept" if interrupted else ""
        progress.close(f"agent_eval: {tally.done} answers · {tally.failed} failed · {tally.elapsed:.1f} s{state}")
    return result


@contextlib.contextmanager
def _progress_ends_on_failure(progress: Any, tally: Tally) -> Iterator[None]:
    """An evaluation that fails (MLflow, the tracking store) ends its progress line too, not mid-count."""
    try:
        yield
    except Exception:
        if progress is not None:
            counts = f"{tally.done} answers · {tally.failed} failed · {tally.elapsed:.1f} s"
            progress.close(f"agent_eval: failed after {counts}")
        raise


def _since_last(run: TargetRun, experiment_id: str, digest: str, scorers: list[str]) -> Since | None:
    """Compare ``run`` with the previous evaluation of its target on the same data, then keep its own
    verdicts for the next one. History is a convenience: a tracking store that cannot answer must not
    fail the evaluation, so problems here are logged and the scorecard simply shows no change."""
    verdicts = run.verdicts(scorers)
    since = None
    try:
        previous = history.find_previous(experiment_id, run.target, digest, exclude={run.run_id})
        if previous is not None:
            since = Since(
                previous.run_id,
                history.changes(previous.verdicts, verdicts, scorers),
                history.regressions(previous.verdicts, verdicts, scorers),
            )
        history.record(run.run_id, run.target, digest, verdicts)
    except Exception as exc:
        logger.warning("agent_eval: no comparison with the previous evaluation (%s)", redact(str(exc))[:300])
    return since


def _target_run(
    target: str, run_id: str, rows: list[Row], outcome: Any, answers: dict[str, tuple[str, AgentResult]]
) -> TargetRun:
    table = outcome.tables.get("eval_results") if hasattr(outcome, "tables") else None
    scores: list[RowScore] = []
    records = table.to_dict("records") if table is not None else []
    for index, record in enumerate(records):
        request = record.get("request") or {}
        question = request.get("question") if isinstance(request, dict) else str(request)
        answer = answers.get(str(record.get("trace_id")), ("", None))[1]
        values, scorer_errors = {}, {}
        for key, value in record.items():
            if isinstance(key, str) and key.endswith("/value"):
                name = key[: -len("/value")]
                values[name] = (value, record.get(f"{name}/rationale"))
            elif isinstance(key, str) and key.endswith("/error_message") and isinstance(value, str) and value.strip():
                # a scorer that raised: MLflow keeps its message beside a value of None
                scorer_errors[key[: -len("/error_message")]] = redact(" ".join(value.split()))[:SCORER_ERROR_CHARS]
        scores.append(
            RowScore(
                target=target,
                question=str(question if question is not None else rows[index].question),
                answer=answer.text if answer is not None else str(record.get("response") or ""),
                values=values,
                ok=answer.ok if answer is not None else record.get("state") == "OK",
                error=answer.error if answer is not None else None,
                latency=answer.elapsed if answer is not None else None,
                tokens=answer.usage.get("total_tokens") if answer is not None else None,
                trace_id=str(record.get("trace_id")),
                scorer_errors=scorer_errors,
            )
        )
    missing = _left_out(target, rows, scores)
    return TargetRun(target=target, run_id=run_id, rows=[*scores, *missing], left_out=len(missing))


def _left_out(target: str, rows: list[Row], scores: list[RowScore]) -> list[RowScore]:
    """The dataset's rows MLflow's results table does not hold (its table keeps only traced rows, or
    none when it could not be built): failed, saying so, so that every row is accounted for."""
    from collections import Counter

    present = Counter(score.question for score in scores)
    missing = []
    for row in rows:
        if present[row.question] > 0:
            present[row.question] -= 1
        else:
            reason = "MLflow's evaluation results do not hold this row (no trace was recorded for it)"
            missing.append(RowScore(target=target, question=row.question, answer="", values={}, ok=False, error=reason))
    return missing
