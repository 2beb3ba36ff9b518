"""The display view: the answer as a growing list of static outputs, only the last one live.

The default in Jupyter kernels. It needs no widget manager, only ``display(..., display_id=True)``
and ``update_display`` (JupyterLab, Notebook 7, VS Code, Colab, nbclient, Databricks). Outputs::

    header          "demo-agent streaming", later the final header and any error note
    answer block    finished blocks of the answer: rendered and sent once, never again
    ...
    tool entry      a tool call, updated once when its output arrives
    answer tail     the block being written: the only output re-sent while text streams; when it
                    is finished, this output becomes that block (nothing re-sent when it already
                    shows it) and the next block starts in a new output below it
    custom outputs, trace   shown at the end (they arrive with the last events)

Every output is static HTML from the start, so nothing is re-sent at the end and nothing depends
on widget state: a reopened notebook, nbconvert, GitHub and Databricks show the outputs as they
were left. At the end the header gets the final status and, as text/plain, the compact text of the
whole result (body outputs are HTML only: their text would double the bytes). If the outputs do not
already show what the static rendering shows (a final message that contradicts what streamed, a
code block split while streaming, reference-style links across blocks, items out of order), or the
stream was interrupted (possibly between two messages of one update), the header is replaced by
the whole static rendering and the other outputs are emptied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_magics.view import render
from agent_magics.view.bundles import replace_bundle, show_bundle
from agent_magics.view.live_base import LiveView
from agent_magics.view.markdown_lines import may_define_links
from agent_magics.view.render import ROOT_STYLE, header_text
from agent_magics.view.sanitize import NO_MATH

if TYPE_CHECKING:
    from agent_magics.core.result import AgentResult


@dataclass
class _Output:
    handle: Any  # a DisplayHandle (None outside IPython)
    html: str  # what it shows, while that may still change ("" for a finished block: not kept)
    visible: bool = True


@dataclass
class _Entry:
    """What the body shows, in order: one message (its outputs and what they show), an item or a section."""

    kind: str  # "message", "tool", "reasoning", "other", "custom", "trace"
    outputs: list[_Output] = field(default_factory=list)
    # Messages: a digest of the sources of their blocks (they add up to the message's text), so
    # that the end can tell whether they show the final text without keeping a copy of it.
    digest: Any = field(default_factory=lambda: hashlib.blake2b(digest_size=16))
    chars: int = 0
    link_definitions: bool = False


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def _bundle(html: str, plain: str | None = None) -> dict[str, str]:
    # Each output is a piece of the final result from the start: the same class as the static rendering.
    bundle = {
        "text/html": f'<div class="agent-magics-result {NO_MATH}" style="{ROOT_STYLE}">{html}</div>' if html else ""
    }
    if plain is not None:
        bundle["text/plain"] = plain
    return bundle


class DisplayView(LiveView):
    def _open(self, header_html: str) -> None:
        self._error_html = ""
        self._shown_header = header_html
        self._head = self._show(header_html, header_text(self._target, self._state, elapsed=None, chars=0))
        self._entries: list[_Entry] = []
        self._message: _Entry | None = None  # the message whose text is streaming now
        self._tail: _Output | None = None  # its live tail: always the last output of that message
        # Custom outputs and the trace arrive with the last events; they are shown by finish(),
        # below everything else as in the static rendering (an output can only go at the end).
        self._held: dict[str, str] = {}

    # -- outputs -----------------------------------------------------------------------------------
    def _show(self, html: str, plain: str | None = None) -> _Output:
        bundle = _bundle(html, plain)
        self._spend(sum(map(len, bundle.values())))
        return _Output(show_bundle(bundle), html, bool(html))

    def _update(self, output: _Output, html: str, plain: str | None = None, *, force: bool = False) -> None:
        if output.html != html or plain is not None or force:
            output.html, output.visible = html, bool(html)
            bundle = _bundle(html, plain)
            self._spend(sum(map(len, bundle.values())))
            replace_bundle(output.handle, bundle)

    # -- hooks ---------------------------------------------------------------------------------------
    def _add(self, html: str, kind: str = "message") -> _Output:
        entry = _Entry(kind, [self._show(html)])
        self._entries.append(entry)
        return entry.outputs[0]

    def _add_answer(self, source: str) -> None:
        message = self._current_message()
        message.digest.update(source.encode())
        message.chars += len(source)
        message.link_definitions = message.link_definitions or may_define_links(source)
        if not source.strip():  # nothing to show
            return
        html = render.answer_html(source)
        if self._tail is not None:  # the tail output becomes this finished block
            block = self._tail
            self._settle(block, html)
            self._tail = None
        else:
            block = self._show(html)
            message.outputs.append(block)
        block.html = ""  # never re-sent: not kept

    def _settle(self, tail: _Output, html: str) -> None:
        """The tail output ``tail`` now shows ``html`` for good (a finished block, or nothing)."""
        self._update(tail, html)

    def _set(self, token: _Output, html: str) -> None:
        self._update(token, html)

    def _set_tail(self, html: str) -> None:
        if not html:
            if self._tail is not None:
                self._settle(self._tail, "")  # kept: the next block or tail fills it
            return
        live = html  # no counter here (it is in the header): a finished tail then needs no re-send
        if self._tail is None:
            self._tail = self._show(live)
            self._current_message().outputs.append(self._tail)
        else:
            self._update(self._tail, live)

    def _set_header(self, html: str) -> None:
        self._shown_header = html
        self._update(self._head, html + self._error_html)

    def _end_message(self) -> None:
        self._message = None
        self._tail = None

    def _set_section(self, name: str, html: str) -> None:
        if name == "error":  # shown under the header, as in the static rendering
            self._error_html = html
            self._update(self._head, self._shown_header + html)
        else:  # custom outputs and the trace: shown at the end, after everything, as statically
            self._held[name] = html

    def _current_message(self) -> _Entry:
        if self._message is None:
            self._message = _Entry("message")
            self._entries.append(self._message)
        return self._message

    # -- the end -----------------------------------------------------------------------------------
    def _finish(self, result: AgentResult) -> None:
        self._end_segment()  # the tail becomes a finished block
        for name in ("custom", "trace"):
            if self._held.get(name):
                self._entries.append(_Entry(name, [self._show(self._held[name])]))
        parts = render.result_parts(result, render_messages=False)  # the messages are on screen
        plain = self._final_plain(result)
        visible = [e for e in self._entries if any(o.visible for o in e.outputs)]
        # An interrupt may have landed between two messages of one update: redo it all then.
        if result.status != "interrupted" and self._shows(visible, parts[1:]):
            for entry, part in zip(visible, parts[1:]):
                if entry.kind != "message":
                    self._update(entry.outputs[0], part.html)  # e.g. "running…" -> "no output"
            self._update(self._head, parts[0].html, plain)
            return
        whole = render.result_parts(result)
        self._update(self._head, "".join(part.html for part in whole), plain)
        for entry in self._entries:
            for output in entry.outputs:
                if output.visible:
                    self._update(output, "", force=True)

    def _shows(self, entries: list[_Entry], body: list[render.Part]) -> bool:
        """Do the live outputs show the same pieces, in the same order, as the static rendering?"""
        if len(entries) != len(body) or self._blocks.inexact:  # a fallback cut may render differently
            return False
        for entry, part in zip(entries, body):
            if entry.kind != part.kind:
                return False
            if entry.kind != "message":
                continue
            if entry.chars != len(part.text) or entry.digest.digest() != _digest(part.text):
                return False
            if len(entry.outputs) > 1 and entry.link_definitions:
                return False
        return True
