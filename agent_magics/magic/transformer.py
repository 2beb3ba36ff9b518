"""Keep a trailing ``?`` of an ``%agent`` / ``%agent_sql`` line part of the question.

IPython's help-end transformer reads ``%agent demo-agent What is MLflow?`` as a help request for
``MLflow``. This cleanup transformer (``shell.input_transformers_cleanup`` runs before it) turns such
a line into the ``run_line_magic`` call IPython would have made, so the ``?`` reaches the magic.
``%agent?`` and ``%agent??`` alone (nothing after the name) are left to IPython: they show the help.
"""

from __future__ import annotations

import re

# indent, an optional `name =` assignment, the magic's name, then its line (which ends in "?")
_LINE = re.compile(
    r"(?P<indent>[ \t]*)(?P<assign>[A-Za-z_][A-Za-z0-9_]*\s*=\s*)?"
    r"%(?P<name>agent_sql|agent)[ \t]+(?P<rest>\S.*?\?)[ \t]*\Z"
)


def keep_question_marks(lines: list[str]) -> list[str]:
    """An IPython cleanup transformer: rewrite ``%agent ... ?`` lines; leave every other line as it is."""
    if not lines or lines[0].startswith("%%"):
        return lines  # a cell magic gets its whole cell as typed
    out = []
    for line in lines:
        body, newline = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        match = _LINE.match(body)
        if match is None or body.rstrip().endswith("\\"):
            out.append(line)
            continue
        call = f"get_ipython().run_line_magic({match['name']!r}, {match['rest']!r})"
        out.append(f"{match['indent']}{match['assign'] or ''}{call}{newline}")
    return out


def register(shell: object) -> None:
    """Add the transformer once (``%reload_ext`` must not stack copies)."""
    transformers = getattr(shell, "input_transformers_cleanup", None)
    if transformers is not None and keep_question_marks not in transformers:
        transformers.append(keep_question_marks)


def unregister(shell: object) -> None:
    transformers = getattr(shell, "input_transformers_cleanup", None)
    if transformers is not None:
        while keep_question_marks in transformers:
            transformers.remove(keep_question_marks)
