"""The total ``--timeout`` as a wall clock that no byte resets.

httpx's read timeout restarts with every byte, so a server that trickles keep-alive comments keeps
a stream open for as long as it likes. A watchdog timer shuts the response's socket down at the
deadline (a blocked read returns at once); the reader then reports the timeout. No cost per token.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


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
