"""agent_magics: query AI agents deployed on Databricks from IPython, with the answer streamed live.

``%load_ext agent_magics`` registers ``%%agent``, ``%agent`` and ``%agent_sql``. From plain Python:
``from agent_magics import ask, stream, Conversation`` (``agent_magics.run``). Nothing heavy is
imported here or at load time: clients, widgets and the local workspace load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_magics.core.comparison import AgentComparison
    from agent_magics.core.result import AgentResult
    from agent_magics.run import Conversation, Stream, ask, compare, stream

__version__ = "0.1.0"
__all__ = ["AgentComparison", "AgentResult", "Conversation", "Stream", "ask", "compare", "stream"]

# The public API, imported on first use so that `import agent_magics` (and %load_ext) stays cheap.
_LAZY = {
    "ask": "agent_magics.run",
    "stream": "agent_magics.run",
    "Conversation": "agent_magics.run",
    "Stream": "agent_magics.run",
    "compare": "agent_magics.run",
    "AgentResult": "agent_magics.core.result",
    "AgentComparison": "agent_magics.core.comparison",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agent_magics' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def load_ipython_extension(ipython: Any) -> None:
    from agent_magics.magic import shown_once
    from agent_magics.magic.agent import AgentMagics
    from agent_magics.magic.agent_eval import AgentEvalMagics
    from agent_magics.magic.agent_sql import AgentSqlMagics
    from agent_magics.magic.transformer import register

    ipython.register_magics(AgentMagics)
    ipython.register_magics(AgentSqlMagics)
    ipython.register_magics(AgentEvalMagics)
    register(ipython)  # a trailing "?" of an %agent line is part of the question, not a help request
    shown_once.register(ipython)  # a result shown live or --quiet is shown in full from the next cell on


def unload_ipython_extension(ipython: Any) -> None:
    from agent_magics.magic import shown_once, transformer

    transformer.unregister(ipython)
    shown_once.unregister(ipython)
