"""A batch as the progress display reads it: counts, and the rows finished since the last read."""

from __future__ import annotations

import json
from collections.abc import Sequence

from agent_magics.core.secrets import redact
from agent_magics.core.text import one_line
from agent_magics.sql.batch import Batch, RowRecord, Snapshot
from agent_magics.view.progress import Reading, RowLine


def row_line(record: RowRecord, width: int = 100) -> RowLine:
    """A finished row as the progress shows it: request and answer (or error) on one short line each."""
    request: object = record.request
    if record.request.startswith('"'):  # a plain string request, as JSON text: show the string itself
        try:
            request = json.loads(record.request)
        except ValueError:
            pass
    answer = record.answer
    outcome = f"ERROR: {answer.error}" if answer.error else (answer.text or str(answer.value))
    # Redacted before the cut: a secret cut in half would no longer match (the frame is redacted later).
    shown_request, shown_outcome = redact(str(request)), redact(outcome)
    return RowLine(
        record.row, one_line(shown_request, width), one_line(shown_outcome, width), failed=bool(answer.error)
    )


def batch_reading(batch: Batch, *, stream: bool) -> Reading:
    """What the progress reads when an update is due: counts, and with ``stream`` the rows finished since."""
    shown = 0

    def read() -> tuple[Snapshot, Sequence[RowLine]]:
        nonlocal shown
        snapshot = batch.snapshot()
        if not stream:
            return snapshot, []
        new = batch.records[shown:]
        shown += len(new)
        return snapshot, [row_line(record) for record in new]

    return read
