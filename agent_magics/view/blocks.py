"""Split a growing markdown answer into frozen blocks and a live tail.

Re-rendering and re-sending the whole answer on every update costs O(n²) in CPU and bytes. Instead
the answer is cut at safe places: everything before a cut is *frozen* (rendered and sent once),
only the *tail* after the last cut is rendered again on each update.

A cut must not change what the markdown means, so it goes only where a block ends:

* **hard boundary**: the start of an unindented line after a blank line, outside a code fence
  (an indented line could be a list-item continuation or indented code, so it is never cut before),
  unless it is a list item going on with a list above the blank line (a loose list);
* when the tail grows past ``max_tail`` without one (a long list, a long code block), a fallback:
  before a top-level list item, or inside a top-level code fence at a line end, where the frozen part
  is closed with a synthetic fence and the tail re-opened with the same opener line (two adjacent
  code boxes in the live view; the final static render uses the whole text and has no seam).
  A fallback cut can change how the pieces render (one list becomes two), so ``inexact`` counts them.

Feeding is O(1); ``take()`` looks at each character about once, plus the (short) tail.
"""

from __future__ import annotations

import re

from agent_magics.view.markdown_lines import closes_fence, fence_opener

_LIST_ITEM = re.compile(r"(?:[-+*]|\d{1,9}[.)])(?:[ \t]|\r?$)")
_LIST_START = "-+*0123456789"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


class MarkdownBlocks:
    def __init__(self, min_block: int = 2048, max_tail: int = 4096) -> None:
        self.min_block = min_block
        self.max_tail = max_tail
        self.inexact = 0  # fallback cuts so far (kept across close())
        self._reset()

    def _reset(self) -> None:
        self._tail = ""  # source after the last cut (lines before _scan already classified)
        self._pending: list[str] = []  # fed since the last take()
        self._pending_chars = 0
        self._prefix = ""  # fence opener re-opened at the start of the tail after a fence split
        self._scan = 0  # start of the first unclassified line in _tail
        self._fence: tuple[str, int, str] | None = None  # open fence: (char, length, opener line)
        self._fence_body = 0  # where the open fence's content starts in _tail
        self._blank = False  # the last classified line (outside a fence) was blank
        self._hard = 0  # last hard boundary in _tail (0: none)
        self._soft = 0  # last list-item boundary in _tail (0: none)
        self._list = False  # the last block outside a fence is a list (a blank line may go on with it)

    def feed(self, text: str) -> None:
        self._pending.append(text)
        self._pending_chars += len(text)

    @property
    def tail_chars(self) -> int:
        """Size of the tail that the next ``take()`` would return (cheap: no joins)."""
        return len(self._prefix) + len(self._tail) + self._pending_chars

    def take(self) -> tuple[list[str], str]:
        """Newly frozen block sources (render each once) and the current tail source."""
        self._absorb()
        self._classify()
        frozen: list[str] = []
        tail = self._tail
        cut = self._hard if self._hard >= self.min_block else 0
        if len(tail) - cut >= self.max_tail:  # too long to resend on every update: take a fallback
            if self._soft > max(cut, self._hard):
                self.inexact += 1
            cut = max(cut, self._hard, self._soft)
            if len(tail) - cut >= self.max_tail and self._fence_splittable():
                self.inexact += 1
                frozen.append(self._split_fence())
                return frozen, self._prefix + self._tail
        if cut:
            frozen.append(self._prefix + tail[:cut])
            self._prefix = ""
            self._rebase(cut)
        return frozen, self._prefix + self._tail

    def close(self) -> str:
        """Everything not yet frozen, as one block; the splitter starts afresh."""
        self._absorb()
        rest = self._prefix + self._tail
        self._reset()
        return rest

    # -- internals -----------------------------------------------------------------------------
    def _absorb(self) -> None:
        if self._pending:
            self._tail += "".join(self._pending)
            self._pending.clear()
            self._pending_chars = 0

    def _classify(self) -> None:
        text, pos = self._tail, self._scan
        while (end := text.find("\n", pos)) >= 0:
            self._line(text[pos:end], pos, end + 1)
            pos = end + 1
        self._scan = pos
        # Peek at the unfinished last line: a paragraph is often one long line, so waiting for
        # its end would keep the previous paragraph in the tail far longer than needed.
        starts = pos < len(text) and text[pos] not in " \t\r"
        maybe_next_item = self._list and starts and text[pos] in _LIST_START  # of a loose list
        if self._blank and self._fence is None and starts and not maybe_next_item:
            self._hard = pos

    def _line(self, line: str, start: int, next_start: int) -> None:
        stripped = line.strip()
        if self._fence is not None:
            char, length, opener = self._fence
            if closes_fence(line, (char, length)):
                self._fence = None
                if _indent(line) < _indent(opener):
                    # "1. Step:\n   ```\n   code\n```": if the opener was inside a list item, CommonMark
                    # reads this closer as a new fence running to the end. The live cut may then
                    # differ from the final render: count it, so the final render replaces it.
                    self.inexact += 1
            return
        if not stripped:
            self._blank = True
            return
        unindented = line[0] not in " \t"
        item = unindented and _LIST_ITEM.match(line) is not None
        if unindented and self._blank and not (item and self._list):
            self._hard = start
            self._list = item
        elif item:
            self._soft = start
            self._list = True
        self._blank = False
        opened = fence_opener(line)
        if opened is not None:
            self._fence = (*opened, line.rstrip("\r"))
            self._fence_body = next_start

    def _fence_splittable(self) -> bool:
        # Only fences opened at the top level (the regex allows <= 3 spaces), with a finished line.
        return self._fence is not None and self._scan > self._fence_body

    def _split_fence(self) -> str:
        assert self._fence is not None
        char, length, opener = self._fence
        cut = self._scan
        block = self._prefix + self._tail[:cut] + char * length + "\n"
        self._rebase(cut)
        self._prefix = opener.lstrip(" ") + "\n"
        self._fence_body = 0
        return block

    def _rebase(self, cut: int) -> None:
        self._tail = self._tail[cut:]
        self._scan -= cut
        self._fence_body = max(0, self._fence_body - cut)
        self._hard = self._hard - cut if self._hard > cut else 0
        self._soft = self._soft - cut if self._soft > cut else 0
