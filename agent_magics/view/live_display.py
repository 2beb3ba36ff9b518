"""The display-handle live view, for frontends without a widget manager (plain nbclient, nbconvert).

``display(bundle, display_id=True)`` then ``handle.update(bundle)``: each update carries the whole
HTML, so the coalescer's cost is the whole size and updates thin out as the answer grows (the byte
budget keeps the total near-linear). Finished blocks are still rendered once and kept as strings;
only the tail is re-rendered. The live text/plain part is a one-line status, not the answer.
"""

from __future__ import annotations

from .live_base import LiveView, replace_bundle, show_bundle
from .render import ROOT_STYLE, header_text


class DisplayView(LiveView):
    BANDWIDTH = 32_000.0  # every update resends everything: refresh a large answer less often

    def _open(self, header_html: str) -> None:
        self._header = header_html
        self._pieces: list[str] = []
        self._tail = ""
        self._sections: dict[str, str] = {}
        self._size = len(header_html)  # of the HTML an update sends
        self._dirty = False
        self._handle = show_bundle(self._bundle())

    def _bundle(self) -> dict[str, str]:
        sections = self._sections
        html = "".join(
            [self._header, sections.get("error", ""), *self._pieces, self._tail,
             sections.get("custom", ""), sections.get("trace", "")]
        )  # fmt: skip
        plain = header_text(self._target, self._state, elapsed=None, chars=self._chars)
        return {"text/html": f'<div class="agent-magics-live" style="{ROOT_STYLE}">{html}</div>', "text/plain": plain}

    def _cost(self) -> int:
        return self._size + self._blocks.tail_chars

    def _change(self, old: str, new: str) -> str:
        self._size += len(new) - len(old)
        self._dirty = self._dirty or old != new
        return new

    # -- hooks ---------------------------------------------------------------------------------------
    def _add(self, html: str) -> int:
        self._pieces.append(self._change("", html))
        return len(self._pieces) - 1

    def _set(self, token: int, html: str) -> None:
        self._pieces[token] = self._change(self._pieces[token], html)

    def _set_tail(self, html: str) -> None:
        self._tail = self._change(self._tail, html)

    def _set_header(self, html: str) -> None:
        self._header = self._change(self._header, html)

    def _set_section(self, name: str, html: str) -> None:
        self._sections[name] = self._change(self._sections.get(name, ""), html)

    def _commit(self) -> None:
        if self._dirty and self._handle is not None:
            self._handle.update(self._bundle(), raw=True)
        self._dirty = False

    def _replace(self, bundle: dict[str, str]) -> None:
        replace_bundle(self._handle, bundle)
