"""The Spark engine on a real local SparkSession, when a local-capable pyspark is available.

The project's venv has databricks-connect, whose pyspark refuses local sessions ("Only remote Spark
sessions using Databricks Connect are supported"). Point AGENT_MAGICS_PYSPARK_PYTHON at a Python 3.11
with a plain ``pyspark`` (and Java) whose path also reaches this project's dependencies to run this test.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

PYSPARK_PYTHON = os.environ.get("AGENT_MAGICS_PYSPARK_PYTHON")
PAGE = ("""SELECT ai_query("demo-agent", question) """
        """FROM (VALUES ('what is MLflow?'), ('how does MLflow work?')) AS t(question)""")


@pytest.mark.skipif(not PYSPARK_PYTHON, reason="set AGENT_MAGICS_PYSPARK_PYTHON to a Python with local pyspark")
def test_page_example_on_a_local_spark_session(local_workspace):
    script = Path(__file__).with_name("spark_local_script.py")
    env = {**os.environ, "AM_HOST": local_workspace.host, "AM_TOKEN": local_workspace.token,
           "PYSPARK_PYTHON": PYSPARK_PYTHON, "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run([PYSPARK_PYTHON, str(script), PAGE], capture_output=True, text=True, timeout=300, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["columns"] == ["ai_query(demo-agent, question)"]  # Spark names it as Databricks does
    assert len(result["answers"]) == 2 and all("MLflow" in a for a in result["answers"])
    assert result["error"].startswith("spark: ") and "\n" not in result["error"]
