"""The secrets this process holds, cleaned when read and redacted from everything shown or stored.

Credentials are registered where they are read or used (databricks-sdk ``Config`` tokens and client
secrets, the OAuth access tokens its ``authenticate()`` returns, ``--token-env`` values). Text
crosses into events, errors, results and DataFrames in a few places (``run.Execution``, the magics'
error guard, ``sql.execute.run_sql``): those call :func:`redact`. A workspace or agent that echoes
the request headers back therefore shows ``[REDACTED]``, never the token.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from agent_magics.core.errors import AgentUsageError

REDACTED = "[REDACTED]"
# Shorter values would redact ordinary words; every real token and secret is far longer.
MIN_LENGTH = 8
# Surrounding whitespace and control characters are what a token read from a file or a mounted
# secret carries (a trailing newline, CR, tab, NUL); no credential starts or ends with them.
_EDGE = "".join(chr(c) for c in range(33)) + "\x7f"

_secrets: frozenset[str] = frozenset()
_lock = threading.Lock()


def clean_credential(value: str, source: str) -> str:
    """``value`` without surrounding whitespace/control characters; an inner one is an error naming ``source``."""
    cleaned = value.strip(_EDGE)
    bad = next((ch for ch in cleaned if ord(ch) < 32 or ord(ch) == 127), None)
    if bad is not None:
        raise AgentUsageError(
            f"{source} holds a control character (U+{ord(bad):04X}) inside the credential; "
            "fix the value where it is set (it is not shown here)."
        )
    return cleaned


def register(*values: str | None) -> None:
    """Remember secret values (and their cleaned forms) so :func:`redact` hides them."""
    global _secrets
    fresh = {v for value in values if value for v in (value, value.strip(_EDGE)) if len(v) >= MIN_LENGTH}
    if fresh <= _secrets:  # the common case (a header per request): no lock, no copy
        return
    with _lock:
        _secrets = _secrets | fresh


def register_auth_headers(headers: dict[str, str]) -> None:
    """Register the credentials of auth headers: ``Authorization`` (``Bearer x`` / ``Basic x``) and
    every other header an auth provider adds (Azure's ``X-Databricks-Azure-SP-Management-Token``).
    Some are not secret (a workspace resource id): redacting them too costs nothing."""
    for name, value in headers.items():
        if not isinstance(value, str):
            continue
        if name.lower() == "authorization":  # "Bearer x" / "Basic x": the credential is x
            value = value.partition(" ")[2] or value
        register(value)


def known() -> frozenset[str]:
    return _secrets


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``[REDACTED]`` (longest first)."""
    secrets = _secrets
    if not secrets or not text:
        return text
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def redact_cut(text: str) -> str:
    """:func:`redact` for text that was cut from something longer: an end that is the start of a
    secret (the rest was cut off, so the whole secret is not there to match) is redacted too."""
    text = redact(text)
    for secret in _secrets:
        for size in range(min(len(secret), len(text)) - 1, MIN_LENGTH // 2 - 1, -1):
            if text.endswith(secret[:size]):
                return text[:-size] + REDACTED
    return text


def redact_value(value: Any) -> Any:
    """``value`` (str, or JSON-like dicts/lists/tuples of them) with secrets redacted; others unchanged."""
    if not _secrets:
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list) or type(value) is tuple:
        return type(value)(redact_value(v) for v in value)
    if isinstance(value, tuple):  # a struct cell: a namedtuple, or pyspark's Row (toPandas)
        items = [redact_value(v) for v in value]
        if hasattr(value, "_make"):
            return value._make(items)
        fields = getattr(value, "__fields__", None)
        if isinstance(fields, list):  # Row(*names) is the Row "class" of those fields
            return type(value)(*fields)(*items)  # type: ignore[operator]
        return tuple(items)
    return value


class StreamRedactor:
    """Redacts text that arrives in chunks: a secret split across two deltas is still caught.

    A chunk's tail that could be the start of a secret is held back until the next chunk (or
    :meth:`flush`), so no emitted text ever holds part of a secret that the next chunk completes.
    """

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, chunk: str) -> str:
        text, self._pending = redact(self._pending + chunk), ""
        hold = _held_tail(text, _secrets)
        if hold:
            text, self._pending = text[:-hold], text[-hold:]
        return text

    def flush(self) -> str:
        """What was held back, now that nothing can complete it (always the start of a secret: the
        stream stopped in it); redacted unless too short to tell anything."""
        text, self._pending = self._pending, ""
        return REDACTED if len(text) >= MIN_LENGTH // 2 else text


def redact_end(text: str) -> str:
    """``text`` with an end that is the start of a secret (4+ characters) redacted: what
    :meth:`StreamRedactor.flush` did to the same text when it streamed."""
    hold = _held_tail(text, _secrets)
    return text[:-hold] + REDACTED if hold >= MIN_LENGTH // 2 else text


def _held_tail(text: str, secrets: Iterable[str]) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of a secret."""
    longest = 0
    for secret in secrets:
        at = text.find(secret[0], max(0, len(text) - len(secret) + 1))
        while at != -1:  # the earliest candidate is the longest one
            if secret.startswith(text[at:]):
                longest = max(longest, len(text) - at)
                break
            at = text.find(secret[0], at + 1)
    return longest
