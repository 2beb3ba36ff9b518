"""Run one request: engine events -> reducer -> view, and the AgentResult at the end.

Also the plain-Python entry point ``ask()``, for scripts and for ``%agent_sql``'s ai_query.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any, Protocol

from agent_magics.core.events import ErrorEvent, Event, Reduction, RequestInfo, TraceReceived, finish, reduce_event
from agent_magics.core.request import AgentRequest, Timeouts
from agent_magics.core.result import AgentResult
from agent_magics.transport import dispatch as engines
from agent_magics.transport.retry import RetryPolicy
from agent_magics.transport.targets import choose_interface, parse_target
from agent_magics.transport.workspace import Workspace, get_workspace


class View(Protocol):
    def start(self, target: str) -> None:
        """Show the header (state "connecting")."""

    def on_event(self, state: Reduction, event: Event) -> None:
        """Called for every event after ``reduce_event``; cheap, coalesces."""

    def finish(self, result: AgentResult) -> None:
        """Final flush: leave the static rendering of ``result`` in place of the live view."""


class NullView:
    """Shows nothing (``--quiet``)."""

    def start(self, target: str) -> None:
        pass

    def on_event(self, state: Reduction, event: Event) -> None:
        pass

    def finish(self, result: AgentResult) -> None:
        pass


def execute(
    request: AgentRequest,
    workspace: Workspace | None,
    view: View | None = None,
    policy: RetryPolicy | None = None,
    debug: bool = False,
) -> AgentResult:
    """Stream ``request`` into ``view``; return the result (complete, failed or interrupted)."""
    view = view or NullView()
    state = Reduction()
    started = time.monotonic()
    status = None
    view.start(request.target)
    events: Iterator[Event] = engines.run(request, workspace, policy)
    try:
        for event in events:
            reduce_event(state, event)
            view.on_event(state, event)
    except KeyboardInterrupt:
        status = "interrupted"
        state.error = state.error or "interrupted by the user; partial answer kept"
    except Exception as exc:  # a bug of ours or an unforeseen library error: keep what arrived
        if debug:
            raise
        reduce_event(
            state,
            ErrorEvent(
                f"{request.target}: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
            ),
        )
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # closes the HTTP response if we stopped early
    if status is None and request.return_trace:
        _complete_trace(state, workspace, view)
    finish(state, status)  # type: ignore[arg-type]
    result = AgentResult.from_reduction(
        request.target,
        state,
        interface=request.interface,
        via=request.via if request.api != "invocations" else "rest",
        elapsed=time.monotonic() - started,
        input=list(request.input),
    )
    view.finish(result)
    if len(result.text) >= LARGE_ANSWER:
        release_memory()
    return result


# A large answer passes through several transient copies (SSE lines, JSON, markdown tokens, HTML,
# the display message). glibc keeps freed memory in the process, so without a trim the kernel's RSS
# would stay at that peak (~4x the answer) after the cell.
LARGE_ANSWER = 256_000


def release_memory() -> None:
    """Give free heap memory back to the OS (glibc's ``malloc_trim``; a no-op elsewhere)."""
    if sys.platform != "linux":
        return
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim  # musl and others have none: AttributeError
    except (OSError, AttributeError):
        return
    trim(0)


def _complete_trace(state: Reduction, workspace: Workspace | None, view: View) -> None:
    """Apps send only a trace id: fetch the trace itself from the workspace when we can."""
    if state.trace is not None or not state.trace_id or workspace is None:
        return
    from agent_magics.transport.trace_fetch import fetch_trace

    trace, problem = fetch_trace(workspace, state.trace_id)
    event: Event = TraceReceived(trace=trace) if trace is not None else RequestInfo({"trace_note": problem})
    reduce_event(state, event)
    view.on_event(state, event)


def build_request(
    target: str,
    input_items: list[dict[str, Any]],
    *,
    workspace: Workspace | None,
    api: str | None = None,
    via: str = "client",
    stream: bool = True,
    custom_inputs: dict[str, Any] | None = None,
    databricks_options: dict[str, Any] | None = None,
    return_trace: bool = False,
    timeouts: Timeouts | None = None,
    token_env: str | None = None,
    client_library: str = "openai",
) -> AgentRequest:
    kind, name = parse_target(target)
    interface, chosen_api = choose_interface(kind, name, api, workspace)
    return AgentRequest(
        target=target,
        kind=kind,
        name=name,
        interface=interface,
        api=chosen_api,
        via=via,  # type: ignore[arg-type]
        input=input_items,
        stream=stream,
        custom_inputs=custom_inputs,
        databricks_options=dict(databricks_options or {}),
        return_trace=return_trace,
        timeouts=timeouts or Timeouts(),
        token_env=token_env,
        client_library=client_library,
    )


def ask(
    target: str,
    question: str,
    *,
    profile: str | None = None,
    workspace: Workspace | None = None,
    stream: bool = False,
    **options: Any,
) -> AgentResult:
    """Ask an agent from plain Python (no IPython needed); returns the AgentResult."""
    kind, _ = parse_target(target)
    if workspace is None and kind != "url":
        workspace = get_workspace(profile)
    request = build_request(
        target, [{"role": "user", "content": question}], workspace=workspace, stream=stream, **options
    )
    return execute(request, workspace)
