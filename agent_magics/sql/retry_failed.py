"""``--retry-failed NAME``: run an earlier statement again, sending only the requests that failed.

The earlier result is a pandas DataFrame (``--out NAME``), and a DataFrame row cannot say which request
produced it (joins, filters and ORDER BY reorder rows; the request need not be a column). So the
local engine remembers, beside each result that has failed rows, the statement and its answers keyed
by (call site, request). A retry runs the same statement again: a request answered before gets that
answer back without leaving the process, a request that failed (or is new: the input changed) is sent.
The result is the whole statement's DataFrame, failed rows re-asked, the rest unchanged.

The memory sits beside the DataFrame (weakly keyed, not in ``DataFrame.attrs``, which pandas copies on
every operation) and goes with it; a copy of the frame (``df.copy()``, a filter) has none.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

from agent_magics.core.errors import AgentUsageError
from agent_magics.sql.batch import AnswerFn, RowRecord
from agent_magics.sql.semantics import Answer
from agent_magics.sql.transpile import AiCall

Key = tuple[int, str]  # (call site, request JSON)


@dataclass
class Memo:
    sql: str
    parameters: dict[str, Any] | None
    answers: dict[Key, Answer]  # the requests answered without error
    failed: int  # rows that failed


_memos: dict[int, tuple[weakref.ref[Any], Memo]] = {}
_lock = threading.Lock()


def remember(
    frame: Any, sql: str, parameters: dict[str, Any] | None, records: list[RowRecord], *, stopped: bool = False
) -> None:
    """Keep the answers beside ``frame`` when some of its requests failed, or the statement was
    ``stopped`` (interrupted, timed out, failed) before every row was answered: nothing to retry otherwise."""
    failed = sum(record.answer.error is not None for record in records)
    if not failed and not stopped:
        return
    answers = {(r.call, r.request): r.answer for r in records if r.answer.error is None}
    _keep(frame, Memo(sql, dict(parameters) if parameters else None, answers, failed))


def carry_over(source: Any, target: Any) -> None:
    """``target`` (a wrapper of ``source``, e.g. the readable frame shown) gets ``source``'s memory."""
    with _lock:
        entry = _memos.get(id(source))
    if entry is not None and entry[0]() is source:
        _keep(target, entry[1])


def _keep(frame: Any, memo: Memo) -> None:
    key = id(frame)
    try:
        ref = weakref.ref(frame, lambda _gone, key=key: _forget(key))  # type: ignore[misc]
    except TypeError:
        return
    with _lock:
        _memos[key] = (ref, memo)


def _forget(key: int) -> None:
    with _lock:
        _memos.pop(key, None)


def recall(name: str, namespace: Any) -> Memo:
    """The memory of the notebook variable ``name``; a one-line usage error when there is none."""
    if name not in namespace:
        raise AgentUsageError(
            f"--retry-failed {name}: no variable {name!r} in the notebook; pass the --out NAME of an "
            "earlier %agent_sql."
        )
    frame = namespace[name]
    with _lock:
        entry = _memos.get(id(frame))
    if entry is None or entry[0]() is not frame:
        raise AgentUsageError(
            f"--retry-failed {name}: {name!r} is not an %agent_sql result with failed rows from this session "
            "(the local engine remembers those; a copy or a filtered frame has no memory): run the statement again."
        )
    return entry[1]


@dataclass
class Replayer:
    """An AnswerFn that gives back remembered answers and sends only the other requests."""

    asker: AnswerFn
    memo: Memo
    reused: int = 0
    sent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __call__(self, call: AiCall, request: str) -> Answer:
        known = self.memo.answers.get((call.index, request))
        with self._lock:
            if known is not None:
                self.reused += 1
            else:
                self.sent += 1
        return known if known is not None else self.asker(call, request)
