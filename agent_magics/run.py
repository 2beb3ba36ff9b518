"""Build a request and run it: transport events -> reducer -> view, and the AgentResult at the end.

This is also the public Python API (re-exported lazily by ``agent_magics``), usable from any script
with no IPython::

    from agent_magics import ask, stream, Conversation

    ask("demo-agent", "What is MLflow?").text
    for chunk in (answer := stream("demo-agent", "What is MLflow?")):
        print(chunk, end="")
    answer.result.status

The options have the names and defaults of ``%%agent``'s (``--return-trace`` is ``return_trace``...).
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

if TYPE_CHECKING:  # annotations only (never evaluated): no runtime dependency on typing_extensions
    from typing_extensions import Unpack

from agent_magics.core import defaults, secrets
from agent_magics.core.comparison import AgentComparison
from agent_magics.core.defaults import ApiChoice, ClientLibrary, ClientLibraryChoice, ViaChoice
from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.core.events import (
    RETRY_NOTE,
    Done,
    ErrorEvent,
    Event,
    ItemDone,
    Reduction,
    RequestInfo,
    Status,
    TextDelta,
    TraceReceived,
    finish,
    message_text,
    reduce_event,
)
from agent_magics.core.request import AgentRequest, Timeouts, Via
from agent_magics.core.result import AgentResult
from agent_magics.transport.retry import RetryPolicy, RetryWait
from agent_magics.transport.select import Transport, select_transport
from agent_magics.transport.targets import choose_interface, parse_target
from agent_magics.transport.workspace import Workspace, get_workspace


def choose_client_library(choice: ClientLibraryChoice = defaults.CLIENT_LIBRARY) -> ClientLibrary:
    """``auto``: DatabricksOpenAI when it is already imported (its ~5 s import is paid), else ``openai``."""
    if choice == "auto":
        return "databricks-openai" if "databricks_openai" in sys.modules else "openai"
    return choice


def choose_via(choice: ViaChoice = defaults.VIA, library: ClientLibrary | None = None) -> Via:
    """``auto``: the client path only with DatabricksOpenAI, else REST.

    Both paths send the same request and read the stream with the same parser, but the client path
    imports openai and builds its client (~1 s of a cold kernel's first cell).
    """
    if choice == "auto":
        return "client" if (library or choose_client_library()) == "databricks-openai" else "rest"
    return choice


class View(Protocol):
    """What a live view implements (``agent_magics.view`` has them); :class:`NullView` shows nothing."""

    def start(self, target: str) -> None:
        """Show the header (state "connecting")."""

    def on_event(self, state: Reduction, event: Event) -> None:
        """Called for every event after ``reduce_event``; cheap, coalesces."""

    def finish(self, result: AgentResult) -> None:
        """Final flush: leave the static rendering of ``result`` in place of the live view."""


class NullView:
    """Shows nothing (``--quiet``, and the Python API)."""

    def start(self, target: str) -> None:
        pass

    def on_event(self, state: Reduction, event: Event) -> None:
        pass

    def finish(self, result: AgentResult) -> None:
        pass


def build_request(
    target: str,
    input_items: list[dict[str, Any]],
    *,
    workspace: Workspace | None,
    api: ApiChoice | None = defaults.API,
    via: Via = "rest",
    stream: bool = defaults.STREAM,
    custom_inputs: dict[str, Any] | None = None,
    databricks_options: dict[str, Any] | None = None,
    return_trace: bool = defaults.RETURN_TRACE,
    timeouts: Timeouts | None = None,
    token_env: str | None = None,
    client_library: ClientLibrary = "openai",
) -> AgentRequest:
    kind, name = parse_target(target)
    interface, chosen_api = choose_interface(kind, name, api, workspace, via)
    return AgentRequest(
        target=target,
        kind=kind,
        name=name,
        interface=interface,
        api=chosen_api,
        via=via,
        input=input_items,
        stream=stream,
        custom_inputs=custom_inputs,
        databricks_options=dict(databricks_options or {}),
        return_trace=return_trace,
        timeouts=timeouts or Timeouts(),
        token_env=token_env,
        client_library=client_library,
    )


class Redactor:
    """The boundary where transport events become shown and stored data: every secret the process holds
    is replaced by ``[REDACTED]`` (also one split across text deltas), whatever the agent echoed."""

    def __init__(self) -> None:
        self._streams: dict[str, secrets.StreamRedactor] = {}

    def events(self, event: Event) -> list[Event]:
        if isinstance(event, TextDelta):
            stream = self._streams.setdefault(event.item_id, secrets.StreamRedactor())
            text = stream.feed(event.delta)
            return [dataclasses.replace(event, delta=text)] if text else []
        # Held-back tails go out where the text they belong to ends (an item, an error, the end), not
        # before the usage a chat stream reports after every chunk: the next delta may complete them.
        flushed = self.flush() if isinstance(event, (ItemDone, ErrorEvent, Done)) else []
        if not secrets.known():
            return [*flushed, event]
        fields = {f.name: secrets.redact_value(getattr(event, f.name)) for f in dataclasses.fields(event)}
        redacted = dataclasses.replace(event, **fields)
        cut = any(isinstance(e, TextDelta) and e.delta == secrets.REDACTED for e in flushed)
        if cut and isinstance(redacted, ItemDone) and redacted.item.get("type", "message") == "message":
            # The stream stopped inside a secret and its start was redacted live: the finished message
            # (which replaces the deltas in the result) ends the same way, not with the raw start.
            redacted = dataclasses.replace(redacted, item=_with_redacted_end(redacted.item))
        return [*flushed, redacted]

    def flush(self) -> list[Event]:
        out: list[Event] = []
        for item_id, stream in self._streams.items():
            text = stream.flush()
            if text:
                out.append(TextDelta(item_id=item_id, delta=text))
        return out


def _with_redacted_end(item: dict[str, Any]) -> dict[str, Any]:
    content = item.get("content")
    if isinstance(content, str):
        return {**item, "content": secrets.redact_end(content)}
    if isinstance(content, list):
        parts = [
            {**part, "text": secrets.redact_end(part["text"])}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
        return {**item, "content": parts}
    return item


def _has_text(event: Event) -> bool:
    """Does ``event`` bring answer text (a delta, or a whole message that did not stream)?"""
    if isinstance(event, TextDelta):
        return bool(event.delta)
    return (
        isinstance(event, ItemDone)
        and event.item.get("type", "message") == "message"
        and bool(message_text(event.item))
    )


class Execution:
    """One request in flight: iterate it for its events (each already folded and shown), then ``result()``.

    Failures of the transport arrive as events; a bug or an unforeseen library error is kept as an
    error (with whatever text arrived), and Ctrl-C stops at once, keeping the partial answer.
    """

    def __init__(
        self,
        request: AgentRequest,
        workspace: Workspace | None,
        view: View | None = None,
        policy: RetryPolicy | None = None,
        debug: bool = False,
        transport: Transport | None = None,
    ) -> None:
        self.request = request
        self.transport = transport  # None: chosen by select_transport
        self.workspace = workspace
        self.view = view or NullView()
        # Every retry's wait is shown as it starts, and counted in request_info["retries"].
        self.policy = dataclasses.replace(policy or RetryPolicy(), on_wait=self._on_wait)
        self.debug = debug
        self.state = Reduction()
        self.via: Via = request.via
        self._status: Status | None = None
        self._started = time.monotonic()
        self._first_text: float | None = None
        self._result: AgentResult | None = None
        self._stop = threading.Event()  # set from another thread (compare's Ctrl-C)
        self._view_failed = False
        self._redactor = Redactor()
        # Held while an event is folded in: partial_result() copies the state from another thread,
        # and a message half moved from pending_chunks to output would be in neither copy.
        self._folding = threading.Lock()

    def _fold(self, event: Event) -> Iterator[Event]:
        for shown in self._redactor.events(event):
            with self._folding:
                reduce_event(self.state, shown)
            self._show(shown)
            yield shown

    def _fold_tail(self) -> Iterator[Event]:
        """Text the redactor held back (a possible secret's prefix) once nothing more can complete it."""
        for shown in self._redactor.flush():
            with self._folding:
                reduce_event(self.state, shown)
            self._show(shown)
            yield shown

    def stop(self) -> None:
        """Ask the stream to stop at its next event, keeping what arrived (status ``interrupted``)."""
        self._stop.set()

    def partial_result(self) -> AgentResult:
        """What arrived so far, as an interrupted result, while another thread may still be reading
        the stream (a comparison's Ctrl-C when a target sent nothing within the grace): built from a
        copy of the state, with no view and no trace fetch."""
        # The reading thread folds events under _folding (one event at a time, microseconds): waited
        # for briefly; without it (a reader stuck inside a fold) the copy is retried as it grows.
        locked = self._folding.acquire(timeout=1.0)
        try:
            copy = self._copy_state()
        finally:
            if locked:
                self._folding.release()
        note = "stopped while waiting for the agent; partial answer kept"
        copy.error = secrets.redact(f"{copy.error}; {note}" if copy.error else note)
        finish(copy, "interrupted")
        return self._result_of(copy, first_text=self._first_text)

    def _copy_state(self) -> Reduction:
        for _ in range(100):  # a copy of lists the reading thread appends to: retry if one grew mid-copy
            try:
                copy = Reduction(
                    output=list(self.state.output),
                    custom_outputs=self.state.custom_outputs,
                    trace=self.state.trace,
                    trace_id=self.state.trace_id,
                    request_info=dict(self.state.request_info),
                    error=self.state.error,
                    pending_chunks={key: list(chunks) for key, chunks in list(self.state.pending_chunks.items())},
                )
                return copy
            except RuntimeError:  # "dictionary changed size during iteration"
                continue
        return Reduction()

    def _result_of(self, state: Reduction, first_text: float | None) -> AgentResult:
        """``state`` (finished) as this request's result, timed from its start to now."""
        elapsed = time.monotonic() - self._started
        timings = {"total": elapsed}
        if first_text is not None:
            timings["first_text"] = first_text
        return AgentResult.from_reduction(
            self.request.target,
            state,
            interface=self.request.interface,
            via=self.via,
            elapsed=elapsed,
            timings=timings,
            input=list(self.request.input),
        )

    def _on_wait(self, wait: RetryWait) -> None:
        where = f"{wait.reason} from {self.request.target}"
        note = f"{where}: retrying in {wait.seconds:g} s, {wait.attempt} of {wait.retries}"
        event = RequestInfo({"retries": wait.attempt, RETRY_NOTE: note})
        reduce_event(self.state, event)
        self._show(event)
        self.state.request_info.pop(RETRY_NOTE, None)  # the view's, not the result's

    def _events(self) -> Iterator[Event]:
        try:
            transport = self.transport or select_transport(self.request, self.workspace)
        except (AgentError, AgentUsageError) as exc:  # e.g. a --token-env value with a control character
            return iter([ErrorEvent(str(exc)), Done("failed")])
        self.via = transport.via
        return transport.events(self.request, self.policy)

    def __iter__(self) -> Iterator[Event]:
        events: Iterator[Event] = iter(())
        try:
            # Inside the try: choosing the transport can take a while (an app's URL, an OAuth
            # token, building DatabricksOpenAI), and Ctrl-C or a library error there is a result too.
            self.view.start(self.request.target)
            events = self._events()
            for event in events:
                if self._first_text is None and _has_text(event):
                    self._first_text = time.monotonic() - self._started
                yield from self._fold(event)
                if self._stop.is_set():
                    raise KeyboardInterrupt
            yield from self._fold_tail()
        except KeyboardInterrupt:
            self._status = "interrupted"
            self.state.error = self.state.error or "interrupted by the user; partial answer kept"
        except GeneratorExit:  # the caller stopped reading (a break, or an exception in its loop)
            self._status = "interrupted"
            self.state.error = self.state.error or "stopped before the end by the caller; partial answer kept"
            raise
        except Exception as exc:  # a bug of ours or an unforeseen library error: keep what arrived
            if self.debug:
                raise
            message = f"{self.request.target}: unexpected {type(exc).__name__}: {exc}"
            reduce_event(self.state, ErrorEvent(secrets.redact(f"{message} (rerun with --debug for the traceback)")))
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # closes the HTTP response if we stopped early

    def _show(self, event: Event) -> None:
        """The view's turn; a view that fails stops showing, and the answer goes on (kept, marked)."""
        if self._view_failed:
            return
        try:
            self.view.on_event(self.state, event)
        except Exception as exc:
            if self.debug:
                raise
            self._view_failed = True
            reduce_event(self.state, ErrorEvent(self._view_problem(exc)))

    def _view_problem(self, exc: Exception) -> str:
        return (
            f"{self.request.target}: the answer could not be shown ({type(exc).__name__}: {exc}); "
            "what arrived is kept in the result (rerun with --debug for the traceback)"
        )

    def result(self) -> AgentResult:
        """The final result (once; the view is finished with it)."""
        if self._result is not None:
            return self._result
        if self._status is None and self.request.return_trace:
            try:
                self._complete_trace()
            except KeyboardInterrupt:  # the answer is whole; only its trace is missing
                note = "interrupted while fetching the trace; the answer is kept"
                failed = bool(self.state.error) or self.state.status == "failed"  # stays failed, its error first
                self.state.error = f"{self.state.error}; {note}" if self.state.error else note
                if not failed:
                    self._status = "interrupted"
        for event in self._redactor.flush():  # an interrupt may have left a held-back tail
            reduce_event(self.state, event)
        if self.state.error:
            self.state.error = secrets.redact(self.state.error)
        finish(self.state, self._status)
        self._result = self._result_of(self.state, self._first_text)
        try:
            self.view.finish(self._result)
        except KeyboardInterrupt:  # the final rendering of a big answer takes a while: the result is kept
            note = "interrupted while the answer was shown; the whole answer is kept in the result"
            error = f"{self._result.error}; {note}" if self._result.error else note
            self._result = dataclasses.replace(self._result, status="interrupted", error=error)
        except Exception as exc:
            if self.debug:
                raise
            problem = self._view_problem(exc)
            error = f"{self._result.error}; {problem}" if self._result.error else problem
            self._result = dataclasses.replace(self._result, status="failed", error=error)
        if len(self._result.text) >= LARGE_ANSWER:
            release_memory()
        return self._result

    def _complete_trace(self) -> None:
        """Apps send only a trace id: fetch the trace itself from the workspace when we can."""
        state = self.state
        if state.trace is not None or not state.trace_id or self.workspace is None:
            return
        from agent_magics.transport.trace_fetch import fetch_trace

        trace, problem = fetch_trace(self.workspace, state.trace_id)
        event: Event = TraceReceived(trace=trace) if trace is not None else RequestInfo({"trace_note": problem})
        for _ in self._fold(event):
            pass


def execute(
    request: AgentRequest,
    workspace: Workspace | None,
    view: View | None = None,
    policy: RetryPolicy | None = None,
    debug: bool = False,
) -> AgentResult:
    """Stream ``request`` into ``view``; return the result (complete, failed or interrupted)."""
    execution = Execution(request, workspace, view, policy, debug)
    for _ in execution:
        pass
    return execution.result()


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


# -- the public Python API ----------------------------------------------------------------------


class Stream:
    """An answer as it arrives: iterate for text chunks; ``.result`` is the ``AgentResult`` once consumed.

    Reading ``.result`` consumes the rest of the stream first. Leaving a ``for`` loop early (a
    ``break``, an exception) stops the answer: the loop drops its iterator, and ``.result`` is then
    ``interrupted``, with what arrived. An iterator kept alive (``it = iter(stream)``) is read on.
    """

    def __init__(self, execution: Execution) -> None:
        self._execution = execution
        self._started = False
        # The one iterator over the answer, held weakly: a for loop left early drops it, which closes
        # it and marks the answer interrupted; one the caller keeps alive is read on by .result.
        self._chunks: Callable[[], Iterator[str] | None] = lambda: None

    def __iter__(self) -> Iterator[str]:
        if self._started:
            return iter(())  # consumed once
        self._started = True
        chunks = self._text()
        self._chunks = weakref.ref(chunks)
        return chunks

    def _text(self) -> Iterator[str]:
        for event in self._execution:
            if isinstance(event, TextDelta) and event.delta:
                yield event.delta

    @property
    def result(self) -> AgentResult:
        # The rest of the answer first: before iterating, or from where a loop left a live iterator
        # (a closed one, as a for loop's is after a break, has already marked the answer interrupted).
        live = self._chunks()
        for _ in live if live is not None else iter(self):
            pass
        return self._execution.result()

    def stop(self) -> None:
        """Stop the answer at its next event, from any thread; ``.result`` keeps what arrived."""
        self._execution.stop()

    def __repr__(self) -> str:
        state = "finished" if self._execution._result is not None else "streaming"
        return f"<Stream {self._execution.request.target}: {state}>"


@dataclass
class Conversation:
    """Several turns with one target, each sending the earlier turns again (``%%agent --continue``).

    ``conversation.ask(question)`` / ``conversation.stream(question)`` take the options of :func:`ask`;
    options given here apply to every turn.
    """

    target: str
    system: str | None = None
    options: AskOptions = field(default_factory=lambda: AskOptions())
    history: list[dict[str, Any]] = field(default_factory=list)
    turns: int = 0

    def ask(self, question: str, **options: Unpack[AskOptions]) -> AgentResult:
        return self.stream(question, **options).result

    def stream(self, question: str, **options: Unpack[AskOptions]) -> Stream:
        turn = _turn(question, self.system if not self.history else None)
        merged: AskOptions = {**self.options, **options}
        answer = _stream(self.target, [*self.history, *turn], **merged)
        return _Recorded(answer._execution, self, turn)


class _Recorded(Stream):
    """A conversation's stream: its turn joins the history when the answer is complete (kept if any)."""

    def __init__(self, execution: Execution, conversation: Conversation, turn: list[dict[str, Any]]) -> None:
        super().__init__(execution)
        self._conversation = conversation
        self._turn = turn
        self._recorded = False

    @property
    def result(self) -> AgentResult:
        result = super().result
        if not self._recorded and result.output:
            self._recorded = True
            conversation = self._conversation
            conversation.history = [*conversation.history, *self._turn, *result.output]
            conversation.turns += 1
        return result


class AskOptions(TypedDict, total=False):
    """The keyword options of :func:`ask`, :func:`stream` and :class:`Conversation` (as ``%%agent``'s)."""

    custom_inputs: dict[str, Any] | None
    return_trace: bool
    databricks_options: dict[str, Any] | None
    profile: str | None
    workspace: Workspace | None
    timeout: float | None
    via: ViaChoice
    api: ApiChoice
    token_env: str | None
    stream: bool
    client_library: ClientLibraryChoice
    connect_timeout: float
    read_timeout: float
    max_retries: int
    retry_max_wait: float


def _check_choices(via: str, api: str, client_library: str) -> None:
    """The magic's argument parser refuses these; from Python a typo would quietly take another path."""
    for name, value, choices in (
        ("via", via, defaults.VIA_CHOICES),
        ("api", api, defaults.API_CHOICES),
        ("client_library", client_library, defaults.CLIENT_LIBRARY_CHOICES),
    ):
        if value not in choices:
            raise AgentUsageError(f"{name}={value!r}: use one of {', '.join(map(repr, choices))}.")


def _check_options(where: str, options: Mapping[str, Any]) -> None:
    """Options given to :func:`compare` checked before anything is sent, as ``ask`` would check them."""
    unknown = sorted(set(options) - set(AskOptions.__annotations__))
    if unknown:
        known = ", ".join(sorted(AskOptions.__annotations__))
        raise AgentUsageError(f"compare: unknown option(s) {', '.join(unknown)} in {where}: use {known}.")
    _check_choices(
        options.get("via", defaults.VIA),
        options.get("api", defaults.API),
        options.get("client_library", defaults.CLIENT_LIBRARY),
    )
    Timeouts(  # refuses a negative or nan timeout in one line
        connect=options.get("connect_timeout", defaults.CONNECT_TIMEOUT),
        read=options.get("read_timeout", defaults.READ_TIMEOUT),
        total=options.get("timeout"),
    )


def _turn(question: str, system: str | None) -> list[dict[str, Any]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": question}]


def _stream(
    target: str,
    input_items: list[dict[str, Any]],
    *,
    custom_inputs: dict[str, Any] | None = None,
    return_trace: bool = defaults.RETURN_TRACE,
    databricks_options: dict[str, Any] | None = None,
    profile: str | None = None,
    workspace: Workspace | None = None,
    timeout: float | None = None,
    via: ViaChoice = defaults.VIA,
    api: ApiChoice = defaults.API,
    token_env: str | None = None,
    stream: bool = defaults.STREAM,
    client_library: ClientLibraryChoice = defaults.CLIENT_LIBRARY,
    connect_timeout: float = defaults.CONNECT_TIMEOUT,
    read_timeout: float = defaults.READ_TIMEOUT,
    max_retries: int = defaults.MAX_RETRIES,
    retry_max_wait: float = defaults.RETRY_MAX_WAIT,
) -> Stream:
    _check_choices(via, api, client_library)
    kind, _ = parse_target(target)
    if workspace is None and kind != "url":
        workspace = get_workspace(profile)
    library = choose_client_library(client_library)
    request = build_request(
        target,
        input_items,
        workspace=workspace,
        api=api,
        via=choose_via(via, library),
        stream=stream,
        custom_inputs=custom_inputs,
        databricks_options=databricks_options,
        return_trace=return_trace,
        timeouts=Timeouts(
            connect=connect_timeout, read=min(read_timeout, timeout) if timeout else read_timeout, total=timeout
        ),
        token_env=token_env,
        client_library=library,
    )
    policy = RetryPolicy(max_retries=max_retries, max_wait=retry_max_wait)
    return Stream(Execution(request, workspace, policy=policy))


def stream(target: str, question: str, *, system: str | None = None, **options: Unpack[AskOptions]) -> Stream:
    """Ask ``target`` and iterate the answer's text as it arrives; ``.result`` once consumed.

    Options (keyword-only, as ``%%agent``'s): ``custom_inputs``, ``return_trace``, ``databricks_options``,
    ``profile`` / ``workspace``, ``timeout`` (total seconds), ``via`` (auto | client | rest), ``api``
    (auto | responses | chat | invocations), ``token_env`` (URL targets), ``stream`` (wire streaming,
    default True), ``client_library``, ``connect_timeout``, ``read_timeout``, ``max_retries``,
    ``retry_max_wait``. With no workspace configured the embedded local workspace is used.
    """
    return _stream(target, _turn(question, system), **options)


def ask(target: str, question: str, *, system: str | None = None, **options: Unpack[AskOptions]) -> AgentResult:
    """Ask ``target`` one question from plain Python and return the ``AgentResult`` (options: :func:`stream`)."""
    return stream(target, question, system=system, **options).result


def compare(
    targets: list[str],
    question: str,
    *,
    system: str | None = None,
    per_target: dict[str, AskOptions] | None = None,
    views: list[View] | None = None,
    histories: dict[str, list[dict[str, Any]]] | None = None,
    debug: bool = False,
    **options: Unpack[AskOptions],
) -> AgentComparison:
    """Ask every target the same question at the same time; their answers side by side, in target order.

    ``per_target`` maps a target to options of its own (``custom_inputs``, ``api``, ``via`` ...) over
    ``options``. One target failing or timing out does not stop the others; Ctrl-C stops them all and
    keeps every partial answer (status ``interrupted``). ``views`` (one per target) show them live.
    ``histories`` maps a target to the earlier turns of its own conversation, sent before the question.
    ``debug``: an unexpected error (a bug, a library's) is raised here with its traceback, not kept
    as that target's error.
    """
    if not targets:
        raise AgentUsageError("compare: name at least one target.")
    for target in targets:
        parse_target(target)  # a mistake in any target is reported before anything is sent
    if len(set(targets)) != len(targets):
        raise AgentUsageError("compare: each target once (a target named twice would be asked twice).")
    per_target = per_target or {}
    strangers = [name for name in per_target if name not in targets]
    if strangers:
        named = ", ".join(map(repr, strangers))
        raise AgentUsageError(f"compare: per_target names {named}, not one of the targets ({', '.join(targets)}).")
    _check_options("options", options)
    for target, own in per_target.items():
        _check_options(f"per_target[{target!r}]", {**options, **own})
    executions: list[Execution | None] = [None] * len(targets)
    results: list[AgentResult | None] = [None] * len(targets)
    stopping = threading.Event()  # Ctrl-C: a worker still looking up its target does not start

    finished = [threading.Event() for _ in targets]

    bugs: list[Exception] = []

    def work(index: int, target: str) -> None:
        try:
            answer(index, target)
        except Exception as exc:  # not an answer's failure (those are events): ours or a library's
            if debug:
                bugs.append(exc)
            else:
                problem = f"{target}: unexpected {type(exc).__name__}: {exc} (rerun with --debug for the traceback)"
                results[index] = AgentResult(target=target, text="", status="failed", error=secrets.redact(problem))
        finally:
            finished[index].set()

    def answer(index: int, target: str) -> None:
        merged: AskOptions = {**options, **per_target.get(target, {})}
        try:
            history = (histories or {}).get(target, [])
            execution = _stream(target, [*history, *_turn(question, system)], **merged)._execution
        except (AgentError, AgentUsageError) as exc:  # this target only: the others go on
            failed = results[index] = AgentResult(target=target, text="", status="failed", error=str(exc))
            if views is not None:  # its column shows the failure now, not "connecting" until the end
                views[index].finish(failed)
            return
        if stopping.is_set():
            return
        if views is not None:
            execution.view = views[index]
        execution.debug = debug
        executions[index] = execution
        if stopping.is_set():  # set after the main thread went through the executions: stop this one too
            execution.stop()
        for _ in execution:
            pass
        keep(index, execution.result())

    kept = threading.Lock()

    def keep(index: int, result: AgentResult) -> None:
        """The first result of a target stays: its own, or the partial one taken after Ctrl-C's grace."""
        with kept:
            if results[index] is None:
                results[index] = result

    threads = [threading.Thread(target=work, args=pair, daemon=True) for pair in enumerate(targets)]
    for thread in threads:
        thread.start()
    # Each worker's own Event, not Thread.join: on Python 3.11 a join that Ctrl-C interrupts can leave
    # the thread reported as finished while it still runs, and its partial answer would be lost.
    try:
        for event in finished:
            while not event.wait(0.1):  # short waits: Ctrl-C reaches the main thread at once
                pass
    except KeyboardInterrupt:
        stopping.set()
        for execution in executions:
            if execution is not None:
                execution.stop()
        give_up = time.monotonic() + STOP_GRACE
        try:
            for event in finished:
                event.wait(max(0.0, give_up - time.monotonic()))
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting, keep what each target has
            pass
        for index, execution in enumerate(executions):
            if results[index] is None and execution is not None:  # still waiting for its next event
                execution.view = NullView()  # it may read on after the cell: it shows nothing more
                keep(index, execution.partial_result())  # unless it finished meanwhile
    if bugs:
        raise bugs[0]
    done = [
        result or AgentResult(target=target, text="", status="interrupted", error="stopped before it answered")
        for target, result in zip(targets, results)
    ]
    return AgentComparison(question=question, results=done)


STOP_GRACE = 5.0  # seconds each stopped stream may take to reach its next event after Ctrl-C
