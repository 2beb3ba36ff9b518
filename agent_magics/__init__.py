"""agent_magics: query AI agents deployed on Databricks from IPython, with the answer streamed live.

``%load_ext agent_magics`` registers ``%%agent``, ``%agent`` and ``%agent_sql``. Nothing heavy is
imported here or at load time: clients, widgets and the local workspace load on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    from agent_magics.magic.agent import AgentMagics
    from agent_magics.magic.agent_sql import AgentSqlMagics

    ipython.register_magics(AgentMagics)
    ipython.register_magics(AgentSqlMagics)


def unload_ipython_extension(ipython: Any) -> None:
    pass
