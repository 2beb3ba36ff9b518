"""Everything of ours that imports MLflow turns its telemetry off first: MLflow starts its telemetry
client when it is first imported, so a setting made after the import comes too late. Read from the
source: every function that imports ``mlflow`` calls ``no_mlflow_telemetry()`` before that import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import agent_magics

PACKAGE = Path(agent_magics.__file__).parent
OWN_PROCESS = PACKAGE / "local"  # the server process sets it in its environment at launch (embedded.py)
# Importing any module of these packages runs the package's __init__ first, which sets it.
GUARDED_PACKAGES = ("evaluate",)


def _imports_mlflow(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "mlflow" for alias in node.names)
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mlflow"


def _calls_guard(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "no_mlflow_telemetry"
    )


def _guarded_package(folder: Path) -> bool:
    init = ast.parse((folder / "__init__.py").read_text())
    first = next((n.lineno for n in init.body if isinstance(n, ast.Expr) and _calls_guard(n.value)), None)
    imports = [
        n.lineno
        for n in init.body
        if isinstance(n, (ast.Import, ast.ImportFrom))
        and n.module != "__future__"
        and not (isinstance(n, ast.ImportFrom) and n.module == "agent_magics.core.extras")
    ]
    return first is not None and all(first < line for line in imports)


def _unguarded() -> list[str]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        if OWN_PROCESS in path.parents:
            continue
        package = path.relative_to(PACKAGE).parts[0]
        if package in GUARDED_PACKAGES and _guarded_package(PACKAGE / package):
            continue
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            guarded_at = min((n.lineno for n in ast.walk(function) if _calls_guard(n)), default=None)
            for node in ast.walk(function):
                if _imports_mlflow(node) and (guarded_at is None or guarded_at > node.lineno):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} ({function.name})")
        top = [n for n in tree.body if _imports_mlflow(n)]
        found += [f"{path.relative_to(PACKAGE)}:{n.lineno} (module level)" for n in top]
    return found


def test_every_mlflow_import_comes_after_telemetry_is_off() -> None:
    assert _unguarded() == []


def test_the_check_finds_an_unguarded_import(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mod.py").write_text(
        "def f():\n    import mlflow\n\ndef g():\n    no_mlflow_telemetry()\n    import mlflow\n"
    )
    (tmp_path / "evaluate").mkdir()
    (tmp_path / "evaluate" / "__init__.py").write_text("from agent_magics.evaluate.engine import evaluate\n")
    (tmp_path / "evaluate" / "engine.py").write_text("def evaluate():\n    import mlflow\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "OWN_PROCESS", tmp_path / "local")
    assert sorted(_unguarded()) == ["evaluate/engine.py:2 (evaluate)", "mod.py:2 (f)"]
