"""LiteLLM's ``databricks/`` provider against the local workspace (streamed and not)."""

from __future__ import annotations

import re
from typing import Any

import pytest

QUESTION = "What is MLflow?"
MESSAGES = [{"role": "user", "content": QUESTION}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def tokens(text: str) -> int:
    return len(re.findall(r"\s*\S+", text))


@pytest.fixture(scope="module")
def litellm(workspace: Any) -> Any:
    import litellm

    litellm.telemetry = False
    return litellm


@pytest.fixture(scope="module")
def where(workspace: Any) -> dict[str, Any]:
    return {"api_base": f"{workspace.host}/serving-endpoints", "api_key": workspace.token, "timeout": 30}


@pytest.mark.parametrize("endpoint", ["demo-llm", "demo-agent", "demo-chat-agent", "demo-chat-model"])
def test_completion_has_real_usage(litellm: Any, where: dict[str, Any], endpoint: str) -> None:
    response = litellm.completion(model=f"databricks/{endpoint}", messages=MESSAGES, **where)
    message = response.choices[0].message
    assert "MLflow" in message.content
    # What the model generated: the text, and the agents' search_docs call (name and arguments).
    calls = message.tool_calls or []
    generated = tokens(message.content) + sum(tokens(c.function.name) + tokens(c.function.arguments) for c in calls)
    assert bool(calls) == (endpoint in ("demo-agent", "demo-chat-agent"))
    assert response.usage.prompt_tokens == tokens(QUESTION)
    assert response.usage.completion_tokens == generated
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_completion_ids_are_unique_per_request(litellm: Any, where: dict[str, Any]) -> None:
    ids = {litellm.completion(model="databricks/demo-llm", messages=MESSAGES, **where).id for _ in range(2)}
    assert len(ids) == 2


@pytest.mark.parametrize("endpoint", ["demo-llm", "demo-agent", "demo-chat-model"])
def test_stream_gives_the_same_text_and_usage(litellm: Any, where: dict[str, Any], endpoint: str) -> None:
    """LiteLLM's databricks provider sends no ``stream_options``: a foundation model's usage rides on its
    last chunk and reaches LiteLLM; for agents LiteLLM counts tokens itself (as against Databricks)."""
    whole = litellm.completion(model=f"databricks/{endpoint}", messages=MESSAGES, **where)
    chunks = list(litellm.completion(model=f"databricks/{endpoint}", messages=MESSAGES, stream=True, **where))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    if endpoint == "demo-llm":
        built = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
        assert (built.usage.prompt_tokens, built.usage.completion_tokens) == (tokens(QUESTION), tokens(text))


def test_max_tokens_truncates_with_finish_reason_length(litellm: Any, where: dict[str, Any]) -> None:
    response = litellm.completion(model="databricks/demo-llm", messages=MESSAGES, max_tokens=5, **where)
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 5 == tokens(response.choices[0].message.content)
    streamed = litellm.completion(model="databricks/demo-llm", messages=MESSAGES, max_tokens=5, stream=True, **where)
    chunks = list(streamed)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]


@pytest.mark.parametrize("stream", [False, True])
def test_tools_give_tool_calls(litellm: Any, where: dict[str, Any], stream: bool) -> None:
    ask = [{"role": "user", "content": "What's the weather in Paris?"}]
    response = litellm.completion(
        model="databricks/demo-llm", messages=ask, tools=[WEATHER_TOOL], stream=stream, **where
    )
    if stream:
        response = litellm.stream_chunk_builder(list(response), messages=ask)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and call.id.startswith("call_")
    assert '"city": "Paris"' in call.function.arguments
    # The tool's result goes back; the model answers from it.
    follow = [*ask, choice.message.model_dump(), {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    answer = litellm.completion(model="databricks/demo-llm", messages=follow, tools=[WEATHER_TOOL], **where)
    assert "sunny, 21 C" in answer.choices[0].message.content and answer.choices[0].finish_reason == "stop"


def test_no_tool_call_when_the_question_asks_for_none(litellm: Any, where: dict[str, Any]) -> None:
    response = litellm.completion(model="databricks/demo-llm", messages=MESSAGES, tools=[WEATHER_TOOL], **where)
    assert response.choices[0].finish_reason == "stop" and not response.choices[0].message.tool_calls


def test_json_schema_response_format(litellm: Any, where: dict[str, Any]) -> None:
    import json

    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
        "required": ["answer", "confidence"],
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
    response = litellm.completion(
        model="databricks/demo-llm", messages=MESSAGES, response_format=response_format, **where
    )
    data = json.loads(response.choices[0].message.content)
    assert set(data) == {"answer", "confidence"} and "MLflow" in data["answer"]


def test_an_in_stream_error_raises(litellm: Any, where: dict[str, Any]) -> None:
    with pytest.raises(Exception, match="simulated by fault-error-event"):
        for _ in litellm.completion(model="databricks/fault-error-event", messages=MESSAGES, stream=True, **where):
            pass


def test_http_errors_keep_databricks_message(litellm: Any, where: dict[str, Any]) -> None:
    with pytest.raises(litellm.exceptions.NotFoundError, match="no-such-endpoint"):
        litellm.completion(model="databricks/no-such-endpoint", messages=MESSAGES, **where)


def test_embeddings(litellm: Any, where: dict[str, Any]) -> None:
    texts = ["MLflow tracing records spans", "MLflow tracing records spans", "a different sentence"]
    response = litellm.embedding(model="databricks/demo-embeddings", input=texts, **where)
    vectors = [item["embedding"] for item in response.data]
    assert len(vectors) == 3 and len(vectors[0]) == 64
    assert vectors[0] == vectors[1] != vectors[2]
    assert response.usage.prompt_tokens == sum(tokens(t) for t in texts)
