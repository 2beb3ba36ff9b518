"""OAuth M2M to the embedded local workspace, without importing databricks-sdk.

``import databricks.sdk`` costs ~1.7 s (its package imports every service module), and on a cold
first cell with no workspace configured it was the longest step of the kernel's own path to the
first answer. The embedded workspace is ours, its credentials are ones we minted, and OAuth M2M is
one client-credentials POST, so :class:`EmbeddedCredentials` does that exchange itself over HTTP
(the same wire as the SDK's ``oauth-m2m``: ``POST /oidc/v1/token`` with a Basic header) and keeps
the token until shortly before it expires.

It offers what the REST and OpenAI-client paths read from a databricks-sdk ``Config``
(``authenticate()``, ``oauth_token()``, ``host``, ``client_id``...); the paths that need the SDK
itself (``WorkspaceClient``: DatabricksOpenAI, the SQL warehouse engine, Spark executors) get a
real ``Config`` from :meth:`EmbeddedCredentials.sdk_config`, built on first use.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent_magics.core import secrets
from agent_magics.core.errors import AgentError
from agent_magics.core.text import one_line
from agent_magics.transport.http import ssl_context

TOKEN_PATH = "/oidc/v1/token"
DEFAULT_LIFETIME = 3600.0  # seconds, when the token answer does not say
REFRESH_MARGIN = 30.0  # seconds before expiry when a token is renewed (the SDK's margin is similar)
TOKEN_TIMEOUT = 10.0
MAX_TOKEN_BODY = 64 * 1024  # a token answer is a few hundred bytes; anything bigger is not one


@dataclass(frozen=True)
class Token:
    access_token: str
    renew_at: float  # on the credentials' clock (time.monotonic): before expiry, by the margin
    token_type: str = "Bearer"  # what Databricks issues; a server's own word for it is not taken

    def valid(self, now: float) -> bool:
        return now < self.renew_at


@dataclass
class EmbeddedCredentials:
    """The embedded workspace's OAuth client credentials, exchanged for tokens on demand."""

    host: str
    client_id: str
    client_secret: str = field(repr=False)
    auth_type: str = "oauth-m2m"
    token: str | None = None  # no PAT: the local default authenticates with OAuth, as Apps require
    warehouse_id: str | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    _token: Token | None = field(default=None, repr=False)
    _sdk_config: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sdk_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # not _lock: see sdk_config

    def __post_init__(self) -> None:
        from agent_magics.transport.sdk_answers import register_basic

        self.host = self.host.rstrip("/")
        secrets.register(self.client_secret)
        register_basic(self.client_id, self.client_secret)  # the Basic header carries the secret

    def oauth_token(self) -> Token:
        """A valid access token (one exchange at a time: threads asking together share it)."""
        with self._lock:
            now = self.clock()
            if self._token is None or not self._token.valid(now):
                self._token = self._exchange(now)
            return self._token

    def authenticate(self) -> dict[str, str]:
        token = self.oauth_token()
        return {"Authorization": f"{token.token_type} {token.access_token}"}

    def as_dict(self) -> dict[str, Any]:
        """The attributes a databricks-sdk ``Config`` is built from (Spark executors rebuild one)."""
        return {
            "host": self.host,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "auth_type": self.auth_type,
            "retry_timeout_seconds": 30,
        }

    def sdk_config(self) -> Any:
        """A real databricks-sdk ``Config`` for these credentials, for the paths that need the SDK.

        Built under a lock of its own: building one imports the SDK and runs its OAuth discovery,
        which requests on the REST path (``oauth_token``) must not wait for."""
        with self._sdk_lock:
            if self._sdk_config is None:
                from databricks.sdk.config import Config

                self._sdk_config = Config(**self.as_dict())
            return self._sdk_config

    def _exchange(self, now: float) -> Token:
        try:
            with (
                httpx.Client(transport=httpx.HTTPTransport(verify=ssl_context()), timeout=TOKEN_TIMEOUT) as client,
                client.stream(
                    "POST",
                    self.host + TOKEN_PATH,
                    data={"grant_type": "client_credentials", "scope": "all-apis"},
                    auth=(self.client_id, self.client_secret),
                ) as response,
            ):
                body = _json_object(response)
        except httpx.HTTPError as exc:
            raise AgentError(
                f"could not get a token from the local demo workspace at {self.host} ({type(exc).__name__}); "
                "is it still running? Restart the kernel to start a new one."
            ) from None
        access_token, expires_in = body.get("access_token"), body.get("expires_in")
        if response.status_code != 200 or not isinstance(access_token, str) or not access_token:
            reason = body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
            reason = one_line(secrets.redact(str(reason)), 200)
            raise AgentError(f"the local demo workspace refused its own credentials ({reason})")
        secrets.register(access_token)
        return Token(access_token, renew_at(now, expires_in))


def renew_at(now: float, expires_in: Any) -> float:
    """When a token that lives ``expires_in`` seconds is renewed: halfway through a short life, the
    margin before a long one; at once when it is already expired; after an hour when the server did
    not say (or said something that is not a finite number of seconds)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or not math.isfinite(expires_in):
        expires_in = DEFAULT_LIFETIME
    lifetime = max(0.0, float(expires_in))
    return now + lifetime - min(REFRESH_MARGIN, lifetime / 2)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object, read at most ``MAX_TOKEN_BODY`` bytes far ({} when it is not one)."""
    from agent_magics.transport.http import BodyTooLarge
    from agent_magics.transport.rest import read_bounded

    try:
        body = json.loads(read_bounded(response, MAX_TOKEN_BODY))
    except (BodyTooLarge, ValueError):
        return {}
    return body if isinstance(body, dict) else {}
