"""databricks-langchain's ChatDatabricks (invoke, stream, use_responses_api) and
DatabricksEmbeddings against the local workspace."""

from __future__ import annotations

import re
from typing import Any

import pytest

QUESTION = "What is MLflow?"


def tokens(text: str) -> int:
    return len(re.findall(r"\s*\S+", text))


def chat(workspace_client: Any, model: str, **options: Any) -> Any:
    from databricks_langchain import ChatDatabricks

    return ChatDatabricks(model=model, workspace_client=workspace_client, timeout=30, max_retries=0, **options)


@pytest.mark.parametrize("model", ["demo-llm", "demo-agent", "demo-chat-agent", "demo-chat-model"])
def test_invoke_has_usage_metadata(workspace_client: Any, model: str) -> None:
    message = chat(workspace_client, model).invoke(QUESTION)
    assert "MLflow" in message.content
    usage = message.usage_metadata
    assert usage is not None and usage["input_tokens"] == tokens(QUESTION)
    if model in ("demo-agent", "demo-chat-agent"):  # their search_docs call is generated output too
        assert message.tool_calls and usage["output_tokens"] > tokens(message.content)
    else:
        assert usage["output_tokens"] == tokens(message.content)


@pytest.mark.parametrize("model", ["demo-llm", "demo-agent"])
def test_stream_gives_the_invoke_text(workspace_client: Any, model: str) -> None:
    llm = chat(workspace_client, model)
    whole = llm.invoke(QUESTION).content
    chunks = list(llm.stream(QUESTION))
    assert "".join(c.content for c in chunks if isinstance(c.content, str)) == whole
    if model == "demo-llm":  # a foundation model reports usage while it streams
        last = [c.usage_metadata for c in chunks if c.usage_metadata][-1]
        assert last["input_tokens"] == tokens(QUESTION) and last["output_tokens"] == tokens(whole)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def test_responses_api_invoke(workspace_client: Any) -> None:
    message = chat(workspace_client, "demo-agent", use_responses_api=True).invoke(QUESTION)
    assert "MLflow" in _text(message.content)
    assert message.usage_metadata is not None and message.usage_metadata["input_tokens"] == tokens(QUESTION)
    assert message.tool_calls and message.tool_calls[0]["name"] == "search_docs"


def test_responses_api_stream(workspace_client: Any) -> None:
    llm = chat(workspace_client, "demo-agent", use_responses_api=True)
    chunks = list(llm.stream(QUESTION))
    text = "".join(_text(c.content) for c in chunks)
    assert "MLflow" in text
    usages = [c.usage_metadata for c in chunks if getattr(c, "usage_metadata", None)]
    assert usages and usages[-1]["input_tokens"] == tokens(QUESTION)


def test_tool_calling(workspace_client: Any) -> None:
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    message = chat(workspace_client, "demo-llm").bind_tools([get_weather]).invoke("What's the weather in Paris?")
    assert message.tool_calls and message.tool_calls[0]["name"] == "get_weather"
    assert message.tool_calls[0]["args"] == {"city": "Paris"}


def test_structured_output(workspace_client: Any) -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        answer: str
        sources: list[str]

    result = chat(workspace_client, "demo-llm").with_structured_output(Answer, method="json_schema").invoke(QUESTION)
    assert isinstance(result, Answer) and "MLflow" in result.answer


def test_embeddings(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from databricks_langchain import DatabricksEmbeddings

    monkeypatch.setenv("DATABRICKS_HOST", workspace.host)
    monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
    embeddings = DatabricksEmbeddings(endpoint="demo-embeddings")
    first, second = embeddings.embed_documents(["MLflow tracing", "Unity Catalog"])
    assert len(first) == 64 and first != second
    assert embeddings.embed_query("MLflow tracing") == first
