"""Run by test_spark_local.py with a Python that has a real (local-capable) pyspark.

A local SparkSession gets an ``ai_query(endpoint, request)`` pandas UDF that asks the local workspace
(string requests), then ``spark_engine.run_spark`` runs the page's example as written.
"""

from __future__ import annotations

import json
import os
import sys

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.functions import pandas_udf
from pyspark.sql.types import StringType

PAGE = sys.argv[1]


@pandas_udf(StringType())
def ai_query(endpoint: pd.Series, request: pd.Series) -> pd.Series:
    # Runs in Spark's Python worker process: everything is built here.
    from agent_magics.local.statements import _BearerConfig
    from agent_magics.sql.rows import RowAsker
    from agent_magics.sql.transpile import AiCall
    from agent_magics.sql.transport import WorkspaceTransport
    from agent_magics.transport.workspace import Workspace

    workspace = Workspace(host=os.environ["AM_HOST"], config=_BearerConfig(os.environ["AM_TOKEN"]), label="spark")
    asker = RowAsker(WorkspaceTransport(workspace))
    answers = []
    for name, question in zip(endpoint, request):
        call = AiCall(index=0, endpoint=name, request_sql="request")
        asker.prepare(call)
        answer = asker(call, json.dumps(question))
        answers.append(answer.value if answer.error is None else f"ERROR: {answer.error}")
    return pd.Series(answers)


def main() -> None:
    from agent_magics.sql.spark_engine import run_spark

    spark = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    spark.udf.register("ai_query", ai_query)
    frame = run_spark(PAGE, spark)
    error = None
    try:
        run_spark("SELEC 1", spark)
    except Exception as exc:
        error = str(exc)
    print("RESULT " + json.dumps({"columns": list(frame.columns), "answers": frame.iloc[:, 0].tolist(),
                                  "error": error}))
    spark.stop()


if __name__ == "__main__":
    main()
