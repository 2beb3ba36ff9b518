"""One-line notices under a cell (a name left unfilled, a --continue with no earlier turn).

``warnings.warn`` would print the module path, the line number and the source line of the call;
the user needs only the sentence. Sent to stderr, like a warning, so the cell's value is untouched.
"""

from __future__ import annotations

import sys


def notice(message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr, flush=True)
