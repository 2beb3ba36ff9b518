"""Turn transport failures into one clear line: what failed, for which target, and what to do.

Classification is by HTTP status and exception type, never by searching message text.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from typing import Any

import httpx

from agent_magics.core.text import one_line

MAX_DETAIL = 300

_HINTS = {
    400: "the endpoint rejected the request; check --api, --custom-inputs and the question format",
    401: "authentication failed; check your token or profile (`databricks auth login`), or --profile",
    403: "permission denied; you need CAN QUERY on the endpoint (CAN USE on an app)",
    404: "not found; check the name (`%agent --list` shows the workspace's endpoints and apps)",
    405: "method not allowed; the target may not implement this API (try --api or --via rest)",
    408: "the server timed out the request; try again or raise --timeout",
    413: "the request is too large; shorten the question or the conversation (--continue)",
    429: "rate limited; wait a moment and run the cell again, or raise %config AgentMagics.max_retries",
    500: "the agent failed with an internal error; check the endpoint or app logs",
    502: "bad gateway; the endpoint or app may be restarting, try again shortly",
    503: "the endpoint is unavailable or scaling from zero; try again shortly",
    504: "the gateway timed out waiting for the agent; try again or raise --timeout",
}


def server_message(text: str) -> str:
    """The human part of an error body: Databricks ``message``, FastAPI ``detail``, OpenAI ``error``."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail")
            if value:
                return _short(str(value))
    if text.lstrip().lower().startswith(("<!doctype html", "<html")):
        return "an HTML page"
    return _short(text)


def _short(text: str) -> str:
    from agent_magics.core import secrets

    return one_line(secrets.redact(text), MAX_DETAIL)  # redacted before the cut: a cut secret is not found


_APP_HINTS = {
    403: "permission denied; you need CAN USE on the app",
    404: "the app does not serve the OpenAI Responses API (POST /responses); check that it implements it",
    405: "the app does not serve the OpenAI Responses API (POST /responses); check that it implements it",
}


# %agent_sql's own advice (its options, not %%agent's)
SQL_HINTS = {429: "rate limited; lower --concurrency or raise --retries"}


def describe_http_error(
    target: str,
    status: int,
    body: str,
    headers: Mapping[str, str] | None = None,
    attempts: int = 1,
    hints: Mapping[int, str] | None = None,
) -> str:
    """One line for an HTTP failure; ``hints`` replace the default advice (a magic's own options)."""
    detail = server_message(body).rstrip(". ") if body else ""
    hints = {**_HINTS, **(_APP_HINTS if target.startswith("apps/") else {}), **(hints or {})}
    hint = hints.get(status) or ("the server failed; try again later" if status >= 500 else "the request failed")
    if status == 429 and headers and headers.get("retry-after"):
        hint += f" (the server asked to wait {headers['retry-after']} s)"
    detail_part = f": {detail}" if detail else ""
    gave_up = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
    return f"{target}: HTTP {status}{detail_part}. {hint[0].upper()}{hint[1:]}{gave_up}."


def describe_exception(target: str, exc: BaseException, *, timeouts: Any = None) -> str:
    """A transport exception (httpx or openai) as one line."""
    if isinstance(exc, httpx.ConnectTimeout):
        return (
            f"{target}: could not connect within the connect timeout. "
            "Check the host, or raise %config AgentMagics.connect_timeout."
        )
    if isinstance(exc, httpx.ReadTimeout):
        limit = getattr(timeouts, "read", None)
        limit_text = f" {limit:g} s" if isinstance(limit, (int, float)) else ""
        return (
            f"{target}: no data for{limit_text} (read timeout). The agent may still be thinking: raise it with "
            "--timeout SECONDS or %config AgentMagics.read_timeout."
        )
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc) or "connection refused"
        if caused_by(exc, socket.gaierror):
            return f"{target}: unknown host ({reason}). Check the workspace URL / app URL."
        return f"{target}: could not connect ({reason}). Is the host right and the endpoint or app running?"
    if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
        reason = str(exc) or type(exc).__name__
        return f"{target}: the connection dropped mid-answer ({reason}). Partial answer kept; run the cell again."
    return f"{target}: {type(exc).__name__}: {exc}"


def caused_by(exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]) -> bool:
    """Is ``exc``, or an exception it was raised from or during, a ``kind``?"""
    seen: BaseException | None = exc
    for _ in range(10):  # bounded walk of the exception chain
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_html(content_type: str | None, text_start: str = "") -> bool:
    if content_type and "text/html" in content_type.lower():
        return True
    return text_start.lstrip().lower().startswith(("<!doctype html", "<html"))


def html_page_message(target: str) -> str:
    return (
        f"{target}: the server answered with an HTML page instead of the agent (usually a login page). "
        "Databricks Apps need an OAuth token: run `databricks auth login` or use OAuth client credentials."
    )


# -- Answers that are not the JSON an API promises ------------------------------------------------
_EXCERPT = 60


def not_a_json_object(body: bytes) -> str | None:
    """Why ``body`` is not a JSON object (None when it is one): "an empty body", "a JSON array", ..."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return "an empty body"
    if is_html(None, text[:200]):
        return "an HTML page"
    try:
        value = json.loads(text)
    except ValueError:
        return "a body that is not JSON"
    if isinstance(value, dict):
        return None
    kinds = {list: "a JSON array", str: "a JSON string", bool: "a JSON boolean", type(None): "JSON null"}
    return kinds.get(type(value), "a JSON number") + ", not an object"


def excerpt(body: bytes) -> str:
    """The first bytes of a body, secrets redacted before cutting (a cut secret would not be recognised)."""
    from agent_magics.core import secrets

    text = secrets.redact_cut(body[:4096].decode("utf-8", "replace"))
    return repr(one_line(text, _EXCERPT))


def shown_location(location: str) -> str:
    """A redirect's target without its query (sessions and tokens travel there)."""
    from urllib.parse import urlsplit

    from agent_magics.core import secrets

    parts = urlsplit(location)
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.scheme else parts.path
    return secrets.redact(shown)[:120] or "(nowhere)"


def unexpected_answer(
    where: str, status: int, headers: Mapping[str, str], body: bytes, host: str, too_large: str | None = None
) -> str:
    """One line for an API answer that is not its JSON object: what came back, and what to do.

    ``too_large``: the body was refused while read (its size, decoded); ``body`` is then empty.
    """
    content_type = (headers.get("content-type") or "no content type").split(";")[0].strip()
    if too_large is not None:
        got = f"HTTP {status} {content_type} {too_large}"
        why = "not a Databricks workspace API"
    elif 300 <= status < 400:
        got = f"HTTP {status} redirecting to {shown_location(headers.get('location') or '')}"
        why = "a login page or a proxy in front of the workspace"
    else:
        problem = not_a_json_object(body) or "a JSON object of the wrong shape"
        sample = f": {excerpt(body)}" if body.strip() else ""
        got = f"HTTP {status} {content_type}, {problem}{sample}"
        html = problem == "an HTML page"
        why = "a login page or a proxy in front of the workspace" if html else "not a Databricks workspace API"
    return (
        f"{where}: expected a JSON object, got {got}. That is {why}: check that {host} is the workspace URL "
        "(https://<workspace>.cloud.databricks.com, from DATABRICKS_HOST or the profile) and that you are "
        "logged in (`databricks auth login`)."
    )
