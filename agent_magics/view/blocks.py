"""Split a growing markdown answer into frozen blocks and a live tail.

Re-rendering and re-sending the whole answer on every update costs O(n²) in CPU and bytes. Instead
the answer is cut at safe places: everything before a cut is *frozen* (rendered and sent once),
only the *tail* after the last cut is rendered again on each update.

A cut must not change what the markdown means, so it goes only where a block ends:

* **hard boundary**: the start of an unindented line after a blank line, outside a code fence
  (an indented line could be a list-item continuation or indented code, so it is never cut before),
  unless it is a list item going on with a list above the blank line (a loose list); a fence opened
  inside a list item ends, as in CommonMark, at the first line less indented than the item's content
  (which is then read outside it: an unindented fence line there opens a new fence);
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

_LIST_ITEM = re.compile(r"([-+*]|\d{1,9}[.)])(?:[ \t]|\r?$)")
_LIST_START = "-+*0123456789"


# Lines that start a block (and so end a paragraph, and a list item a lazy line would go on with):
# an ATX heading, a blockquote, a thematic break, an HTML tag. Fences are told by fence_opener.
_BLOCK_START = re.compile(r"#{1,6}(?:[ \t]|$)|>|<|(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")

_SETEXT = re.compile(r" {0,3}(?:=+|-+)[ \t]*\r?")


def _indent(line: str) -> int:
    """Columns of leading whitespace (a tab to the next multiple of 4, as CommonMark reads it)."""
    return len(line[: len(line) - len(line.lstrip(" \t"))].expandtabs(4))


def _content_indent(line: str, marker_end: int) -> int:
    """Where a list item's content starts: after its marker and 1-4 spaces (1 if none follow or 5+)."""
    marker = len(line[:marker_end].rstrip(" \t"))
    spaces = len(line[marker:]) - len(line[marker:].lstrip(" "))
    return marker + 1 if spaces == 0 or spaces > 4 or not line[marker:].strip() else marker + spaces


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
        # open fence: (char, length, opener line, content indent of the list item holding it or 0)
        self._fence: tuple[str, int, str, int] | None = None
        self._fence_body = 0  # where the open fence's content starts in _tail
        self._blank = False  # the last classified line (outside a fence) was blank
        self._hard = 0  # last hard boundary in _tail (0: none)
        self._soft = 0  # last list-item boundary in _tail (0: none)
        self._list = False  # the last block outside a fence is a list (a blank line may go on with it)
        self._item = 0  # content indent of the top-level list item that is open (0: none)
        self._marker = ""  # that item's bullet or delimiter (a sibling item has the same one)
        self._lazy = False  # that item went on over a lazy (unindented paragraph) line
        # The last line outside a fence was paragraph text (a lazy line may follow); None: an empty item
        self._para: bool | None = False

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
        indent = _indent(line)
        if self._fence is not None:
            char, length, _, inside = self._fence
            if not stripped or indent >= inside:
                if closes_fence(line[inside:], (char, length)):
                    self._fence = None
                return
            # Less indented than the list item holding the fence: CommonMark ends the item, and the
            # fence with it (code has no lazy lines), and reads this line outside them both.
            self._fence = None
            self._item = 0
            self._para = False
        if not stripped:
            if self._para is None:  # an item that starts empty ends at a blank line
                self._item = 0
            self._blank = True
            self._para = False
            return
        unindented = line[0] not in " \t"
        # A top-level item may be indented up to 3 spaces; one as indented as an open item's
        # content is nested in it, and left to the renderer.
        top_level = indent <= 3 and not (self._item and indent >= self._item)
        item = _LIST_ITEM.match(line, indent) if top_level else None
        if item is not None and self._para and not self._may_interrupt(item.group(1), line[item.end() :]):
            item = None  # "2) second" right after a paragraph is more of the paragraph, "-" its underline
        if item is not None:  # a new item: its own line may open a fence ("- ```py")
            self._item, self._lazy = _content_indent(line, item.end()), False
            self._marker = item.group(1)[-1]
            inside = self._item
        else:
            inside = self._item if self._item and indent >= self._item else 0
        body = line[inside:]
        opened = fence_opener(body)
        block_start = opened is not None or _BLOCK_START.match(body.lstrip(" \t")) is not None
        lazy = False
        if item is None and self._item and not inside:  # less indented than the item's content
            if self._para and not block_start:
                self._lazy = lazy = True  # a lazy continuation of the item's paragraph: the item goes on
            else:
                self._item = 0
        # A paragraph ends at a setext underline (never a lazy line) and goes on over indented text.
        underline = self._para and not lazy and item is None and _SETEXT.fullmatch(body) is not None
        indented_code = _indent(body) >= 4 and not self._para and item is None
        self._para = not (block_start or indented_code or underline)
        if item is not None and not body.strip():
            self._para = None  # an empty item: no paragraph yet, and a blank line ends it
        if unindented and self._blank and not (item and self._list):
            self._hard = start
            self._list = item is not None
        elif item is not None:
            self._soft = start
            self._list = True
        self._blank = False
        if opened is not None:
            if inside and self._lazy:
                # Whether the item still holds this fence rests on the lazy-line guess above.
                self.inexact += 1
            self._fence = (*opened, line.rstrip("\r"), inside)
            self._fence_body = next_start

    def _may_interrupt(self, marker: str, content: str) -> bool:
        """Can a list item start right after paragraph text? A sibling of the item holding that
        paragraph can; a new list only with some content and a bullet or a 1 (CommonMark)."""
        if self._item and marker[-1] == self._marker:
            return True
        return bool(content.strip()) and (not marker[0].isdigit() or int(marker[:-1]) == 1)

    def _fence_splittable(self) -> bool:
        # Only fences opened at the top level (not in a list item), with a finished line.
        return self._fence is not None and self._fence[3] == 0 and self._scan > self._fence_body

    def _split_fence(self) -> str:
        assert self._fence is not None
        char, length, opener, _ = self._fence
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
