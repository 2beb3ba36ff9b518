# agent_magics: make %%agent / %agent / %agent_sql available in every IPython kernel of this
# environment without %load_ext. Registration is lazy: nothing is imported until the first use.
# Switch it off with AGENT_MAGICS_NO_AUTOLOAD=1. Silent by design: a startup file must never fail.
def _agent_magics_register_lazily() -> None:
    import os

    if os.environ.get("AGENT_MAGICS_NO_AUTOLOAD", "").strip().lower() not in ("", "0", "false", "no"):
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    manager = getattr(shell, "magics_manager", None)
    if manager is None or not hasattr(manager, "register_lazy"):
        return
    try:
        for name in ("agent", "agent_sql"):
            if name not in manager.magics.get("cell", {}) and name not in manager.magics.get("line", {}):
                manager.register_lazy(name, "agent_magics")
    except Exception:
        pass


_agent_magics_register_lazily()
del _agent_magics_register_lazily
