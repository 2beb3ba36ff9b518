"""ai_query failures on the local warehouse, worded as a Databricks SQL warehouse words them.

A warehouse reports a failed model call with an error class, the endpoint's own HTTP answer and a
SQLSTATE, and nothing about the client that sent the statement. Observed on Databricks (see
docs/wire-shapes.md): a 4xx fails at once as
``[REMOTE_FUNCTION_HTTP_FAILED_ERROR] The remote HTTP request failed with code 403, and error message
'<the endpoint's error JSON>' SQLSTATE: 57012``; a 5xx (and 429) is retried first and then fails as
``REMOTE_FUNCTION_HTTP_RETRY_TIMEOUT`` (that wording is ours).

``ServingFailures`` watches the warehouse's HTTP client (an httpx response hook) and keeps the last
failed answer of a serving endpoint, so the statement's error can quote it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx

SQLSTATE_REMOTE_FUNCTION = "57012"


@dataclass(frozen=True)
class ServingFailure:
    status: int
    body: str


class ServingFailures:
    def __init__(self) -> None:
        self._last: ServingFailure | None = None
        self._lock = threading.Lock()

    def watch(self, client: httpx.Client) -> None:
        client.event_hooks.setdefault("response", []).append(self._record)

    def _record(self, response: httpx.Response) -> None:
        if response.status_code < 400 or "/serving-endpoints/" not in response.request.url.path:
            return
        response.read()  # the body is read once here; the caller's read() returns the same bytes
        body = " ".join(response.text.split())[:1000]
        with self._lock:
            self._last = ServingFailure(response.status_code, body)

    @property
    def last(self) -> ServingFailure | None:
        with self._lock:
            return self._last


def ai_query_error(failure: ServingFailure, retries: int) -> dict[str, str]:
    """The statement's ``status.error`` for a model call that failed with ``failure``."""
    quoted = failure.body.replace("'", "\\'")
    if failure.status >= 500 or failure.status == 429:
        message = (
            f"[REMOTE_FUNCTION_HTTP_RETRY_TIMEOUT] The remote request failed after retrying {retries} times; "
            f"the last failed HTTP error code was {failure.status} and the message was '{quoted}' "
            f"SQLSTATE: {SQLSTATE_REMOTE_FUNCTION}"
        )
    else:
        message = (
            f"[REMOTE_FUNCTION_HTTP_FAILED_ERROR] The remote HTTP request failed with code {failure.status}, "
            f"and error message '{quoted}' SQLSTATE: {SQLSTATE_REMOTE_FUNCTION}"
        )
    return {"error_code": "BAD_REQUEST", "message": message}
