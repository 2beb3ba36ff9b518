"""Who may call what: the workspace's PAT, issued OAuth tokens, and the two auth gates.

The workspace host accepts the PAT or an OAuth token; an app host (Databricks Apps) accepts OAuth
tokens only, as the real Apps front door does.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from agent_magics.local.api_errors import api_error

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
TokenKind = Literal["pat", "oauth"]


class TokenRegistry:
    """The one PAT of this workspace plus the short-lived OAuth tokens it has issued."""

    def __init__(self, pat: str, client_id: str, client_secret: str, ttl_seconds: int) -> None:
        self._pat = pat
        self._client_id = client_id
        self._client_secret = client_secret
        self.ttl_seconds = ttl_seconds
        self._oauth: dict[str, float] = {}  # token -> expiry (monotonic)
        self._lock = threading.Lock()

    def client_matches(self, client_id: str | None, client_secret: str | None) -> bool:
        return _same(client_id, self._client_id) and _same(client_secret, self._client_secret)

    def pat_matches(self, token: str | None) -> bool:
        return _same(token, self._pat)

    def issue_oauth_token(self) -> str:
        # Opaque and random, like the real service's tokens from the client's point of view.
        token = secrets.token_urlsafe(48)
        now = time.monotonic()
        with self._lock:
            self._oauth = {t: exp for t, exp in self._oauth.items() if exp > now}  # drop expired
            self._oauth[token] = now + self.ttl_seconds
        return token

    def kind_of(self, token: str | None) -> TokenKind | None:
        """``"pat"``, ``"oauth"``, or None for a missing, unknown or expired token."""
        if not token:
            return None
        if self.pat_matches(token):
            return "pat"
        with self._lock:
            expiry = self._oauth.get(token)
        if expiry is not None and expiry > time.monotonic():
            return "oauth"
        return None


def _same(given: str | None, expected: str) -> bool:
    """Constant-time comparison of UTF-8 bytes (``compare_digest`` refuses non-ASCII str: a 500)."""
    return hmac.compare_digest((given or "").encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def looks_like_pat(token: str) -> bool:
    return token.startswith("dapi")


class WorkspaceAuth:
    """ASGI gate for the workspace host: PAT or OAuth bearer, except the public OIDC paths."""

    PUBLIC_PATHS = ("/oidc",)
    PUBLIC_PREFIXES = ("/oidc/", "/.well-known/")

    def __init__(self, app: ASGIApp, tokens: TokenRegistry) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.PUBLIC_PATHS or path.startswith(self.PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            response = api_error(
                401, "UNAUTHENTICATED", "Credential was not sent or was of an unsupported type for this API."
            )
        elif self.tokens.kind_of(token) is None:
            response = api_error(401, "UNAUTHENTICATED", "Invalid access token.")
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


class AppAuth:
    """ASGI gate for an app host: only OAuth tokens issued by this workspace get through."""

    def __init__(self, app: ASGIApp, tokens: TokenRegistry, app_name: str, workspace_host: str) -> None:
        self.app = app
        self.tokens = tokens
        self.app_name = app_name
        self.workspace_host = workspace_host

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        fix = (
            f"Use an OAuth token: run `databricks auth login --host {self.workspace_host}` (user login), "
            "or set DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET of a service principal (OAuth M2M)."
        )
        if token is None:
            message = f"App '{self.app_name}' requires an OAuth bearer token. {fix}"
        elif looks_like_pat(token):
            message = (
                f"Databricks Apps accept OAuth tokens only; a personal access token was sent to app "
                f"'{self.app_name}'. {fix}"
            )
        elif self.tokens.kind_of(token) != "oauth":
            message = f"Invalid or expired OAuth token for app '{self.app_name}'. {fix}"
        else:
            await self.app(scope, receive, send)
            return
        await api_error(401, "UNAUTHENTICATED", message)(scope, receive, send)
