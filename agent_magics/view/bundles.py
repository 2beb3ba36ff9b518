"""Show a raw mimebundle under a display id, and replace it later: what every live output is built on."""

from __future__ import annotations

from typing import Any


def show_bundle(bundle: dict[str, Any]) -> Any:
    """Display a raw mimebundle with a display id; the handle, or None outside IPython (text printed)."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    if not InteractiveShell.initialized():
        if bundle.get("text/plain"):
            print(bundle["text/plain"])
        return None
    return display(bundle, raw=True, display_id=True)


def replace_bundle(handle: Any, bundle: dict[str, Any]) -> None:
    """Replace what ``show_bundle`` displayed (or show ``bundle`` if that display failed)."""
    if handle is not None:
        handle.update(bundle, raw=True)
    else:
        show_bundle(bundle)
