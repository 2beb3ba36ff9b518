"""Plain REST with httpx and our own SSE parser: apps ``/responses``, ``/serving-endpoints/responses``,
``/serving-endpoints/chat/completions`` and ``/serving-endpoints/{name}/invocations``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.core.events import Done, ErrorEvent, Event
from agent_magics.core.request import AgentRequest, Timeouts, Via
from agent_magics.core.text import shorten
from agent_magics.transport.deadline import Watchdog, attempt_timeout, reached, stopped_text
from agent_magics.transport.failures import (
    describe_exception,
    describe_http_error,
    excerpt,
    html_page_message,
    is_html,
)
from agent_magics.transport.http import MAX_BODY, MAX_ERROR_BODY, BodyTooLarge
from agent_magics.transport.retry import RETRY_STATUSES, Failure, Retry, RetryPolicy, retrying
from agent_magics.wire import chat as chat_wire
from agent_magics.wire import responses as responses_wire
from agent_magics.wire.sse import DONE, MalformedStream, iter_lines, iter_sse_payloads

# What a translator raises on JSON of a shape no API sends (a list where an object goes, a null index,
# a string of digits too long for int): the event is skipped, not the rest of the answer.
SHAPE_ERRORS = (TypeError, AttributeError, KeyError, ValueError, IndexError, OverflowError, RecursionError)


def url_for(request: AgentRequest, base: str) -> str:
    base = base.rstrip("/")
    if request.kind == "endpoint":
        if request.api == "invocations":
            return f"{base}/serving-endpoints/{request.name}/invocations"
        return f"{base}/serving-endpoints/" + ("responses" if request.api == "responses" else "chat/completions")
    if base.endswith(("/responses", "/chat/completions", "/invocations")):
        return base
    return base + {"responses": "/responses", "chat": "/chat/completions", "invocations": "/invocations"}[request.api]


def read_bounded(response: httpx.Response, limit: int) -> bytes:
    """The decoded body, refusing it past ``limit`` bytes. ``BoundedClient`` already decodes 64 KB at
    a time and enforces the same limits; this also bounds a plain ``httpx.Client``'s responses."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit, response.status_code, response.headers.get("content-encoding"))
        chunks.append(chunk)
    return b"".join(chunks)


def stream_translator(request: AgentRequest) -> Any:
    if request.api == "responses" or (request.api == "invocations" and request.interface == "responses"):
        return responses_wire.ResponsesStream()
    if request.api == "invocations" and request.interface == "chat_agent":
        return chat_wire.ChatAgentStream()
    return chat_wire.ChatCompletionsStream()


def body_translator(request: AgentRequest) -> Any:
    if request.api == "responses" or (request.api == "invocations" and request.interface == "responses"):
        return responses_wire.body_events
    return chat_wire.completion_body_events


def open_response(
    client: httpx.Client,
    target: str,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    timeouts: Timeouts,
    policy: RetryPolicy,
    deadline: float | None,
) -> httpx.Response | Failure:
    """POST ``body`` to ``url``, retrying 429/503/connection errors before any byte is read.

    Returns an open streaming response with status 2xx, or the failure (its message names ``target``).
    """

    def send(attempt: int) -> httpx.Response | Retry | Failure:
        timeout = attempt_timeout(timeouts, deadline)
        try:
            response = client.send(
                client.build_request("POST", url, json=body, headers=headers, timeout=timeout), stream=True
            )
        except httpx.TimeoutException as exc:
            if reached(deadline):  # no answer yet at the --timeout: nothing was lost
                return Failure(f"{target}: {stopped_text(timeouts)}, before the agent answered.")
            if isinstance(exc, httpx.ConnectTimeout):
                return Retry(describe_exception(target, exc, timeouts=timeouts), reason="could not connect")
            return Failure(describe_exception(target, exc, timeouts=timeouts))
        except httpx.ConnectError as exc:
            return Retry(describe_exception(target, exc, timeouts=timeouts), reason="could not connect")
        except httpx.HTTPError as exc:
            return Failure(describe_exception(target, exc, timeouts=timeouts))
        if response.status_code < 300:
            return response
        status, response_headers = response.status_code, response.headers
        try:
            text = read_bounded(response, MAX_ERROR_BODY).decode("utf-8", "replace")
        except BodyTooLarge as exc:
            text = str(exc)
        finally:
            response.close()
        if 300 <= status < 400:
            return Failure(html_page_message(target))
        message = describe_http_error(target, status, text, response_headers, attempts=attempt, hints=policy.hints)
        return Retry(message, response_headers, str(status)) if status in RETRY_STATUSES else Failure(message)

    return retrying(send, policy, deadline)


class RestTransport:
    """Plain HTTP to ``base`` (a workspace host, an app URL or a URL target) with our own SSE parser."""

    via: Via = "rest"

    def __init__(self, http: httpx.Client, base: str) -> None:
        self.http = http
        self.base = base

    def events(self, request: AgentRequest, policy: RetryPolicy) -> Iterator[Event]:
        """Events for ``request``. Never raises for transport trouble: it yields errors."""
        deadline = time.monotonic() + request.timeouts.total if request.timeouts.total else None
        headers = {"Accept": "text/event-stream" if request.stream else "application/json", **request.extra_headers()}
        if request.kind == "url" and request.token_env:
            from agent_magics.transport.client import env_token

            try:
                headers["Authorization"] = f"Bearer {env_token(request.token_env)}"
            except AgentError as exc:
                yield ErrorEvent(str(exc))
                yield Done("failed")
                return
        opened = open_response(
            self.http,
            request.target,
            url_for(request, self.base),
            request.body(),
            headers,
            request.timeouts,
            policy,
            deadline,
        )
        if isinstance(opened, Failure):
            yield ErrorEvent(opened.message)
            yield Done("failed")
            return
        yield from response_events(request, opened, deadline)


def response_events(request: AgentRequest, response: httpx.Response, deadline: float | None) -> Iterator[Event]:
    """Events of an open 2xx response, which is closed at the end (also used by the client path)."""
    watchdog = Watchdog(response, deadline)
    try:
        content_type = response.headers.get("content-type", "")
        if is_html(content_type):
            yield ErrorEvent(html_page_message(request.target))
            yield Done("failed")
            return
        if "text/event-stream" in content_type:
            yield from _stream_events(request, response, deadline)
        else:
            yield from _body_events(request, read_bounded(response, MAX_BODY))
    except BodyTooLarge as exc:
        yield ErrorEvent(f"{request.target}: {exc}")
        yield Done("failed")
    except (httpx.HTTPError, MalformedStream, TimeoutError) as exc:
        # the read was cut by the wall clock, whatever httpx made of it
        problem: Exception = TimeoutError(timeout_text(request)) if watchdog.fired else exc
        message = (
            f"{request.target}: {problem}. Partial answer kept."
            if isinstance(problem, (MalformedStream, TimeoutError))
            else describe_exception(request.target, problem, timeouts=request.timeouts)
        )
        yield ErrorEvent(message)
        yield Done("failed")
    finally:
        watchdog.cancel()
        response.close()  # also when the consumer stops early (interrupt): drops the connection


def _stream_events(request: AgentRequest, response: httpx.Response, deadline: float | None) -> Iterator[Event]:
    translator = stream_translator(request)
    skipped, first_skipped = 0, ""
    failed = False
    ended = False  # a completion event arrived (some servers close without [DONE] after it)
    for payload in iter_sse_payloads(iter_lines(response.iter_bytes())):
        if payload is DONE:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(timeout_text(request))
        if not isinstance(payload, dict):
            continue
        ended = ended or _is_terminal(payload)
        try:
            events = list(translator.feed(payload))
        except SHAPE_ERRORS as exc:  # one event of a shape no API sends: skipped, the stream read on
            if isinstance(exc, (AgentError, AgentUsageError)):  # ours, already phrased: not a shape
                raise
            skipped += 1
            first_skipped = first_skipped or f"{type(exc).__name__} on {shorten(json.dumps(payload))}"
            continue
        for event in named_errors(request.target, events):
            failed = failed or isinstance(event, ErrorEvent)
            yield event
    else:  # no [DONE]: the server closed the stream; did the answer end?
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(timeout_text(request))
        if not ended and not failed:
            failed = True
            yield ErrorEvent(
                f"{request.target}: the stream stopped before the answer ended (no [DONE] and no completion "
                "event). Partial answer kept; try again."
            )
    close = getattr(translator, "close", None)
    if close is not None:
        try:
            closing = list(close())
        except SHAPE_ERRORS as exc:  # what a skipped event left half-merged (a tool call's parts)
            closing, skipped = [], skipped + 1
            first_skipped = first_skipped or f"{type(exc).__name__} at the end of the stream"
        yield from named_errors(request.target, closing)
    if skipped:
        failed = True
        yield ErrorEvent(
            f"{request.target}: {skipped} event(s) of the stream had an unexpected shape and were skipped "
            f"(first: {first_skipped}); the rest of the answer is kept. Check the target and --api."
        )
    yield Done("failed" if failed else "completed")


_TERMINAL = ("response.completed", "responses.completed", "response.incomplete", "response.failed")


def _is_terminal(payload: dict[str, Any]) -> bool:
    """A payload that ends an answer: a Responses completion, or a chat choice with its finish reason."""
    if payload.get("type") in _TERMINAL:
        return True
    choices = payload.get("choices")
    return isinstance(choices, list) and any(isinstance(c, dict) and c.get("finish_reason") for c in choices)


def timeout_text(request: AgentRequest) -> str:
    return stopped_text(request.timeouts)


def _body_events(request: AgentRequest, raw: bytes) -> Iterator[Event]:
    text = raw.decode("utf-8", "replace")
    if is_html(None, text[:200]):
        yield ErrorEvent(html_page_message(request.target))
        yield Done("failed")
        return
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        yield ErrorEvent(f"{request.target}: the answer was not JSON ({text[:80]!r}).")
        yield Done("failed")
        return
    if not isinstance(body, dict):
        yield ErrorEvent(not_an_answer(request, raw))
        yield Done("failed")
        return
    try:
        events = list(body_translator(request)(body))
    except SHAPE_ERRORS as exc:
        yield ErrorEvent(
            f"{request.target}: the answer has a shape no agent API sends ({type(exc).__name__} on "
            f"{excerpt(raw)}). Check the target and --api (responses, chat or invocations)."
        )
        yield Done("failed")
        return
    yield from named_errors(request.target, events)


def not_an_answer(request: AgentRequest, raw: bytes) -> str:
    """One line for a 2xx body that is JSON but not an object (a list, a string...): no API answers that."""
    from agent_magics.transport.failures import excerpt, not_a_json_object

    what = not_a_json_object(raw) or "not an answer"
    return (
        f"{request.target}: the answer was {what} ({excerpt(raw)}), which no agent API sends. "
        "Check the target and --api (responses, chat or invocations)."
    )


def named_errors(target: str, events: Iterable[Event]) -> Iterator[Event]:
    """An error the agent itself sent (the wire knows no target) is prefixed with the target, as ours are."""
    for event in events:
        yield ErrorEvent(f"{target}: {event.message}") if isinstance(event, ErrorEvent) else event
