"""The OAuth/OIDC surface databricks-sdk needs for OAuth M2M (``client_id`` / ``client_secret``).

databricks-sdk asks ``GET /oidc/.well-known/oauth-authorization-server`` for the token endpoint, then
``POST /oidc/v1/token`` (``grant_type=client_credentials``, credentials in a Basic header or the
form body). Newer SDKs first ask ``GET /.well-known/databricks-config``; its ``oidc_endpoint`` is
answered as a discovery document too, whichever way a client reads it. Token exchange of the PAT
(what notebooks do for ``runtime-oauth``) is accepted as well.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_magics.local.auth import TokenRegistry
from agent_magics.transport.embedded_config import ACCOUNT_ID, WORKSPACE_ID

CLIENT_CREDENTIALS = "client_credentials"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def _host(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    # The token endpoint speaks OAuth errors (RFC 6749 §5.2), not Databricks API errors.
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def discovery(request: Request) -> JSONResponse:
    host = _host(request)
    return JSONResponse(
        {
            "issuer": f"{host}/oidc",
            "authorization_endpoint": f"{host}/oidc/v1/authorize",
            "token_endpoint": f"{host}/oidc/v1/token",
            "jwks_uri": f"{host}/oidc/jwks.json",
            "grant_types_supported": [CLIENT_CREDENTIALS, TOKEN_EXCHANGE],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "response_types_supported": ["code"],
            "scopes_supported": ["all-apis", "offline_access"],
        }
    )


async def databricks_config(request: Request) -> JSONResponse:
    return JSONResponse(
        {"oidc_endpoint": f"{_host(request)}/oidc", "workspace_id": WORKSPACE_ID, "account_id": ACCOUNT_ID}
    )


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def token_endpoint(tokens: TokenRegistry) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def issue(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        grant = form.get("grant_type")
        if grant == CLIENT_CREDENTIALS:
            client_id, secret = _basic_credentials(request)
            if client_id is None:
                client_id, secret = form.get("client_id"), form.get("client_secret")
            if not tokens.client_matches(client_id, secret):
                return _oauth_error(401, "invalid_client", "Client authentication failed.")
        elif grant == TOKEN_EXCHANGE:
            if not tokens.pat_matches(form.get("subject_token")):
                return _oauth_error(400, "invalid_grant", "The subject token is not valid.")
        else:
            return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type: {grant!r}.")
        return JSONResponse(
            {
                "access_token": tokens.issue_oauth_token(),
                "token_type": "Bearer",
                "expires_in": tokens.ttl_seconds,
                "scope": form.get("scope") or "all-apis",
            },
            headers={"Cache-Control": "no-store"},
        )

    return issue


def routes(tokens: TokenRegistry) -> list[Route]:
    return [
        Route("/.well-known/databricks-config", databricks_config, methods=["GET"]),
        Route("/oidc/.well-known/oauth-authorization-server", discovery, methods=["GET"]),
        Route("/oidc", discovery, methods=["GET"]),
        Route("/oidc/v1/token", token_endpoint(tokens), methods=["POST"]),
    ]
