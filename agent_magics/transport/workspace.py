"""Which Databricks workspace to talk to, and how to authenticate to it.

Auth is databricks-sdk unified auth (environment, ``~/.databrickscfg`` profiles, notebook
runtime, OAuth U2M/M2M). With nothing configured, the embedded local workspace starts on first
use. Credentials are attached per request (so OAuth refresh just works) and only to the
workspace host and the app URLs its Apps API returned: never to any other host.
"""

from __future__ import annotations

import configparser
import json
import math
import os
import socket
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from agent_magics.core import defaults, secrets
from agent_magics.core.errors import AgentError, AgentUsageError
from agent_magics.transport.http import BodyTooLarge, BoundedClient
from agent_magics.transport.sdk_answers import discovery_problem, guard_sdk_answers, oauth_answer, register_basic

ENDPOINT_TASK_TO_INTERFACE = {
    "agent/v1/responses": "responses",
    "agent/v2/responses": "responses",
    "agent/v2/chat": "chat_agent",
    "agent/v1/chat": "chat_model",
    "llm/v1/chat": "chat_model",
}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port)


class _WorkspaceAuth(httpx.Auth):
    """Adds the SDK's auth headers to requests for the workspace and its apps, and no others.

    It holds the credentials, not the workspace: no reference cycle, so a forgotten workspace is
    freed as soon as nothing uses it (its pool is closed by ``Workspace.close``).
    """

    def __init__(self, host: str, config: Any, app_urls: dict[str, str]) -> None:
        self._host = host
        self._config = config
        self._app_urls = app_urls  # the workspace's own dict: app URLs learnt later count too

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if _owns(self._host, self._app_urls, str(request.url)):
            request.headers.update(_authenticate(self._host, self._config))
        yield request


def _owns(host: str, app_urls: dict[str, str], url: str) -> bool:
    origin = _origin(url)
    return origin == _origin(host) or any(origin == _origin(u) for u in list(app_urls.values()))


def _authenticate(host: str, config: Any) -> dict[str, str]:
    try:
        headers = dict(config.authenticate())
    except Exception as exc:  # the SDK raises ValueError / its own errors; messages mask secrets
        explained = oauth_answer(host, config, exc, during="token")
        raise AgentError(explained or f"could not authenticate to {host}: {_first_line(exc)}") from None
    secrets.register_auth_headers(headers)  # OAuth access tokens are new secrets as they are minted
    return {name: _clean_header(name, value) for name, value in headers.items()}


@dataclass
class Workspace:
    """A workspace host plus its credentials (a databricks-sdk ``Config``, or for the embedded
    workspace an ``EmbeddedCredentials`` that offers the same ``authenticate()``)."""

    host: str
    config: Any = field(repr=False)  # databricks.sdk.config.Config | EmbeddedCredentials
    label: str = "workspace"
    is_local: bool = False
    _app_urls: dict[str, str] = field(default_factory=dict, repr=False)
    _tasks: dict[str, str | None] = field(default_factory=dict, repr=False)
    _http: BoundedClient | None = field(default=None, repr=False)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def auth_headers(self) -> dict[str, str]:
        return _authenticate(self.host, self.config)

    def uses_oauth(self) -> bool:
        """True when the credentials yield OAuth tokens (what Databricks Apps require)."""
        try:
            self.config.oauth_token()
        except Exception:
            return False
        return True

    def http(self) -> BoundedClient:
        """One pooled client per workspace, reused by every call (keep-alive matters for latency).

        Bodies are bounded (``transport.http``). After :meth:`close` it still works: a stream that
        was running goes on, and a late call opens a connection that is closed when it ends.
        """
        with self._lock:
            if self._http is None:
                self._http = BoundedClient(
                    auth=_WorkspaceAuth(self.host, self.config, self._app_urls),
                    timeout=httpx.Timeout(30.0),
                    follow_redirects=False,  # a redirect from an app means "log in": report it
                    headers={"User-Agent": "agent_magics/0.1"},
                )
            return self._http

    def cached(self, kind: str, base: str, build: Callable[[], Any]) -> Any:
        """A client library object of this workspace (built once; it shares ``http()``'s pool)."""
        key = (kind, base)
        with self._lock:
            if key in self._clients:
                return self._clients[key]
        built = build()  # outside the lock: building may call http(), which takes it
        with self._lock:
            return self._clients.setdefault(key, built)

    def api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Call a workspace REST API and return its JSON object, with Databricks-style errors explained.

        Anything else (an HTML login page, a redirect, a list, an empty or oversized body) is an
        ``AgentError`` saying what came back and what to do.
        """
        from agent_magics.transport.failures import describe_http_error, unexpected_answer

        where = f"{_shown_host(self.host)}: {method} {path}"
        try:
            response = self.http().request(method, self.host.rstrip("/") + path, **kwargs)
        except BodyTooLarge as exc:
            headers = {"content-type": exc.content_type}
            raise AgentError(unexpected_answer(where, exc.status, headers, b"", self.host, exc.size_text)) from None
        except httpx.HTTPError as exc:
            raise AgentError(f"{self.host}: {_first_line(exc) or type(exc).__name__}") from None
        if response.status_code >= 400:
            error = AgentError(describe_http_error(path, response.status_code, response.text, response.headers))
            error.status = response.status_code  # type: ignore[attr-defined]  # read by transport.targets
            raise error
        body: Any = None
        if response.status_code < 300:
            try:
                body = json.loads(response.content)
            except ValueError:
                pass
        if not isinstance(body, dict):
            raise AgentError(
                unexpected_answer(where, response.status_code, response.headers, response.content, self.host)
            )
        return body

    def endpoint_interface(self, name: str) -> str:
        """responses | chat_agent | chat_model, from the endpoint's ``task`` (cached per endpoint)."""
        if name not in self._tasks:
            task = self.api("GET", f"/api/2.0/serving-endpoints/{name}").get("task")
            self._tasks[name] = task if isinstance(task, str) else None
        return ENDPOINT_TASK_TO_INTERFACE.get(self._tasks[name] or "", "responses")

    def app_url(self, name: str) -> str:
        if name not in self._app_urls:
            body = self.api("GET", f"/api/2.0/apps/{name}")
            url = body.get("url")
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise AgentError(f"app {name!r} has no URL: is it deployed and running? (databricks apps get {name})")
            self._app_urls[name] = url.rstrip("/")
        return self._app_urls[name]

    def workspace_client(self) -> Any:
        from databricks.sdk import WorkspaceClient

        sdk_config = getattr(self.config, "sdk_config", None)  # EmbeddedCredentials: a Config on demand
        config = sdk_config() if callable(sdk_config) else self.config
        _authenticate(self.host, config)  # the SDK's client authenticates itself: register the token it will send
        client = WorkspaceClient(config=config)
        guard_sdk_answers(client, self.host)
        return client

    def close(self) -> None:
        """Forget this workspace's clients; its pool closes once no request is in flight (never under one)."""
        with self._lock:
            for client in self._clients.values():  # DatabricksOpenAI has a pool of its own
                own = getattr(client, "_client", None)
                if isinstance(own, BoundedClient) and own is not self._http:
                    own.retire()
            self._clients.clear()  # the others share the pool retired below
            if self._http is not None:
                self._http.retire()


def _first_line(exc: BaseException) -> str:
    text = secrets.redact(str(exc)).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _clean_header(name: str, value: str) -> str:
    """An auth header value without the stray whitespace an access token may carry (never shown)."""
    if not isinstance(value, str):
        return value
    scheme, _, credential = value.partition(" ")
    if not credential:
        return secrets.clean_credential(value, f"the {name} header from the workspace's auth")
    return f"{scheme} {secrets.clean_credential(credential, f'the {name} header from the workspace auth')}"


# Credentials read from files and mounted secrets often end in a newline: databricks-sdk would put
# it in the header (httpx and requests then fail with the whole header, token included, in their
# message). Values with JSON or URLs inside (google_credentials, metadata_service_url) are left alone.
_CREDENTIAL_ATTRIBUTES = ("token", "password", "client_secret", "azure_client_secret")


def _clean_config(config: Any, profile: str | None, bounded: dict[str, Any]) -> Any:
    """``config``, rebuilt with cleaned credentials if any had stray whitespace; every one registered."""
    from databricks.sdk.config import Config

    attributes = {a.name: a for a in Config.attributes()}
    fixes: dict[str, str] = {}
    for name in _CREDENTIAL_ATTRIBUTES:
        value = getattr(config, name, None)
        if not isinstance(value, str) or not value:
            continue
        secrets.register(value)
        env_name = getattr(attributes.get(name), "env", None)
        if env_name and os.environ.get(env_name) == value:
            source = env_name
        else:
            where = config.config_file or "~/.databrickscfg"
            source = f"`{name}` in profile {profile or config.profile or 'DEFAULT'} of {where}"
        cleaned = secrets.clean_credential(value, source)
        if cleaned != value:
            fixes[name] = cleaned
    if not fixes:
        return config
    # The resolved values, passed explicitly: kwargs win over the environment and the profile
    resolved = {name: getattr(config, name) for name in attributes if getattr(config, name, None) is not None}
    return Config(**{**resolved, **fixes, **bounded})


def workspace_configured(env: dict[str, str] | None = None) -> bool:
    """Is a real workspace configured (env vars, a config profile, or a Databricks runtime)?"""
    env = dict(os.environ if env is None else env)
    if any(env.get(k) for k in ("DATABRICKS_HOST", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_RUNTIME_VERSION")):
        return True
    config_file = Path(env.get("DATABRICKS_CONFIG_FILE") or Path.home() / ".databrickscfg").expanduser()
    try:
        text = config_file.read_text()
    except OSError:
        return False
    return "[DEFAULT]" in text and "host" in text.split("[DEFAULT]", 1)[1].split("[", 1)[0]


_workspaces: dict[str, Workspace] = {}
_workspaces_lock = threading.Lock()
_building_lock = threading.Lock()
LOCAL_NOTICE = (
    "agent_magics: no Databricks workspace configured, so using the local demo workspace at {host}. "
    "Point at a real one with DATABRICKS_HOST (+ token or OAuth), a ~/.databrickscfg profile, or --profile."
)


def get_workspace(profile: str | None = None, *, prefer_local: bool = False, notice: Any = print) -> Workspace:
    """The workspace for ``profile`` (or the default one), built once and reused."""
    key = f"profile:{profile}" if profile else ("local" if prefer_local else "default")
    with _workspaces_lock:
        if key in _workspaces:
            return _workspaces[key]
    # One build at a time: threads that ask together (compare) wait for the same workspace rather
    # than each authenticating (or starting a local server) on its own.
    with _building_lock:
        with _workspaces_lock:
            if key in _workspaces:
                return _workspaces[key]
        if profile:
            workspace = _sdk_workspace(profile=profile, label=f"profile {profile}")
        elif not prefer_local and workspace_configured():
            workspace = _sdk_workspace(label="default")
        else:
            workspace = local_workspace()
            notice(LOCAL_NOTICE.format(host=workspace.host))
        with _workspaces_lock:
            return _workspaces.setdefault(key, workspace)


def _sdk_workspace(label: str, **kwargs: Any) -> Workspace:
    from databricks.sdk.config import Config

    timeout = CONNECT_TIMEOUT  # read at call time: tests and callers may lower it
    section = _profile_section(kwargs.get("profile"))
    found = configured_host(kwargs.get("profile"), section=section)
    if found is not None:
        check_reachable(*found, timeout=timeout, oauth=_oauth_m2m(section))
    client_id, client_secret = _m2m_credentials(section)
    register_basic(client_id, client_secret)  # before anything can echo them
    if found is not None and client_id and client_secret:
        problem = discovery_problem(found[0], timeout)
        if problem is not None:
            raise AgentError(problem)
    bounded = _bounded_timeouts(section, timeout)
    try:
        config = _clean_config(Config(**kwargs, **bounded), kwargs.get("profile"), bounded)
    except AgentUsageError:
        raise
    except Exception as exc:
        explained = oauth_answer(found[0], None, exc, during="discovery") if found is not None else None
        if explained is not None:
            raise AgentError(explained) from None
        raise AgentError(
            f"Databricks auth is not configured ({_first_line(exc)}). "
            "Run `databricks auth login --host <workspace-url>` or set DATABRICKS_HOST and DATABRICKS_TOKEN."
        ) from None
    _unbound(config, bounded)
    return Workspace(host=config.host.rstrip("/"), config=config, label=label)


def _m2m_credentials(section: dict[str, str] | None) -> tuple[str | None, str | None]:
    """OAuth M2M client id and secret as the sdk will read them (environment first, then the profile)."""
    section = section or {}
    client_id = os.environ.get("DATABRICKS_CLIENT_ID") or section.get("client_id")
    client_secret = os.environ.get("DATABRICKS_CLIENT_SECRET") or section.get("client_secret")
    return client_id, client_secret


# -- Bounded configuration -----------------------------------------------------------------------
# databricks-sdk's Config() calls the host before it returns: recent releases fetch
# /.well-known/databricks-config (retried for the sdk's default 300 s), and OAuth M2M discovers the
# OIDC endpoints with that same budget in every release. Against a wrong or unreachable host the
# first cell would hang for minutes. So one probe of our own, bounded by the connect timeout, runs
# first; and Config's own probe gets the same bound, lifted again once Config is built (the later
# API calls keep the sdk's, or the profile's, timeouts).
CONNECT_TIMEOUT = defaults.CONNECT_TIMEOUT  # module-level so tests can lower it


def _profile_section(profile: str | None, env: dict[str, str] | None = None) -> dict[str, str] | None:
    """The ~/.databrickscfg section databricks-sdk would read (None when it would read none)."""
    env = dict(os.environ if env is None else env)
    name = profile or env.get("DATABRICKS_CONFIG_PROFILE")
    if not name and env.get("DATABRICKS_HOST"):
        return None  # the sdk skips the file when the environment configures the host
    path = Path(env.get("DATABRICKS_CONFIG_FILE") or "~/.databrickscfg").expanduser()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except (OSError, configparser.Error):
        return None  # the sdk will say what is wrong with the file
    if not name or name == "DEFAULT":
        return dict(parser.defaults()) or None
    return dict(parser._sections.get(name, {})) or None  # type: ignore[attr-defined]  # no DEFAULT merge, as the sdk


def configured_host(
    profile: str | None, env: dict[str, str] | None = None, *, section: dict[str, str] | None = None
) -> tuple[str, str] | None:
    """(host, where it was configured) as databricks-sdk will resolve it, or None (e.g. a notebook runtime)."""
    env = dict(os.environ if env is None else env)
    if env.get("DATABRICKS_HOST"):  # the environment wins over the profile, as in the sdk
        host, source = env["DATABRICKS_HOST"], "DATABRICKS_HOST"
    elif section and section.get("host"):
        host, source = section["host"], f"profile {profile or env.get('DATABRICKS_CONFIG_PROFILE') or 'DEFAULT'}"
    else:
        return None
    host = host.strip()
    return (host if "://" in host else f"https://{host}"), source


def _shown_host(host: str) -> str:
    parts = urlsplit(host)  # no user:password@ in messages
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}"


def _oauth_m2m(section: dict[str, str] | None, env: dict[str, str] | None = None) -> bool:
    """Whether databricks-sdk will discover OIDC endpoints while it builds the config (OAuth M2M)."""
    env = dict(os.environ if env is None else env)
    settings = {
        **(section or {}),
        **{k[len("DATABRICKS_") :].lower(): v for k, v in env.items() if k.startswith("DATABRICKS_")},
    }
    if settings.get("auth_type", "oauth-m2m") != "oauth-m2m":
        return False
    return bool(settings.get("client_id") and settings.get("client_secret"))


# databricks-sdk discovers OIDC endpoints through a module-level client with its default 300 s retry
# budget, which no Config setting bounds; probing the same path first turns a 503 there into one line.
_OIDC_DISCOVERY = "/oidc/.well-known/oauth-authorization-server"


def check_reachable(host: str, source: str, *, timeout: float = CONNECT_TIMEOUT, oauth: bool = False) -> None:
    """Fail in at most ``timeout`` seconds (per probe), with one line naming the host, if it does not answer HTTP.

    Any HTTP answer counts, except 429 and 503: those the sdk retries for minutes while it builds
    its config (other statuses are for the sdk and the calls to judge). With ``oauth``, the OIDC
    discovery path is probed too.
    """
    paths = ["/.well-known/databricks-config", *([_OIDC_DISCOVERY] if oauth else [])]
    try:
        with BoundedClient(timeout=httpx.Timeout(timeout), follow_redirects=False) as client:
            for path in paths:
                response = client.get(host.rstrip("/") + path)
                if response.status_code in (429, 503):
                    break
    except BodyTooLarge:
        return  # it answered (too much): reachable; the calls that follow say what is wrong
    except httpx.TransportError as exc:
        fallback = " (or unset it to use the local demo workspace)" if source == "DATABRICKS_HOST" else ""
        raise AgentError(
            f"cannot reach the Databricks workspace {_shown_host(host)} (from {source}): {_unreachable(exc, timeout)}. "
            f"Check the host in {source}{fallback} and your network."
        ) from None
    if response.status_code in (429, 503):
        raise AgentError(
            f"the Databricks workspace {_shown_host(host)} (from {source}) answered {response.status_code} "
            f"{response.reason_phrase}: it is unavailable or overloaded right now; try again in a minute, "
            "or check the host."
        )


def _unreachable(exc: httpx.TransportError, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {timeout:g} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"it accepted the connection but sent no answer within {timeout:g} s"
    cause: BaseException | None = exc
    for _ in range(10):  # bounded walk of the exception chain
        if cause is None:
            break
        if isinstance(cause, socket.gaierror):
            return f"unknown host ({_first_line(cause)})"
        cause = cause.__cause__ or cause.__context__
    return _first_line(exc)


def _bounded_timeouts(section: dict[str, str] | None, timeout: float) -> dict[str, Any]:
    """The sdk timeouts to bound while Config is built: those the profile does not set itself."""
    bounds = {"retry_timeout_seconds": max(1, math.ceil(timeout)), "http_timeout_seconds": timeout}
    return {name: value for name, value in bounds.items() if not (section and section.get(name))}


def _unbound(config: Any, bounded: dict[str, Any]) -> None:
    # ConfigAttribute keeps values in Config._inner; dropping ours restores the sdk's defaults
    inner = getattr(config, "_inner", None)
    if isinstance(inner, dict):
        for name in bounded:
            inner.pop(name, None)


def local_workspace() -> Workspace:
    """The embedded local workspace (started once per process), with OAuth M2M credentials.

    Its credentials are exchanged by ``EmbeddedCredentials``, not databricks-sdk: importing the SDK
    would be the longest step of a cold first cell (see ``transport.embedded_auth``).
    """
    from agent_magics.transport.embedded import shared_workspace
    from agent_magics.transport.embedded_auth import EmbeddedCredentials

    server = shared_workspace()
    credentials = EmbeddedCredentials(server.host, server.client_id, server.client_secret)
    return Workspace(host=credentials.host, config=credentials, label="local", is_local=True)


def forget_workspaces() -> None:
    """Drop cached workspaces (tests, or after changing credentials)."""
    with _workspaces_lock:
        for workspace in _workspaces.values():
            workspace.close()
        _workspaces.clear()
