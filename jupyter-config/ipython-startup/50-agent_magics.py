# agent_magics: make %%agent / %agent / %agent_sql available in every IPython kernel of this
# environment without %load_ext. Registration is lazy: nothing is imported until the first use.
# Switch it off with AGENT_MAGICS_NO_AUTOLOAD=1. Silent by design: a startup file must never fail.
def _keep_question_marks(lines: list) -> list:
    if not any("%agent" in line for line in lines):
        return lines
    try:
        from agent_magics.magic.transformer import keep_question_marks
    except Exception:
        return lines
    return keep_question_marks(lines)


_keep_question_marks.__name__ = "agent_magics_keep_question_marks"


def _agent_magics_register_lazily(keep_question_marks: object) -> None:
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
        # IPython reads a line ending in "?" as a help request before any magic runs: this keeps
        # "%agent demo-agent What is MLflow?" whole (importing the transformer only when needed).
        cleanup = shell.input_transformers_cleanup
        if not any(getattr(t, "__name__", "") == "agent_magics_keep_question_marks" for t in cleanup):
            cleanup.append(keep_question_marks)
    except Exception:
        pass


_agent_magics_register_lazily(_keep_question_marks)
del _agent_magics_register_lazily, _keep_question_marks
