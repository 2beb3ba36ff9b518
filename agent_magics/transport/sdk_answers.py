"""What a workspace sent when databricks-sdk could not read it: Statement Execution and OAuth.

The sdk turns a login page, a redirect or a list into ``JSONDecodeError`` / ``AttributeError`` (or,
for an empty body, an object with no id that is then polled forever). Its ``WorkspaceClient`` gets a
response hook that checks each answer is a JSON object (bounded in size) before the sdk parses it;
OAuth runs through module-level ``requests`` calls no hook reaches, so when the sdk chokes there
the endpoint is asked once more by us, to say what it answers.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any
from urllib.parse import urlsplit

import httpx

from agent_magics.core import secrets
from agent_magics.core.errors import AgentError
from agent_magics.transport.failures import caused_by, not_a_json_object, unexpected_answer
from agent_magics.transport.http import MAX_BODY, PIECE, BodyTooLarge, BoundedClient

_DISCOVERY = "/oidc/.well-known/oauth-authorization-server"


def guard_sdk_answers(client: Any, host: str) -> None:
    """Have ``client`` (a ``WorkspaceClient``) refuse answers that are not a JSON object, by name."""
    session = getattr(getattr(getattr(client, "api_client", None), "_api_client", None), "_session", None)
    hooks = getattr(session, "hooks", None)
    if isinstance(hooks, dict) and isinstance(hooks.get("response"), list):
        hooks["response"].append(functools.partial(_check_answer, host))


def _check_answer(host: str, response: Any, *args: Any, **kwargs: Any) -> Any:
    if kwargs.get("stream") or response.status_code >= 400:
        return response  # downloads are the caller's; the sdk's error parser reads error bodies
    request = response.request
    path = urlsplit(request.url).path
    where = f"{_shown(host)}: {request.method} {path}"
    if response.status_code >= 300:
        raise AgentError(unexpected_answer(where, response.status_code, response.headers, b"", host))
    body = _bounded_content(response, where, host)
    stripped = body.strip()
    if not stripped and (request.method == "DELETE" or path.endswith("/cancel")):
        return response  # nothing to say is a fine answer there
    if stripped[:1] == b"{" and stripped[-1:] == b"}":
        return response  # an object (the sdk parses it; a full parse here would double the cost)
    if not_a_json_object(body) is not None:
        raise AgentError(unexpected_answer(where, response.status_code, response.headers, body, host))
    return response


def _bounded_content(response: Any, where: str, host: str) -> bytes:
    """The body, read (and decoded) 64 KB at a time up to ``MAX_BODY``; kept as the response's content."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(PIECE):
        size += len(chunk)
        if size > MAX_BODY:
            response.close()
            too_large = BodyTooLarge(MAX_BODY, response.status_code, response.headers.get("content-encoding"))
            raise AgentError(
                unexpected_answer(where, response.status_code, response.headers, b"", host, too_large.size_text)
            )
        chunks.append(chunk)
    body = b"".join(chunks)
    response._content = body  # what requests' .content returns from now on (read once)
    return body


_PARSE_ERRORS = (json.JSONDecodeError, TypeError, KeyError, AttributeError)


def register_basic(client_id: str | None, client_secret: str | None) -> None:
    """The ``Basic`` form of OAuth client credentials is a secret too (a proxy may echo the header)."""
    if client_id and client_secret:
        secrets.register(client_secret, base64.b64encode(f"{client_id}:{client_secret}".encode()).decode())


def discovery_problem(host: str, timeout: float) -> str | None:
    """What is wrong with the workspace's OAuth discovery answer (None: a JSON object, or no answer at all).

    Asked before databricks-sdk builds an OAuth config: the sdk follows a redirect to a login host
    and retries it for minutes, or takes an empty answer and fails later on ``Invalid URL 'None'``.
    """
    where = f"{_shown(host)}: OAuth discovery (GET {_DISCOVERY})"
    try:
        with BoundedClient(timeout=httpx.Timeout(timeout), follow_redirects=False) as client:
            response = client.get(host.rstrip("/") + _DISCOVERY)
    except BodyTooLarge as big:
        return unexpected_answer(where, big.status, {"content-type": big.content_type}, b"", host, big.size_text)
    except httpx.HTTPError:
        return None  # unreachable: check_reachable and the sdk say so
    return _problem(where, response, host)


def oauth_answer(host: str, config: Any, exc: BaseException, *, during: str) -> str | None:
    """When the sdk's OAuth step failed, what that endpoint answers if it is not its JSON (else None).

    ``during`` is ``discovery`` (building the config; only when the sdk choked on a body) or
    ``token`` (minting an access token, OAuth M2M: the same client-credentials request again).
    """
    if during == "discovery" and not caused_by(exc, _PARSE_ERRORS):
        return None
    register_basic(getattr(config, "client_id", None), getattr(config, "client_secret", None))
    try:
        with BoundedClient(timeout=httpx.Timeout(10.0), follow_redirects=False) as client:
            where = f"{_shown(host)}: OAuth discovery (GET {_DISCOVERY})"
            response = client.get(host.rstrip("/") + _DISCOVERY)
            problem = _problem(where, response, host)
            if problem is not None or during != "token":
                return problem
            token_url = json.loads(response.content).get("token_endpoint")
            client_id = getattr(config, "client_id", None)
            client_secret = getattr(config, "client_secret", None)
            same_host = isinstance(token_url, str) and urlsplit(token_url).netloc == urlsplit(host).netloc
            if not (same_host and client_id and client_secret):
                return None  # never send the credentials elsewhere to find out
            where = f"{_shown(host)}: OAuth token (POST {urlsplit(token_url).path})"
            response = client.post(
                token_url,
                data={"grant_type": "client_credentials", "scope": "all-apis"},
                auth=(client_id, client_secret),
            )
            return _problem(where, response, host, token=True)
    except BodyTooLarge as big:
        return unexpected_answer(where, big.status, {"content-type": big.content_type}, b"", host, big.size_text)
    except httpx.HTTPError:
        return None


def _problem(where: str, response: httpx.Response, host: str, token: bool = False) -> str | None:
    if response.status_code >= 400:
        return None  # a real refusal: the sdk's message says it
    body = response.content
    try:
        value = json.loads(body) if response.status_code < 300 else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        return unexpected_answer(where, response.status_code, response.headers, body, host)
    if not token:
        return None
    access_token = value.get("access_token")
    if isinstance(access_token, str):
        secrets.register(access_token)  # a real token, minted to find out: as secret as the others
        return None
    return (
        f"{where}: HTTP {response.status_code}, a JSON object without an access_token. Check that {host} is "
        "the workspace URL and that its OAuth app (client id and secret) is set up for machine-to-machine use."
    )


def _shown(host: str) -> str:
    parts = urlsplit(host)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"
