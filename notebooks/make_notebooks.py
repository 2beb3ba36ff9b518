"""Write the demo notebooks; with --execute, run them on the local workspace and keep the outputs.

Run: .venv/bin/python notebooks/make_notebooks.py [--execute] [NAME ...]

Executed outputs are scrubbed of run-to-run values (loopback ports, temporary paths) before they
are written; tests/test_notebooks.py runs every notebook again and fails when the committed
outputs are not what a fresh run shows (regenerate them with --execute).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # a clean clone: the package beside this folder
from agent_magics.local.eval_questions import eval_questions_code  # noqa: E402

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
    ("md", '**4. REST, streaming**: the same request with `"stream": true`; each `data:` line is one event.'),
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

COMPARE = [
    (
        "md",
        """# Comparing agents side by side

Ask several agents the same question **at the same time** and read the answers in columns: an old
and a new version of an agent, a Model Serving endpoint and an app, two interfaces of one agent.
Each target is asked through its own interface; each column has its own header (status, time to
first token, duration, tokens, tool calls), tool calls and trace. Here the targets are the local
demo workspace's agents.""",
    ),
    ("code", "%load_ext agent_magics"),
    (
        "md",
        """Name several TARGETs on the `%%agent` line. The cell's options apply to every target; a narrow
output area stacks the columns. Under two answers, their diff is folded away.""",
    ),
    ("code", "%%agent demo-agent demo-chat-agent apps/demo-app\nWhat is MLflow?"),
    (
        "md",
        """The cell's value is an `AgentComparison`: iterable over the `AgentResult`s in target order,
indexable by target, one row per target in `to_pandas()`.""",
    ),
    (
        "code",
        """answers = _
answers.to_pandas()[["target", "status", "first_text_s", "total_s", "tool_calls"]]""",
    ),
    ("code", 'answers["demo-chat-agent"].interface, answers["apps/demo-app"].interface'),
    ("code", 'print(answers.diff("demo-agent", "demo-chat-agent") or "(the same answer)")'),
    (
        "md",
        """## Options for one target

`--custom-inputs`, `--api` and `--via` may be given for one target as `TARGET=VALUE` (repeat the
option for more). Here the ChatAgent is asked through chat completions instead of its native
`/invocations`, and only `demo-agent` gets custom inputs; `--out` names the comparison.""",
    ),
    (
        "code",
        "%%agent demo-agent demo-chat-agent --api demo-chat-agent=chat --custom-inputs demo-agent='{\"id\": 5}' "
        "--return-trace --out tuned\nHow do I pass custom inputs to an agent?",
    ),
    ("code", "[(r.target, r.interface, r.status, r.trace is not None) for r in tuned]"),
    (
        "md",
        """## One conversation per target

`--continue` sends each target its own earlier turns (here: the question above and its answer).""",
    ),
    ("code", "%%agent demo-agent demo-chat-agent --continue\nAnd how do I get the trace of that call?"),
    (
        "md",
        """The line form joins the targets with commas (the rest of the line is the question). A target
that fails does not stop the others: `fault-500` is a demo endpoint that always answers HTTP 500.""",
    ),
    ("code", "%agent demo-agent,fault-500 What is Model Serving?"),
    ("code", "[(r.target, r.status, r.error) for r in _]"),
    (
        "md",
        """## From Python

`compare()` takes the options of `ask()`, and `per_target` for one target's own.""",
    ),
    (
        "code",
        """from agent_magics import compare

result = compare(
    ["demo-agent", "apps/demo-app"], "What is Unity Catalog?", per_target={"apps/demo-app": {"via": "rest"}}
)
result.to_pandas()[["target", "status", "total_s", "tool_calls"]]""",
    ),
]


AGENT_SQL = [
    (
        "md",
        """# `%agent_sql`: ask an agent every row of a table

`%agent_sql` runs Databricks SQL with `ai_query(...)` and returns a pandas DataFrame. Here it runs
on the **local engine** (DuckDB in this kernel) over DataFrames of the notebook, queried by their
variable names; each `ai_query` row is one request to the agent, 8 in flight at a time
(`--concurrency`). The same SQL runs on a Databricks SQL warehouse or on Spark (below).""",
    ),
    ("code", "%load_ext agent_magics"),
    ("md", "A DataFrame of questions:"),
    (
        "code",
        """import pandas as pd

questions = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "question": [
            "What is MLflow?",
            "How do I query an agent deployed on Databricks Apps?",
            "What does ai_query do?",
        ],
    }
)
questions""",
    ),
    ("md", "One request per row; `--out` also stores the DataFrame in a variable."),
    (
        "code",
        """%%agent_sql --out answers --quiet
SELECT id, question, ai_query('demo-agent', question) AS answer
FROM questions
ORDER BY id""",
    ),
    ("code", "print(answers.loc[0, 'answer'][:200])"),
    (
        "md",
        """## `failOnError => false`: no row lost

By default the first failing row fails the statement (as on Databricks). With
`failOnError => false` each value is a struct: `result` (the answer) and `errorMessage` (why that
row failed). The DataFrame shows each struct as its answer, or `errorMessage: ...`; the data stays
a struct. `fault-500` fails every request, on purpose.""",
    ),
    (
        "code",
        """%%agent_sql --out checked --quiet
SELECT
  id,
  ai_query('demo-agent', question, failOnError => false) AS answer,
  ai_query('fault-500', question, failOnError => false) AS broken
FROM questions
ORDER BY id""",
    ),
    ("code", "checked.loc[0, 'broken']  # the struct itself"),
    (
        "code",
        """failed = checked[[row['errorMessage'] is not None for row in checked['broken']]]
f"{len(failed)} of {len(checked)} rows failed on fault-500" """,
    ),
    (
        "md",
        """## On a SQL warehouse, or on Spark

Inside Databricks, or with a workspace and warehouse configured, the same SQL runs where the data
is: `--engine warehouse` sends it through the Statement Execution API (Databricks' own `ai_query`
runs it), `--engine spark` runs it on the notebook's Spark session. Tables are Unity Catalog
tables rather than notebook DataFrames:

```
%%agent_sql --engine warehouse --warehouse 1234567890abcdef --out answers
SELECT question, ai_query('my-agent-endpoint', question, failOnError => false) AS r
FROM main.default.questions
```

The warehouse id is in the SQL Warehouses page (or `databricks warehouses list`); with
`DATABRICKS_WAREHOUSE_ID` set, or `warehouse_id` in the profile, `--engine auto` (the default)
picks the warehouse. The local demo workspace serves a warehouse too, so this runs here:""",
    ),
    (
        "code",
        """%%agent_sql --engine warehouse --quiet
SELECT q, ai_query('demo-agent', q) AS answer
FROM (VALUES ('What is MLflow?')) AS t(q)""",
    ),
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
        "import pandas as pd\n\n" + eval_questions_code(),
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
    "agent_sql": AGENT_SQL,
    "apps": APPS,
    "serving_agents": SERVING,
    "rest_methods": REST_METHODS,
    "traces": TRACES,
    "compare": COMPARE,
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
        # Evaluations from a fresh store: the machine's earlier runs would add "since run ..." lines.
        env["AGENT_MAGICS_MLFLOW_DIR"] = os.path.join(ipython_dir, "mlflow")
        client = NotebookClient(
            nb,
            timeout=180,
            kernel_name="python3",
            store_widget_state=False,
            resources={"metadata": {"path": str(HERE)}},
        )
        client.execute(env=env)


# Values that change from run to run and mean nothing to a reader of the committed notebook: the
# local workspace's random loopback ports, the kernel's temporary cell files, how long this machine
# took to start the workspace, execution timestamps.
VOLATILE = [
    (re.compile(r"(https?://)?127\.0\.0\.1:\d{2,5}"), r"\g<1>127.0.0.1:PORT"),
    (re.compile(r"/tmp/ipykernel_\d+/\d+\.py"), "/tmp/ipykernel/cell.py"),
    (re.compile(r" \(started in \d+(\.\d+)? s\)"), ""),  # the machine's start-up time of the workspace
]


def scrub_text(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def scrub(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip the volatile values from a notebook's outputs (in place), so committed outputs never go stale.

    ``tests/test_notebooks.py`` checks that the committed notebooks are scrubbed and that their
    outputs are what the current code shows.
    """
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = scrub_text(output["text"])
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output["data"][mime] = scrub_text(value)
            output.get("metadata", {}).pop("execution", None)
    return nb


def main() -> None:
    """Write the notebooks; with --execute, also run them (then strip volatile values) so they keep outputs."""
    import sys

    run = "--execute" in sys.argv[1:]
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    for name, cells in NOTEBOOKS.items():
        if only and name not in only:
            continue
        nb = notebook(cells)
        if run:
            execute(nb)
            scrub(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
