"""Write the demo notebooks (source only; CI executes them with nbclient).

Run: .venv/bin/python notebooks/make_notebooks.py [--execute]
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells]
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index}"  # stable ids: regenerating does not rewrite unchanged notebooks
    return nb


QUICKSTART = [
    (
        "md",
        """# agent_magics quickstart

Ask AI agents deployed on Databricks from a notebook cell and watch the answer stream in.

With no Databricks workspace configured, this notebook talks to the **local demo workspace** that
`agent_magics` starts on 127.0.0.1: it speaks the Databricks REST API and hosts demo agents built
on MLflow's agent interfaces. Point it at a real workspace with `DATABRICKS_HOST` (plus a token or
OAuth), a `~/.databrickscfg` profile, or `--profile NAME`, and the same cells query your agents.""",
    ),
    ("code", "%load_ext agent_magics"),
    ("md", "What can we talk to? `%agent --list` shows the workspace's agent endpoints and apps."),
    ("code", "%agent --list"),
    (
        "md",
        """## Ask a Model Serving agent

`demo-agent` is a `ResponsesAgent` on Model Serving. The cell body is the question. The answer
streams; tool calls (here `search_docs`) show up as they happen.""",
    ),
    ("code", "%%agent demo-agent\nWhat does Databricks do?"),
    ("md", "The cell's value is an `AgentResult`: text, output items, custom outputs, trace."),
    ("code", "result = _\nprint(result.text[:200])\n[item['type'] for item in result.output]"),
    (
        "md",
        """## custom_inputs and the trace

`--custom-inputs` sends `custom_inputs` with the request; `--return-trace` asks the endpoint for
its MLflow trace (`databricks_options.return_trace`), shown under the answer.""",
    ),
    (
        "code",
        "%%agent demo-agent --custom-inputs '{\"id\": 5}' --return-trace --out answer\n"
        "How do I get the trace of an agent call?",
    ),
    ("code", "answer.custom_outputs"),
    ("code", "answer.trace.to_pandas()[['name', 'span_type', 'duration_ms', 'status']]"),
    (
        "md",
        """## An agent on Databricks Apps

Apps are addressed as `apps/<name>`; their URL comes from the Apps API and they accept OAuth
tokens only.""",
    ),
    ("code", "%%agent apps/demo-app\nHow do I query an agent deployed on Databricks Apps?"),
    ("md", "## A legacy ChatAgent, and a follow-up turn\n\n`--continue` sends the earlier turns too."),
    ("code", "%%agent demo-chat-agent\nWhat is MLflow?"),
    ("code", "%%agent demo-chat-agent --continue\nHow does it trace agents?"),
    ("md", "`{name}` fills in notebook variables (use `{{ }}` for literal braces):"),
    ("code", "topic = 'ai_query'\n"),
    ("code", "%%agent demo-agent --no-stream\nIn one paragraph: what is {topic}?"),
]


APPS = [
    (
        "md",
        """# An agent on Databricks Apps

A Databricks App is a web application that runs inside the workspace at its own URL. An agent
deployed as an app (for instance served by MLflow's `AgentServer`) answers the OpenAI
**Responses** protocol at `POST <app-url>/responses`.

How this differs from an agent on Model Serving:

* **Addressing.** The target is `apps/<name>`. The client asks the workspace's Apps API
  (`GET /api/2.0/apps/<name>`) for the app's URL and sends the question there.
* **Auth.** The Apps front door takes **OAuth** tokens only: a user login (`databricks auth login`)
  or a service principal's client id and secret. A personal access token is turned away.
* **Options.** `custom_inputs` reach the agent; `databricks_options` (such as `return_trace`) belong
  to Model Serving.

Here everything runs against the local demo workspace, which hosts `apps/demo-app` and signs in with
OAuth machine-to-machine credentials, so no configuration is needed.""",
    ),
    ("code", "%load_ext agent_magics"),
    ("md", "## With the magic\n\nName the app with the `apps/` prefix; the answer streams in as it is written."),
    ("code", "%%agent apps/demo-app\nHow do I query an agent deployed on Databricks Apps?"),
    (
        "md",
        """`--custom-inputs` sends extra JSON that the agent reads next to the question; what it sends back
beyond the answer arrives as `custom_outputs`.""",
    ),
    ("code", "%%agent apps/demo-app --custom-inputs '{\"id\": 5}' --out app_answer\nWhat are custom inputs for?"),
    ("code", "app_answer.custom_outputs"),
    (
        "md",
        """## The same by hand

**Step 1: find the app.** `get_workspace()` returns the workspace the magic uses (here the local one)
with its credentials; `workspace_client()` turns it into a databricks-sdk `WorkspaceClient`.""",
    ),
    (
        "code",
        """from agent_magics.transport.workspace import get_workspace

ws = get_workspace()
w = ws.workspace_client()
app = w.apps.get("demo-app")
print(app.name, app.url, "| auth:", w.config.auth_type)""",
    ),
    (
        "md",
        """**Step 2a: `DatabricksOpenAI`.** The `databricks-openai` package wraps the OpenAI Python client
with Databricks auth. Given `model="apps/<name>"` it looks the URL up itself and sends the OAuth
token to the app; `stream=True` yields Responses events as they come.""",
    ),
    (
        "code",
        """from databricks_openai import DatabricksOpenAI

client = DatabricksOpenAI(workspace_client=w)
response = client.responses.create(
    model="apps/demo-app",
    input=[{"role": "user", "content": "What does Databricks do?"}],
)
print(response.output_text)""",
    ),
    (
        "code",
        """stream = client.responses.create(
    model="apps/demo-app",
    input=[{"role": "user", "content": "What is MLflow?"}],
    stream=True,
)
for event in stream:
    if event.type == "response.output_text.delta":
        print(event.delta, end="")""",
    ),
    (
        "md",
        """**Step 2b: plain HTTP.** Any HTTP client will do: POST a Responses request body to
`<app-url>/responses` with an OAuth bearer token. `ws.auth_headers()` gives the `Authorization`
header for the workspace's credentials (refreshed when needed): hand it on, never print it.""",
    ),
    (
        "code",
        """import httpx

reply = httpx.post(
    f"{app.url}/responses",
    headers=ws.auth_headers(),
    json={"input": [{"role": "user", "content": "What does Databricks do?"}], "custom_inputs": {"id": 5}},
    timeout=60,
)
reply.raise_for_status()
body = reply.json()
print([item["type"] for item in body["output"]])
print(body["custom_outputs"])""",
    ),
    (
        "md",
        "The magic takes that road by default (`--via rest`: httpx and its own SSE parser) unless "
        "DatabricksOpenAI is in use; `--via client` sends the same request through the OpenAI client.",
    ),
    ("code", "%%agent apps/demo-app --via rest\nWhat is a lakehouse?"),
]

SERVING = [
    (
        "md",
        """# Agents on Model Serving: ResponsesAgent, ChatAgent, ChatModel

Model Serving runs an agent behind an endpoint. What the endpoint speaks depends on the MLflow
interface the agent was written against, and the endpoint's **task** says which one it is:

| agent interface | endpoint task | protocol | route |
|---|---|---|---|
| `ResponsesAgent` (current) | `agent/v1/responses` | OpenAI Responses | `POST /serving-endpoints/responses`, endpoint in `model` |
| `ChatAgent` (legacy) | `agent/v2/chat` | OpenAI Chat Completions | `POST /serving-endpoints/chat/completions`, endpoint in `model` |
| `ChatModel` (legacy) | `agent/v1/chat` | OpenAI Chat Completions | the same |

Every endpoint also has its own native route, `POST /serving-endpoints/<name>/invocations` (see the
REST notebook). `%%agent` reads the task from the Serving API and picks the protocol; `--api`
overrides the choice. Model Serving accepts OAuth tokens and personal access tokens alike, and takes
`custom_inputs` and `databricks_options` (for example `{"return_trace": true}`) in the request body.""",
    ),
    ("code", "%load_ext agent_magics"),
    (
        "code",
        """from agent_magics.transport.workspace import get_workspace

ws = get_workspace()
w = ws.workspace_client()
for name in ["demo-agent", "demo-chat-agent", "demo-chat-model"]:
    print(f"{name:16} {w.serving_endpoints.get(name).task}")""",
    ),
    (
        "md",
        """## ResponsesAgent

The answer is a list of **output items**: messages, and the agent's tool calls (`function_call`) with
their results (`function_call_output`) in the order they happened. Streaming sends text deltas and
each item as it completes. With `--return-trace` the MLflow trace of the call comes back as well
(`databricks_output.trace` in the response).""",
    ),
    (
        "code",
        "%%agent demo-agent --custom-inputs '{\"id\": 5}' --return-trace --out responses_answer\n"
        "How do I pass custom inputs to an agent?",
    ),
    (
        "code",
        """print([item["type"] for item in responses_answer.output])
print(responses_answer.custom_outputs)
print(responses_answer.trace_id)""",
    ),
    (
        "md",
        """By hand, with `DatabricksOpenAI`: `responses.create(model=<endpoint>)`. The Databricks extras go
in `extra_body`; the extras of the reply are in `model_extra`.""",
    ),
    (
        "code",
        """from databricks_openai import DatabricksOpenAI

client = DatabricksOpenAI(workspace_client=w)
response = client.responses.create(
    model="demo-agent",
    input=[{"role": "user", "content": "How do I pass custom inputs to an agent?"}],
    extra_body={"custom_inputs": {"id": 5}, "databricks_options": {"return_trace": True}},
)
print(response.output_text[:300])
print(response.model_extra["custom_outputs"])
trace = response.model_extra["databricks_output"]["trace"]
print(trace["info"]["trace_id"], len(trace["data"]["spans"]), "spans")""",
    ),
    (
        "md",
        """## ChatAgent (legacy)

A `ChatAgent` endpoint takes a list of chat `messages` and answers in the Chat Completions format;
the magic turns that into the same result object. `custom_inputs` and `return_trace` work as before.""",
    ),
    (
        "code",
        "%%agent demo-chat-agent --custom-inputs '{\"id\": 5}' --return-trace --out chat_answer\nWhat is MLflow?",
    ),
    ("code", "chat_answer.interface, chat_answer.custom_outputs, chat_answer.trace_id"),
    (
        "md",
        """By hand: the page this project follows uses `WorkspaceClient().serving_endpoints.get_open_ai_client()`,
an OpenAI client for `/serving-endpoints`. databricks-sdk now marks it deprecated in favour of
`DatabricksOpenAI` (the next cell uses it and shows the warning); both send the same request.""",
    ),
    (
        "code",
        """openai_client = w.serving_endpoints.get_open_ai_client()
completion = openai_client.chat.completions.create(
    model="demo-chat-agent",
    messages=[{"role": "user", "content": "What is MLflow?"}],
    extra_body={"custom_inputs": {"id": 5}},
)
print(completion.choices[0].message.content[:300])""",
    ),
    (
        "md",
        """## ChatModel (legacy)

A `ChatModel` endpoint is queried the same way. Here with `DatabricksOpenAI`, streaming: each chunk
carries a piece of the answer in `choices[0].delta.content`.""",
    ),
    ("code", "%%agent demo-chat-model\nWhat is Model Serving?"),
    (
        "code",
        """stream = client.chat.completions.create(
    model="demo-chat-model",
    messages=[{"role": "user", "content": "What is Model Serving?"}],
    stream=True,
)
for chunk in stream:
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="")""",
    ),
]

REST_METHODS = [
    (
        "md",
        """# One agent, every way to call it

A `ResponsesAgent` on Model Serving can be reached over three HTTP routes, and through each with an
SDK or plain HTTP. They carry the same question and give the same answer; they differ in what the
client does for you:

| magic option | what is sent | how |
|---|---|---|
| `--via client` | `POST /serving-endpoints/responses`, `{"model": "<endpoint>", "input": [...]}` | the OpenAI client (`DatabricksOpenAI` when `databricks_openai` is imported: then this is the default) |
| `--via rest` (default) | the same route and body | httpx, with the workspace's auth header (and no `openai` import) |
| `--api invocations` | `POST /serving-endpoints/<endpoint>/invocations`, `{"input": [...]}` | httpx: the endpoint's native route, which every served model has |
| (chat agents) | `POST /serving-endpoints/chat/completions`, `{"model": ..., "messages": [...]}` | either |

Streaming (`"stream": true`) returns server-sent events on all of them.""",
    ),
    ("code", "%load_ext agent_magics"),
    ("code", "%%agent demo-agent --via client --out by_client\nWhat is MLflow?"),
    ("code", "%%agent demo-agent --via rest --out by_rest\nWhat is MLflow?"),
    ("code", "%%agent demo-agent --api invocations --out by_invocations\nWhat is MLflow?"),
    (
        "code",
        """for name, result in {"client": by_client, "rest": by_rest, "invocations": by_invocations}.items():
    same = result.text == by_client.text
    print(f"{name:12} via {result.via:6} {result.elapsed:5.2f} s  {len(result.text)} chars  same answer: {same}")""",
    ),
    (
        "md",
        """## The raw calls

The workspace URL and credentials come from `get_workspace()`: `ws.host` is the URL,
`ws.auth_headers()` the `Authorization` header (OAuth or a personal access token, refreshed as
needed). Pass the header on; never print it.""",
    ),
    (
        "code",
        """import json

import httpx
from agent_magics.transport.workspace import get_workspace

ws = get_workspace()
question = [{"role": "user", "content": "What is MLflow?"}]""",
    ),
    ("md", "**1. `DatabricksOpenAI`**, the client Databricks recommends: `responses.create(model=<endpoint>)`."),
    (
        "code",
        """from databricks_openai import DatabricksOpenAI

client = DatabricksOpenAI(workspace_client=ws.workspace_client())
print(client.responses.create(model="demo-agent", input=question).output_text[:200])""",
    ),
    (
        "md",
        """**2. `WorkspaceClient().serving_endpoints.get_open_ai_client()`**: the OpenAI client that
databricks-sdk builds for `/serving-endpoints`. It is deprecated in favour of `DatabricksOpenAI`
(hence the warning), and it is how legacy chat agents were usually called.""",
    ),
    (
        "code",
        """chat_client = ws.workspace_client().serving_endpoints.get_open_ai_client()
completion = chat_client.chat.completions.create(model="demo-chat-agent", messages=question)
print(completion.choices[0].message.content[:200])""",
    ),
    ("md", "**3. REST, Responses route**: the endpoint name goes in the body's `model`."),
    (
        "code",
        """reply = httpx.post(
    f"{ws.host}/serving-endpoints/responses",
    headers=ws.auth_headers(),
    json={"model": "demo-agent", "input": question, "databricks_options": {"return_trace": True}},
    timeout=60,
)
reply.raise_for_status()
body = reply.json()
print([item["type"] for item in body["output"]], "| trace:", "trace" in body.get("databricks_output", {}))""",
    ),
    ("md", "**4. REST, streaming**: the same request with `\"stream\": true`; each `data:` line is one event."),
    (
        "code",
        """payload = {"model": "demo-agent", "input": question, "stream": True}
with httpx.stream(
    "POST", f"{ws.host}/serving-endpoints/responses", headers=ws.auth_headers(), json=payload, timeout=60
) as reply:
    reply.raise_for_status()
    for line in reply.iter_lines():
        if line.startswith("data: ") and line != "data: [DONE]":
            event = json.loads(line[len("data: "):])
            if event.get("type") == "response.output_text.delta":
                print(event["delta"], end="")""",
    ),
    ("md", "**5. REST, chat route**, for `ChatAgent` / `ChatModel` endpoints: chat `messages` in, `choices` out."),
    (
        "code",
        """reply = httpx.post(
    f"{ws.host}/serving-endpoints/chat/completions",
    headers=ws.auth_headers(),
    json={"model": "demo-chat-agent", "messages": question},
    timeout=60,
)
reply.raise_for_status()
print(reply.json()["choices"][0]["message"]["content"][:200])""",
    ),
    (
        "md",
        """**6. REST, native route**: `/serving-endpoints/<name>/invocations` takes the agent's own request
format (`input` for a ResponsesAgent, `messages` for chat agents), with no `model` field.""",
    ),
    (
        "code",
        """reply = httpx.post(
    f"{ws.host}/serving-endpoints/demo-agent/invocations",
    headers=ws.auth_headers(),
    json={"input": question, "custom_inputs": {"id": 5}},
    timeout=60,
)
reply.raise_for_status()
body = reply.json()
print([item["type"] for item in body["output"]], body["custom_outputs"])""",
    ),
]

TRACES = [
    (
        "md",
        """# Reading a trace

With `--return-trace` (`databricks_options.return_trace` on the wire) a Model Serving agent returns
the **MLflow trace** of the call next to the answer: `info` (trace id, state, timings, request and
response previews) and `data.spans`, one span per step (the agent, each tool call, each model call)
with its parent, start and end times, inputs and outputs. The magic shows it under the answer as a
tree you can unfold; the result object gives it to you as data.""",
    ),
    ("code", "%load_ext agent_magics"),
    ("code", "%%agent demo-agent --return-trace --out answer\nHow do I get the trace of an agent call?"),
    (
        "md",
        """`answer.trace` is the parsed trace (MLflow V3 and V2 shapes and the older agent-framework ones):
printed it is a tree, displayed it is the same panel as above.""",
    ),
    ("code", "print(answer.trace)"),
    ("code", "answer.trace"),
    ("md", "One row per span, with its depth in the tree and times relative to the start of the trace:"),
    ("code", "answer.trace.to_pandas()[['name', 'span_type', 'depth', 'start_offset_ms', 'duration_ms', 'status']]"),
    ("md", "Walk the tree yourself: each span knows its `children`, `parent` and `depth`."),
    (
        "code",
        """for span in answer.trace.root.walk():
    print("    " * span.depth + f"{span.name} [{span.span_type}] {span.duration_ms:.1f} ms {span.status}")""",
    ),
    ("md", "Look at one step: what the agent asked its tool, and what came back."),
    (
        "code",
        """tool = answer.trace.find("search_docs")
print(tool.inputs)
print([doc["title"] for doc in tool.outputs])""",
    ),
    ("code", "answer.trace.errors  # spans that failed: none here"),
    (
        "md",
        """The trace as it came over the wire is kept untouched in `answer.trace_dict`, and
`to_mlflow()` turns it into an `mlflow.entities.Trace` for MLflow's own tools.""",
    ),
    ("code", "sorted(answer.trace_dict['info'])"),
    (
        "code",
        """mlflow_trace = answer.trace.to_mlflow()
[span.name for span in mlflow_trace.data.spans]""",
    ),
    ("md", "Legacy chat agents return their traces the same way."),
    ("code", "%%agent demo-chat-agent --return-trace --out chat_answer\nWhat is MLflow?"),
    ("code", "chat_answer.trace.to_pandas()[['name', 'span_type', 'duration_ms']]"),
]


EVALUATE = [
    (
        "md",
        """# Evaluating agents with `%%agent_eval`

Is the agent good enough, across the questions that matter, and is it better than the other one?
`%%agent_eval` asks each agent every question of a DataFrame and scores the answers with MLflow's
own evaluation (`mlflow.genai.evaluate`): MLflow's judges, code scorers, and your own `@scorer`.

Here everything runs offline on the local demo workspace. Its judge, `demo-judge`, is **a
deterministic stand-in, not an LLM**: it answers MLflow's judge prompts with simple word checks,
so the loop can be tried (and tested) without a model. On Databricks the judges are MLflow's
managed judges, or any chat endpoint with `--judge ENDPOINT`.""",
    ),
    ("code", "%load_ext agent_magics"),
    (
        "md",
        "The questions: a `question` column, and what a correct answer says (`expected_facts`). "
        "The last row expects a fact no answer has, so correctness fails there.",
    ),
    (
        "code",
        """import pandas as pd

questions = pd.DataFrame({
    "question": [
        "What is MLflow?",
        "How do I query an agent on Databricks Apps?",
        "What does Databricks do?",
        "How do I return a trace from a serving endpoint?",
        "What is MLflow?",
    ],
    "expected_facts": [
        ["MLflow is an open-source platform"],
        ["pass model apps/<app-name> to DatabricksOpenAI"],
        ["Databricks is a data and AI platform"],
        ["return_trace"],
        ["bananas ripen on the moon"],
    ],
})""",
    ),
    ("md", "A scorer of our own: plain Python over the answer, named in `--scorers` like MLflow's."),
    (
        "code",
        """from mlflow.genai.scorers import scorer

@scorer
def mentions_databricks(outputs):
    return "databricks" in str(outputs).lower()""",
    ),
    (
        "md",
        "Two agents, three judges, one code scorer of ours (`tool_called:search_docs`: the agent's "
        "trace has that tool call) and ours from above. The scorecard shows the pass rates per agent, "
        "then every row, failing rows first, with each judge's rationale.",
    ),
    (
        "code",
        "%agent_eval demo-agent demo-chat-agent --data questions --out ev "
        "--scorers correctness,relevance_to_query,safety,tool_called:search_docs,mentions_databricks",
    ),
    (
        "md",
        "The result is data: pass rates, and one row per question and agent with each scorer's value "
        "and rationale.",
    ),
    ("code", "ev.per_target"),
    ("code", "ev.to_pandas()[['target', 'question', 'correctness/value', 'latency_s']]"),
    (
        "md",
        """The runs are in a real MLflow tracking server the local workspace runs on 127.0.0.1 (its
data in `~/.cache/agent_magics/mlflow`, kept across sessions): `ev.run_url` opens the run in
MLflow's UI, with every row's trace, the agent's own spans and the judges' verdicts.""",
    ),
    ("code", "ev.run_url is not None and ev.run_url.startswith('http://127.0.0.1')"),
]


NOTEBOOKS = {
    "quickstart": QUICKSTART,
    "apps": APPS,
    "serving_agents": SERVING,
    "rest_methods": REST_METHODS,
    "traces": TRACES,
    "evaluate": EVALUATE,
}


def execute(nb: nbformat.NotebookNode) -> None:
    """Run a notebook on the embedded local workspace, so readers see real outputs.

    Widget state is not stored: the default live view makes no widgets, and nbclient would keep
    the closed widgets' state of ``--view widget`` (or of anything else) in the metadata.
    """
    import os
    import tempfile

    from nbclient import NotebookClient

    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABRICKS_")}
    env.update({"DATABRICKS_CONFIG_FILE": "/nonexistent/databrickscfg", "MLFLOW_DISABLE_TELEMETRY": "true"})
    with tempfile.TemporaryDirectory() as ipython_dir:
        env["IPYTHONDIR"] = ipython_dir
        client = NotebookClient(nb, timeout=180, kernel_name="python3", store_widget_state=False,
                                resources={"metadata": {"path": str(HERE)}})
        client.execute(env=env)


def main() -> None:
    """Write the notebooks; with --execute, also run them so they keep their outputs."""
    import sys

    run = "--execute" in sys.argv[1:]
    for name, cells in NOTEBOOKS.items():
        nb = notebook(cells)
        if run:
            execute(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
