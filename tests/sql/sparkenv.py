"""Whether the Spark tests can run in this interpreter (imported by conftest and the Spark tests)."""

from __future__ import annotations


def plain_pyspark_missing() -> str | None:
    """Why the Spark tests cannot run here (None when they can): they need plain pyspark and Java."""
    import shutil
    from pathlib import Path

    try:
        import pyspark
    except ImportError:
        return "pyspark is not installed; make test-pyspark runs these in .venv-pyspark"
    if not (Path(pyspark.__file__).parent / "jars").is_dir():
        return (
            "this pyspark is databricks-connect's, which refuses local sessions; make test-pyspark runs these "
            "in .venv-pyspark"
        )
    if shutil.which("java") is None:
        return "no Java runtime (make java installs one)"
    return None
