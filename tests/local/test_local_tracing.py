"""The server traces a serving request exactly when its trace can be seen (``return_trace``).

Run in a child process set up like the server (``prepare_environment`` before MLflow is imported),
with the real MLflow and the real agents: the test process's own MLflow is not in serving mode.
"""

from __future__ import annotations

import json
import subprocess
import sys

from agent_magics.transport.embedded import _server_environment

SCRIPT = r"""
import asyncio, json
from agent_magics.local.server import prepare_environment
prepare_environment()
from agent_magics.local.catalog import build_endpoints
from agent_magics.local.invoke import Invocation, run_json, run_stream
from agent_magics.local.pacing import Pace
from agent_magics.local.tracing import ServedTraces

endpoint = build_endpoints(Pace(0, 0))["demo-agent"]
store = ServedTraces()

def call(request_id, return_trace):
    request = endpoint.adapter.parse({"input": [{"role": "user", "content": "What is MLflow?"}]})
    return Invocation(endpoint="demo-agent", adapter=endpoint.adapter, request=request, as_chat=False,
                      request_id=request_id, want_output=True, return_trace=return_trace)

async def stream(request_id, return_trace):
    return [event async for event in run_stream(call(request_id, return_trace), store)]

seen = {}
for name, return_trace in (("untraced", False), ("traced", True), ("untraced-again", False)):
    body = asyncio.run(run_json(call(name, return_trace), store))
    trace = body["databricks_output"].get("trace")
    seen[name] = {"spans": len(trace["data"]["spans"]) if trace else 0, "stored": len(store),
                  "answered": bool(body["output"])}
events = asyncio.run(stream("stream-traced", True))
seen["stream-traced"] = {"spans": len(events[-1]["databricks_output"]["trace"]["data"]["spans"])}
events = asyncio.run(stream("stream-untraced", False))
seen["stream-untraced"] = {"stored": len(store), "has_trace": "trace" in events[-1]["databricks_output"]}
print(json.dumps(seen))
"""


def test_only_requests_asking_for_their_trace_are_traced() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=_server_environment()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["untraced"] == {"spans": 0, "stored": 0, "answered": True}  # nothing was recorded at all
    assert seen["traced"]["spans"] >= 3 and seen["traced"]["stored"] == 1  # MLflow's full trace
    assert seen["untraced-again"] == {"spans": 0, "stored": 1, "answered": True}  # the override did not stick
    assert seen["stream-traced"]["spans"] >= 3
    assert seen["stream-untraced"] == {"stored": 2, "has_trace": False}
