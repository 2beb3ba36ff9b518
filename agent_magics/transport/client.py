"""The OpenAI-compatible client path: ``responses.create`` and ``chat.completions.create``.

By default this is the ``openai`` package with databricks-sdk auth, which sends exactly what
``DatabricksOpenAI`` sends (base URL ``<host>/serving-endpoints``, the app URL from the Apps API
for ``apps/<name>``, OAuth required for apps, ids over 64 characters cut) without importing
databricks-openai's ~5 s of dependencies. ``client_library="databricks-openai"`` uses
``DatabricksOpenAI`` itself. Whole answers are dumped to the same dicts the REST path parses, and
streams are read by the REST path's SSE parser, so both paths end in the same events.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from agent_magics.core import secrets
from agent_magics.core.events import Done, ErrorEvent, Event
from agent_magics.core.request import AgentRequest, Via
from agent_magics.transport.failures import describe_exception, describe_http_error, html_page_message
from agent_magics.transport.http import BodyTooLarge
from agent_magics.transport.retry import RETRY_STATUSES, Failure, Retry, RetryPolicy, retrying
from agent_magics.wire import chat as chat_wire
from agent_magics.wire import responses as responses_wire


def _dump(obj: Any) -> dict[str, Any]:
    # exclude_unset keeps exactly what the server sent, extras (custom_outputs, trace_id) included
    return obj.model_dump(mode="json", exclude_unset=True, warnings=False)


def make_openai_client(base_url: str, http_client: Any, api_key: str = "unused") -> Any:
    from openai import OpenAI

    # max_retries=0: retries are ours, identical on every path
    return OpenAI(base_url=base_url, api_key=api_key, http_client=http_client, max_retries=0)


class ClientTransport:
    """An OpenAI(-compatible) client object: ``responses.create`` or ``chat.completions.create``."""

    via: Via = "client"

    def __init__(self, client: Any, model: str) -> None:
        self.client = client
        self.model = model

    def events(self, request: AgentRequest, policy: RetryPolicy) -> Iterator[Event]:
        """Events for ``request``. Never raises for transport trouble: it yields errors."""
        deadline = time.monotonic() + request.timeouts.total if request.timeouts.total else None
        hints = policy.hints
        answer = retrying(lambda n: _call(self.client, self.model, request, n, hints, deadline), policy, deadline)
        if isinstance(answer, Failure):
            yield ErrorEvent(answer.message)
            yield Done("failed")
            return
        if not request.stream:
            if not hasattr(answer, "model_dump"):  # openai returns the raw text, or JSON that is not an object
                yield ErrorEvent(_not_a_model(request, answer))
                yield Done("failed")
                return
            body = _dump(answer)
            translate = responses_wire.body_events if request.api == "responses" else chat_wire.completion_body_events
            from agent_magics.transport.rest import named_errors

            yield from named_errors(request.target, translate(body))
            return
        yield from _stream(request, answer, deadline)


def _not_a_model(request: AgentRequest, answer: Any) -> str:
    import json

    from agent_magics.transport.failures import is_html
    from agent_magics.transport.rest import not_an_answer

    if isinstance(answer, str) and is_html(None, answer[:200]):
        return html_page_message(request.target)
    raw = answer.encode() if isinstance(answer, str) else json.dumps(answer, default=_plain).encode()
    return not_an_answer(request, raw)


def _plain(value: Any) -> Any:
    """A model openai built from a list's items, back to what the server sent."""
    return _dump(value) if hasattr(value, "model_dump") else str(value)


def _call(
    client: Any, model: str, request: AgentRequest, attempt: int, hints: Mapping[int, str], deadline: float | None
) -> Any:
    """One attempt: the client's answer, a :class:`Retry` or a :class:`Failure`."""
    import openai

    from agent_magics.transport.deadline import attempt_timeout, reached, stopped_text

    kwargs: dict[str, Any] = {
        "model": model,
        "stream": request.stream,
        "extra_body": request.extra_body() or None,
        "extra_headers": request.extra_headers() or None,
        "timeout": attempt_timeout(request.timeouts, deadline),
    }
    if request.api == "responses":
        call, kwargs["input"] = client.responses.create, request.responses_input()
    else:
        call, kwargs["messages"] = client.chat.completions.create, request.chat_messages()
    try:
        return call(**kwargs)
    except BodyTooLarge as exc:  # an error body past its limit, read by the client (BoundedClient's cap)
        return Failure(_too_large(request.target, exc, attempt, hints))
    except (openai.APIStatusError, openai.APIConnectionError) as exc:
        error: Exception = exc
    except ValueError as exc:  # DatabricksOpenAI's app routing errors (OAuth, no URL, 404 hints)
        # It wraps the app's own HTTP and connection errors in a ValueError with a hint: the
        # status (a 503 while the app starts is retried) and the cause (a body too large) are in them.
        if not isinstance(exc.__cause__, (openai.APIStatusError, openai.APIConnectionError)):
            return Failure(f"{request.target}: {' '.join(str(exc).split())}")
        error = exc.__cause__
    if isinstance(error, openai.APITimeoutError) and reached(deadline):  # no answer yet at the --timeout
        return Failure(f"{request.target}: {stopped_text(request.timeouts)}, before the agent answered.")
    return _client_error(error, request, attempt, hints)


def _client_error(exc: Exception, request: AgentRequest, attempt: int, hints: Mapping[int, str]) -> Retry | Failure:
    """An openai status or connection error as a :class:`Retry` or a :class:`Failure`."""
    import httpx  # loaded already: openai's client is built on it
    import openai

    if isinstance(exc, openai.APIStatusError):
        text = exc.response.text if exc.response is not None else str(exc.message)
        headers = exc.response.headers
        message = describe_http_error(request.target, exc.status_code, text, headers, attempts=attempt, hints=hints)
        if exc.status_code in RETRY_STATUSES:
            return Retry(message, headers, str(exc.status_code))
        return Failure(message)
    cause = exc.__cause__
    if isinstance(cause, BodyTooLarge):  # a whole answer past its limit, read inside the client
        return Failure(_too_large(request.target, cause, attempt, hints))
    message = describe_exception(request.target, cause or exc, timeouts=request.timeouts)
    # openai wraps every error of the send as a connection error. Only a request that never
    # reached the server is sent again (as on the REST path): after it did, the agent has run
    # (and been paid for) whatever failed later (a body cut mid-way, a refused encoding).
    never_sent = isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout))
    if isinstance(exc, openai.APITimeoutError) or not never_sent:
        return Failure(message)
    return Retry(message, reason="could not connect")


def _too_large(target: str, exc: BodyTooLarge, attempt: int, hints: Mapping[int, str]) -> str:
    if exc.status >= 300:  # the status still says what failed; the body is what was refused
        return describe_http_error(target, exc.status, str(exc), None, attempts=attempt, hints=hints)
    return f"{target}: {exc}"


def _stream(request: AgentRequest, stream: Any, deadline: float | None) -> Iterator[Event]:
    """The client sent the request and checked its status; the SSE bytes go through our parser.

    Iterating the SDK's ``Stream`` builds a pydantic model per event (~0.3 ms a token, the
    bottleneck of a fast stream and several times the cost of everything else per token); the
    REST path's parser gives the same events from the same bytes.
    """
    from agent_magics.transport.rest import response_events

    yield from response_events(request, stream.response, deadline)


def url_token(request: AgentRequest) -> str:
    if request.token_env:
        return env_token(request.token_env)
    return "unused"


def env_token(name: str) -> str:
    """The ``--token-env`` variable's token: cleaned of a file's trailing newline, and registered."""
    token = secrets.clean_credential(os.environ.get(name, ""), f"${name} (--token-env)")
    secrets.register(token)
    return token
