"""What ``--into``, ``--estimate`` and ``--retry-failed`` add to a statement's run (kept out of execute.py).

``check_batch_options`` says which engine can honour which; ``answer_wrapper`` builds the local
engine's row-asker wrapper (``estimate.Sampler`` / ``retry_failed.Replayer``); ``after_local`` turns the
finished run into the estimate, or notes what a retry re-sent, and remembers a result's failed rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_magics.core.errors import AgentUsageError

if TYPE_CHECKING:
    from agent_magics.sql.execute import SqlOptions


def check_batch_options(engine: str, options: SqlOptions) -> None:
    """--into, --estimate and --retry-failed: which engine can honour which (see their modules)."""
    if options.estimate and options.into is not None:
        raise AgentUsageError("--estimate writes nothing: run it without --into first, then with --into.")
    if options.into is not None:
        from agent_magics.sql.into import check_table_name, refuse_locally

        check_table_name(options.into)
        if engine == "local":
            refuse_locally()
    if options.estimate or options.retry_failed is not None:
        what = "--estimate" if options.estimate else "--retry-failed"
        if engine != "local":
            raise AgentUsageError(
                f"{what} runs on the local engine (it answers the requests itself; a warehouse's or Databricks "
                "Spark's ai_query cannot be sampled or replayed): add --engine local over a DataFrame."
            )
    if options.estimate and options.sample < 1:
        raise AgentUsageError("--sample must be 1 or more.")
    if options.price_per_1k_tokens is not None and options.price_per_1k_tokens < 0:
        raise AgentUsageError("--price-per-1k-tokens must be 0 or more.")


def answer_wrapper(options: SqlOptions) -> tuple[Any, list[Any]]:
    """The LocalOptions.wrap for --estimate / --retry-failed, and a list that will hold the wrapper."""
    made: list[Any] = []
    if not options.estimate and options.retry_failed is None:
        return None, made

    def wrap(asker: Any) -> Any:
        if options.estimate:
            from agent_magics.sql.estimate import Sampler

            made.append(Sampler(asker, options.sample))
        else:
            from agent_magics.sql.retry_failed import Replayer

            made.append(Replayer(asker, options.retry_failed))
        return made[0]

    return wrap, made


def after_local(frame: Any, sql: str, options: SqlOptions, wrapper: list[Any], batch: Any, concurrency: int) -> Any:
    """--estimate: the estimate instead of the frame; --retry-failed: what was re-sent; failed rows remembered."""
    if options.estimate:
        from agent_magics.sql.estimate import estimate

        if not wrapper or not wrapper[0].requests:
            raise AgentUsageError("--estimate: this SQL calls no ai_query; there is nothing to estimate.")
        figures = estimate(wrapper[0], concurrency, options.price_per_1k_tokens)
        print(figures.line())
        return figures.frame()
    if options.retry_failed is not None and wrapper:
        print(
            f"agent_sql --retry-failed: sent {wrapper[0].sent:,} request{'s' if wrapper[0].sent != 1 else ''} "
            f"again, reused {wrapper[0].reused:,} answer{'s' if wrapper[0].reused != 1 else ''}."
        )
    if batch is not None and hasattr(frame, "columns"):
        from agent_magics.sql.retry_failed import remember

        remember(frame, sql, options.parameters, list(batch.records))
    return frame
