"""The total ``--timeout`` as a wall clock that no byte resets.

httpx's read timeout restarts with every byte, so a server that trickles keep-alive comments keeps
a stream open for as long as it likes. A watchdog timer shuts the response's socket down at the
deadline (a blocked read returns at once); the reader then reports the timeout. No cost per token.

Before the response's headers there is no socket to shut: each attempt's httpx timeouts are cut
to what is left of the total (``attempt_timeout``), so a server that takes its time to answer at
all (a non-streaming call, a cold endpoint) is given up at the deadline too, not at the read timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from agent_magics.core.request import Timeouts

SLACK = 0.05  # seconds: a timeout this close to the deadline is the deadline's


class Watchdog:
    """Shuts ``response``'s connection down at ``deadline`` (monotonic) unless cancelled first."""

    def __init__(self, response: Any, deadline: float | None) -> None:
        self.fired = False
        self._response = response
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        if deadline is not None:
            self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            self.fired = True
            stream = getattr(self._response, "extensions", {}).get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None


def attempt_timeout(timeouts: Timeouts, deadline: float | None) -> httpx.Timeout:
    """httpx's timeouts for one attempt: the configured ones, cut to what is left before ``deadline``."""
    import httpx

    read, connect = timeouts.read, timeouts.connect
    if deadline is not None:
        left = max(deadline - time.monotonic(), 0.01)
        read = left if read is None else min(read, left)
        connect = left if connect is None else min(connect, left)
    return httpx.Timeout(read, connect=connect)


def reached(deadline: float | None) -> bool:
    """Is ``deadline`` (monotonic) reached, give or take ``SLACK``?"""
    return deadline is not None and time.monotonic() >= deadline - SLACK


def stopped_text(timeouts: Timeouts) -> str:
    return f"stopped at the --timeout of {timeouts.total:g} s"
