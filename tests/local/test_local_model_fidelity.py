"""What third-party clients notice: usage, headers and ids, Databricks-shaped errors, a
model-like ``demo-llm``, the openapi and embeddings routes; through databricks-sdk, MLflow's
deployments client, the openai SDK (DatabricksOpenAI) and raw HTTP."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from agent_magics.local.statements import LOCAL_WAREHOUSE_ID
from agent_magics.transport.embedded import LocalWorkspace

QUESTION = "What is MLflow?"
MESSAGES = [{"role": "user", "content": QUESTION}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def tokens(text: str) -> int:
    return len(re.findall(r"\s*\S+", text))


@pytest.fixture(scope="module")
def deploy_client(local_workspace: LocalWorkspace) -> Any:
    from mlflow.deployments import get_deploy_client

    with pytest.MonkeyPatch.context() as env:
        for key, value in local_workspace.env(auth="pat").items():
            env.setenv(key, value)
        env.setenv("DATABRICKS_CONFIG_FILE", "/nonexistent/databrickscfg")
        yield get_deploy_client("databricks")


# -- 1. usage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["demo-llm", "demo-agent", "demo-chat-agent", "demo-chat-model"])
def test_chat_completion_usage_counts_the_answer(openai_pat: Any, endpoint: str) -> None:
    completion = openai_pat.chat.completions.create(model=endpoint, messages=MESSAGES)
    text = completion.choices[0].message.content
    assert completion.usage.prompt_tokens == tokens(QUESTION)
    assert completion.usage.completion_tokens >= tokens(text) > 0  # tool calls count too
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


@pytest.mark.parametrize("endpoint", ["demo-llm", "demo-agent", "demo-chat-model"])
def test_streamed_usage_with_include_usage(openai_pat: Any, endpoint: str) -> None:
    chunks = list(
        openai_pat.chat.completions.create(
            model=endpoint, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    last = chunks[-1]
    assert last.choices == [] and last.usage.prompt_tokens == tokens(QUESTION)
    if endpoint != "demo-agent":  # the agent's tool call counts as output too
        assert last.usage.completion_tokens == tokens(text)
    assert all(c.usage is None for c in chunks[:-1] if endpoint != "demo-llm" or not c.choices[0].finish_reason)


def test_streamed_usage_without_include_usage(openai_pat: Any) -> None:
    """A foundation-model endpoint always reports usage on its last chunk; an agent only when asked."""
    llm = list(openai_pat.chat.completions.create(model="demo-llm", messages=MESSAGES, stream=True))
    assert llm[-1].choices[0].finish_reason == "stop" and llm[-1].usage.completion_tokens == len(llm) - 1
    agent = list(openai_pat.chat.completions.create(model="demo-agent", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in agent)


def test_responses_usage_and_fields(openai_pat: Any) -> None:
    response = openai_pat.responses.create(model="demo-agent", input=QUESTION)
    assert response.id.startswith("resp_") and response.model == "demo-agent" and response.status == "completed"
    assert response.created_at > 1_700_000_000
    assert response.usage.input_tokens == tokens(QUESTION)
    assert response.usage.output_tokens > tokens(response.output_text)  # plus the tool call
    streamed = list(openai_pat.responses.create(model="demo-agent", input=QUESTION, stream=True))
    completed = streamed[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage.output_tokens == response.usage.output_tokens
    assert [i.type for i in completed.response.output] == [i.type for i in response.output]


def test_app_answers_carry_usage(openai_oauth: Any) -> None:
    # MLflow's AgentServer takes a list of items, not a bare string (as a real app does).
    response = openai_oauth.responses.create(model="apps/demo-app", input=MESSAGES)
    assert response.usage.input_tokens == tokens(QUESTION) and response.id.startswith("resp_")
    events = list(openai_oauth.responses.create(model="apps/demo-app", input=MESSAGES, stream=True))
    assert events[-1].type == "response.completed" and events[-1].response.usage.output_tokens > 0


def test_sdk_query_reads_usage_and_served_model_name(pat_client: Any) -> None:
    from databricks.sdk.service.serving import ChatMessage, ChatMessageRole

    answer = pat_client.serving_endpoints.query(
        name="demo-llm", messages=[ChatMessage(role=ChatMessageRole.USER, content=QUESTION)], max_tokens=7
    )
    assert answer.served_model_name == "demo_llm-1"
    assert answer.usage.prompt_tokens == tokens(QUESTION) and answer.usage.completion_tokens == 7
    # The SDK reads ``finishReason`` (camelCase); Databricks and we send ``finish_reason``.
    assert tokens(answer.choices[0].message.content) == 7
    agent = pat_client.serving_endpoints.query(name="demo-agent", input=[{"role": "user", "content": QUESTION}])
    assert agent.served_model_name == "demo_agent-1"


def test_mlflow_deployments_client(deploy_client: Any) -> None:
    answer = deploy_client.predict(endpoint="demo-llm", inputs={"messages": MESSAGES, "max_tokens": 4})
    assert answer["usage"]["completion_tokens"] == 4 and answer["choices"][0]["finish_reason"] == "length"
    agent = deploy_client.predict(endpoint="demo-agent", inputs={"input": MESSAGES})
    assert agent["usage"]["input_tokens"] == tokens(QUESTION)
    chunks = list(deploy_client.predict_stream(endpoint="demo-llm", inputs={"messages": MESSAGES}))
    assert chunks[-1]["usage"]["completion_tokens"] == len(chunks) - 1
    events = list(deploy_client.predict_stream(endpoint="demo-agent", inputs={"input": MESSAGES}))
    assert events[-1]["type"] == "response.completed"
    vectors = deploy_client.predict(endpoint="demo-embeddings", inputs={"input": ["a b", "c d"]})
    assert len(vectors["data"]) == 2 and len(vectors["data"][0]["embedding"]) == 64


# -- 2. ids and headers ------------------------------------------------------------------------


def test_ids_are_new_for_every_answer(openai_pat: Any, openai_oauth: Any) -> None:
    completions = [openai_pat.chat.completions.create(model="demo-chat-model", messages=MESSAGES) for _ in range(2)]
    assert completions[0].id != completions[1].id and completions[0].id.startswith("chatcmpl_")
    endpoint = openai_pat.responses.create(model="demo-agent", input=QUESTION)
    app = openai_oauth.responses.create(model="apps/demo-app", input=MESSAGES)
    again = openai_pat.responses.create(model="demo-agent", input=QUESTION)

    def ids(response: Any) -> set[str]:
        return (
            {response.id}
            | {i.id for i in response.output if getattr(i, "id", None)}
            | {i.call_id for i in response.output if getattr(i, "call_id", None)}
        )

    assert not ids(endpoint) & ids(app) and not ids(endpoint) & ids(again)
    assert any(i.startswith("fc_") for i in ids(endpoint)) and any(i.startswith("msg_") for i in ids(endpoint))


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/serving-endpoints/demo-agent/invocations", {"input": MESSAGES}),
        ("/serving-endpoints/chat/completions", {"model": "demo-chat-agent", "messages": MESSAGES}),
        ("/serving-endpoints/responses", {"model": "demo-agent", "input": QUESTION, "stream": True}),
        ("/serving-endpoints/embeddings", {"model": "demo-embeddings", "input": "hi"}),
    ],
)
def test_served_model_name_header(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 200
    name = body.get("model") or path.split("/")[2]
    assert response.headers["served-model-name"] == f"{name.replace('-', '_')}-1"


# -- 3. errors ---------------------------------------------------------------------------------

BAD_BODIES = [
    ("/serving-endpoints/demo-agent/invocations", {"input": [{"role": "user"}]}),
    ("/serving-endpoints/demo-agent/invocations", {"input": [{"role": "robot", "content": "x"}]}),
    ("/serving-endpoints/demo-chat-agent/invocations", {"messages": [{"content": "no role"}]}),
    ("/serving-endpoints/demo-chat-model/invocations", {"messages": [{"role": "user", "content": 5}]}),
    ("/serving-endpoints/demo-llm/invocations", {"messages": MESSAGES, "max_tokens": -1}),
    ("/serving-endpoints/demo-llm/invocations", {"messages": MESSAGES, "response_format": {"type": "yaml"}}),
    ("/serving-endpoints/embeddings", {"model": "demo-embeddings", "input": [1, 2]}),
    ("/serving-endpoints/embeddings", {"model": "demo-agent", "input": "hi"}),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES)
def test_bad_bodies_get_one_databricks_error(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = http.post(path, json=body)
    assert response.status_code == 400
    error = response.json()
    assert set(error) == {"error_code", "message"} and error["error_code"] == "BAD_REQUEST"
    message = error["message"]
    for leak in ("pydantic", "input_value", "For further information", "function-after", "Traceback", "\n"):
        assert leak not in message, message


# (endpoint, route, the in-stream error shape Model Serving uses for that wire)
IN_STREAM = [
    ("fault-error-event", "responses", lambda e: e.get("type") == "error" and e["code"] == "INTERNAL_ERROR"),
    ("fault-error-dict", "responses", lambda e: isinstance(e.get("error"), str)),
    ("fault-error-event", "chat", lambda e: e["error"]["error_code"] == "INTERNAL_ERROR" and e["error"]["message"]),
]


@pytest.mark.parametrize(("endpoint", "route", "shaped"), IN_STREAM)
def test_in_stream_error_shapes(http: httpx.Client, sse: Any, endpoint: str, route: str, shaped: Any) -> None:
    if route == "responses":
        body: dict[str, Any] = {"model": endpoint, "input": QUESTION, "stream": True}
        path = "/serving-endpoints/responses"
    else:
        body, path = {"model": endpoint, "messages": MESSAGES, "stream": True}, "/serving-endpoints/chat/completions"
    events = sse(http.post(path, json=body).text)
    assert shaped(events[-1]), events[-1]
    assert "simulated by" in json.dumps(events[-1])


def test_in_stream_errors_raise_in_the_openai_sdk(openai_pat: Any) -> None:
    import openai

    for call in (
        lambda: openai_pat.chat.completions.create(model="fault-error-event", messages=MESSAGES, stream=True),
        lambda: openai_pat.responses.create(model="fault-error-dict", input=QUESTION, stream=True),
    ):
        with pytest.raises(openai.APIError):
            list(call())


# (endpoint, the error class a Databricks warehouse reports, a fragment of the endpoint's answer)
AI_QUERY_FAILURES = [
    ("fault-403", "[REMOTE_FUNCTION_HTTP_FAILED_ERROR] The remote HTTP request failed with code 403", "PERMISSION"),
    ("fault-500", "[REMOTE_FUNCTION_HTTP_RETRY_TIMEOUT]", "INTERNAL_ERROR"),
    ("no-such-endpoint", "[REMOTE_FUNCTION_HTTP_FAILED_ERROR] The remote HTTP request failed with code 404", "exist"),
]


@pytest.mark.parametrize(("endpoint", "error_class", "quoted"), AI_QUERY_FAILURES)
def test_ai_query_failure_is_a_databricks_error_class(
    pat_client: Any, endpoint: str, error_class: str, quoted: str
) -> None:
    from databricks.sdk.service.sql import StatementState

    result = pat_client.statement_execution.execute_statement(
        statement=f"SELECT ai_query('{endpoint}', 'hi') AS a", warehouse_id=LOCAL_WAREHOUSE_ID, wait_timeout="50s"
    )
    assert result.status.state == StatementState.FAILED
    message = result.status.error.message
    assert message.startswith(error_class) and message.endswith("SQLSTATE: 57012") and quoted in message
    for hint in ("failOnError =>", "%agent", "--engine", "DuckDB", "notebook", "Add "):
        assert hint not in message, message


# -- 4. a model-like demo-llm ------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_truncates(openai_pat: Any, stream: bool) -> None:
    create = openai_pat.chat.completions.create
    if stream:
        chunks = list(create(model="demo-llm", messages=MESSAGES, max_tokens=6, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        finish = chunks[-1].choices[0].finish_reason
    else:
        completion = create(model="demo-llm", messages=MESSAGES, max_tokens=6)
        text, finish = completion.choices[0].message.content, completion.choices[0].finish_reason
    assert tokens(text) == 6 and finish == "length"
    full = create(model="demo-llm", messages=MESSAGES).choices[0].message.content
    assert full.startswith(text) and len(full) > len(text)


@pytest.mark.parametrize(
    ("question", "tool_choice", "called"),
    [
        ("What's the weather in Paris?", "auto", True),
        ("Use get_weather for Oslo", "auto", True),
        (QUESTION, "auto", False),
        ("What's the weather in Paris?", "none", False),
        (QUESTION, "required", True),
        (QUESTION, {"type": "function", "function": {"name": "get_weather"}}, True),
    ],
)
def test_tools(openai_pat: Any, question: str, tool_choice: Any, called: bool) -> None:
    ask = [{"role": "user", "content": question}]
    completion = openai_pat.chat.completions.create(
        model="demo-llm", messages=ask, tools=[WEATHER_TOOL], tool_choice=tool_choice
    )
    choice = completion.choices[0]
    assert (choice.finish_reason == "tool_calls") is called
    assert bool(choice.message.tool_calls) is called
    if called:
        assert json.loads(choice.message.tool_calls[0].function.arguments).keys() == {"city"}


def test_structured_output_parses(openai_pat: Any) -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        answer: str
        sources: list[str]
        confidence: float

    parsed = openai_pat.chat.completions.parse(model="demo-llm", messages=MESSAGES, response_format=Answer)
    result = parsed.choices[0].message.parsed
    assert isinstance(result, Answer) and "MLflow" in result.answer


def test_ai_query_response_format_and_return_type(pat_client: Any) -> None:
    sql = (
        "SELECT ai_query('demo-llm', 'What is MLflow?', "
        "responseFormat => 'STRUCT<answer: STRING, topics: ARRAY<STRING>>', "
        "returnType => 'STRUCT<answer: STRING, topics: ARRAY<STRING>>') AS r"
    )
    result = pat_client.statement_execution.execute_statement(
        statement=sql, warehouse_id=LOCAL_WAREHOUSE_ID, wait_timeout="30s"
    )
    assert result.status.error is None, result.status.error
    value = json.loads(result.result.data_array[0][0])
    assert "MLflow" in value["answer"] and isinstance(value["topics"], list)


# -- 5. routes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["demo-agent", "demo-chat-agent", "demo-llm", "demo-embeddings"])
def test_openapi(pat_client: Any, name: str) -> None:
    document = json.loads(pat_client.serving_endpoints.get_open_api(name).contents.read())
    assert document["openapi"].startswith("3.") and document["info"]["title"] == name
    assert "post" in document["paths"]["/invocations"]


def test_openapi_of_an_unknown_endpoint(http: httpx.Client) -> None:
    response = http.get("/api/2.0/serving-endpoints/nope/openapi")
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("encoding", ["float", None])  # None: the SDK asks for base64 and decodes it
def test_embeddings_through_the_openai_sdk(openai_pat: Any, encoding: str | None) -> None:
    texts = ["MLflow tracing records spans", "MLflow tracing", "Unity Catalog volumes"]
    options = {"encoding_format": encoding} if encoding else {}
    response = openai_pat.embeddings.create(model="demo-embeddings", input=texts, **options)
    vectors = [item.embedding for item in response.data]
    assert [len(v) for v in vectors] == [64, 64, 64]

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b))

    assert abs(cosine(vectors[0], vectors[0]) - 1) < 1e-6
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert response.usage.prompt_tokens == sum(tokens(t) for t in texts)


def test_async_databricks_openai_reads_usage(pat_client: Any) -> None:
    import asyncio
    import concurrent.futures

    from databricks_openai import AsyncDatabricksOpenAI

    async def ask() -> tuple[Any, list[Any]]:
        client = AsyncDatabricksOpenAI(workspace_client=pat_client, timeout=30, max_retries=0)
        completion = await client.chat.completions.create(model="demo-llm", messages=MESSAGES)
        stream = await client.responses.create(model="demo-agent", input=QUESTION, stream=True)
        return completion, [event async for event in stream]

    # In a thread of its own: an earlier test of the session may have left this thread's loop running
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        completion, events = pool.submit(asyncio.run, ask()).result(timeout=60)
    assert completion.usage.completion_tokens == tokens(completion.choices[0].message.content)
    assert events[-1].type == "response.completed" and events[-1].response.usage.input_tokens == tokens(QUESTION)


def test_mlflow_to_predict_fn(deploy_client: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow.genai

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")  # not ./mlflow.db
    predict = mlflow.genai.to_predict_fn("endpoints:/demo-llm")
    answer = predict(messages=MESSAGES, max_tokens=3)
    assert answer["choices"][0]["finish_reason"] == "length" and answer["usage"]["completion_tokens"] == 3
