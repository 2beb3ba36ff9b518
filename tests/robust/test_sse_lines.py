"""The bounded SSE line splitter: same lines as the SSE rules (CRLF, LF, CR) whatever the chunking,
and a line or an event past the limit is refused without holding more than the limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_magics.wire.sse import EventTooLarge, iter_lines, iter_sse_payloads

texts = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20),
    min_size=1,
    max_size=20,
)
endings = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=300, deadline=None)
@given(texts, st.lists(endings, min_size=20, max_size=20), st.lists(st.integers(1, 9), min_size=1, max_size=50))
def test_lines_are_the_same_however_the_bytes_are_cut(lines, ends, cuts):
    # CR, then an empty line ended by LF, is one CRLF: not what is meant. Right to left, so that a
    # CR turned into LF is seen by the line before it (CR, empty, CR, empty, LF).
    for i in reversed(range(len(lines) - 1)):
        if ends[i] == "\r" and not lines[i + 1] and ends[i + 1].startswith("\n"):
            ends[i] = "\n"
    data = "".join(line + ends[i] for i, line in enumerate(lines)).encode()
    chunks, start = [], 0
    for cut in cuts * 200:
        if start >= len(data):
            break
        chunks.append(data[start : start + cut])
        start += cut
    chunks.append(data[start:])
    assert list(iter_lines(chunks)) == lines


def test_a_line_past_the_limit_is_refused():
    with pytest.raises(EventTooLarge, match="larger than"):
        list(iter_lines([b"data: " + b"x" * 50] * 10, limit=100))


def test_an_event_of_many_lines_past_the_limit_is_refused():
    lines = iter_lines([b"data: " + b"y" * 40 + b"\n"] * 10, limit=1000)
    with pytest.raises(EventTooLarge, match="an event larger than"):
        list(iter_sse_payloads(lines, limit=100))


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
def test_a_whole_line_past_the_limit_in_one_chunk_is_refused(end):
    with pytest.raises(EventTooLarge, match="a line larger than"):
        list(iter_lines([b"ok" + end + b"y" * 200 + end], limit=100))
