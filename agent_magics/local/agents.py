"""Demo agents on MLflow's real agent interfaces, traced with MLflow tracing.

Each answer is one AGENT root span (``predict`` / ``predict_stream``), a TOOL span for
``search_docs`` and a CHAT_MODEL span for the answer generation. No model and no network: the
"language model" composes passages from the bundled knowledge base, word by word at a set pace,
so the same input always gives the same text (item ids are new for every answer).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import mlflow
from mlflow.entities import SpanType
from mlflow.pyfunc import ChatAgent, ChatModel, ResponsesAgent
from mlflow.types.agent import ChatAgentChunk, ChatAgentMessage, ChatAgentResponse, ChatContext
from mlflow.types.llm import (
    ChatChoice,
    ChatChoiceDelta,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionResponse,
    ChatMessage,
    ChatParams,
)
from mlflow.types.responses import ResponsesAgentRequest, ResponsesAgentResponse, ResponsesAgentStreamEvent

from agent_magics.core.text import content_text
from agent_magics.local import knowledge
from agent_magics.local.hostile import PAYLOADS
from agent_magics.local.pacing import Pace

TOOL_NAME = "search_docs"
SYSTEM_PROMPT = "Answer the question from the retrieved passages only, and name the sources."


@mlflow.trace(span_type=SpanType.TOOL, name=TOOL_NAME)
def search_docs(query: str, context: str = "") -> list[dict[str, str]]:
    """Look a question up in the bundled knowledge base (``context``: the question it follows up)."""
    return [p.as_dict() for p in knowledge.search(query, context=context)]


def generate_answer(question: knowledge.Question, passages: Sequence[dict[str, str]], pace: Pace) -> Iterator[str]:
    """The stand-in language model: streams the composed answer word by word inside an LLM span."""
    text = knowledge.compose_answer(question, [knowledge.Passage(**p) for p in passages])
    with mlflow.start_span(name="generate_answer", span_type=SpanType.CHAT_MODEL) as span:
        span.set_inputs(
            {
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": question.text},
                ],
                "passages": [p["id"] for p in passages],
            }
        )
        yield from pace.paced(knowledge.word_deltas(text))
        span.set_outputs({"role": "assistant", "content": text})


def fresh_key() -> str:
    """The id part of an answer's items (``fc_``, ``call_``, ``msg_``): new for every answer, as a
    real model's are, so two answers (or the app and the endpoint) never share item ids."""
    return uuid.uuid4().hex[:24]


def text_of(content: Any) -> str:
    """Text of a message content; parts joined by a space, as the demo agents read them as words."""
    return content_text(content, sep=" ")


def responses_turns(items: Sequence[Any]) -> list[tuple[str, str]]:
    """``(role, text)`` of the message items of a Responses input; tool items are skipped."""
    turns = []
    for item in items:
        data = item.model_dump(exclude_none=True) if hasattr(item, "model_dump") else dict(item)
        if data.get("type", "message") == "message" and data.get("role"):
            turns.append((data["role"], text_of(data.get("content"))))
    return turns


def demo_custom_outputs(
    passages: Sequence[dict[str, str]], question: knowledge.Question, custom_inputs: dict[str, Any] | None
) -> dict[str, Any]:
    outputs: dict[str, Any] = {"sources": [p["id"] for p in passages], "turn": question.turn}
    if custom_inputs:
        outputs["echo"] = custom_inputs
    return outputs


def _item_done(item: dict[str, Any], custom_outputs: dict[str, Any] | None = None) -> ResponsesAgentStreamEvent:
    return ResponsesAgentStreamEvent(type="response.output_item.done", item=item, custom_outputs=custom_outputs)


def _collect_response(events: Sequence[ResponsesAgentStreamEvent]) -> ResponsesAgentResponse:
    dumped = [e.model_dump(exclude_none=True) for e in events]
    output = [e["item"] for e in dumped if e["type"] == "response.output_item.done"]
    custom = next((e["custom_outputs"] for e in reversed(dumped) if e.get("custom_outputs")), None)
    return ResponsesAgentResponse(output=output, custom_outputs=custom)


class _PacedAgent(ResponsesAgent):
    """A ResponsesAgent whose answer is one event generator: ``predict`` collects what
    ``predict_stream`` yields, so both give the same items."""

    def __init__(self, pace: Pace) -> None:
        self.pace = pace

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        return _collect_response(list(self._events(request)))

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        yield from self._events(request)

    def _events(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        raise NotImplementedError


class DemoAgent(_PacedAgent):
    """``demo-agent``: answers questions about querying Databricks agents, calling ``search_docs``."""

    def _events(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        question = knowledge.question_from_turns(responses_turns(request.input))
        key = fresh_key()
        call_id = f"call_{key}"
        arguments = {"query": question.text, **({"context": question.context} if question.context else {})}
        yield _item_done(self.create_function_call_item(f"fc_{key}", call_id, TOOL_NAME, json.dumps(arguments)))
        passages = search_docs(question.text, question.context)
        yield _item_done(self.create_function_call_output_item(call_id, json.dumps(passages)))
        message_id = f"msg_{key}"
        words = []
        for delta in generate_answer(question, passages, self.pace):
            words.append(delta)
            yield ResponsesAgentStreamEvent(**self.create_text_delta(delta, message_id))
        custom = demo_custom_outputs(passages, question, request.custom_inputs)
        yield _item_done(self.create_text_output_item("".join(words), message_id), custom)


def reduce_chat_agent_chunks(chunks: Sequence[ChatAgentChunk]) -> dict[str, Any]:
    """Fold ChatAgent stream chunks into a ChatAgentResponse dict (content joined by message id)."""
    messages: dict[str, dict[str, Any]] = {}
    custom = None
    for chunk in chunks:
        delta = chunk.delta.model_dump(exclude_none=True)
        if delta["id"] in messages:
            messages[delta["id"]]["content"] = messages[delta["id"]].get("content", "") + delta.get("content", "")
        else:
            messages[delta["id"]] = delta
        custom = chunk.custom_outputs or custom
    return {"messages": list(messages.values()), "custom_outputs": custom}


class DemoChatAgent(ChatAgent):
    """``demo-chat-agent``: the same knowledge as a ChatAgent (tool call, tool message, answer)."""

    def __init__(self, pace: Pace) -> None:
        self.pace = pace

    @mlflow.trace(span_type=SpanType.AGENT)
    def predict(
        self,
        messages: list[ChatAgentMessage],
        context: ChatContext | None = None,
        custom_inputs: dict[str, Any] | None = None,
    ) -> ChatAgentResponse:
        return ChatAgentResponse(**reduce_chat_agent_chunks(list(self._chunks(messages, custom_inputs))))

    @mlflow.trace(span_type=SpanType.AGENT, output_reducer=reduce_chat_agent_chunks)
    def predict_stream(
        self,
        messages: list[ChatAgentMessage],
        context: ChatContext | None = None,
        custom_inputs: dict[str, Any] | None = None,
    ) -> Iterator[ChatAgentChunk]:
        yield from self._chunks(messages, custom_inputs)

    def _chunks(
        self, messages: list[ChatAgentMessage], custom_inputs: dict[str, Any] | None
    ) -> Iterator[ChatAgentChunk]:
        messages = [m if isinstance(m, ChatAgentMessage) else ChatAgentMessage(**m) for m in messages]
        question = knowledge.question_from_turns([(m.role, m.content or "") for m in messages])
        key = fresh_key()
        call_id = f"call_{key}"
        arguments = {"query": question.text, **({"context": question.context} if question.context else {})}
        tool_call = {
            "id": call_id,
            "type": "function",
            "function": {"name": TOOL_NAME, "arguments": json.dumps(arguments)},
        }
        yield ChatAgentChunk(
            delta=ChatAgentMessage(role="assistant", content="", id=f"fc_{key}", tool_calls=[tool_call])
        )
        passages = search_docs(question.text, question.context)
        yield ChatAgentChunk(
            delta=ChatAgentMessage(
                role="tool", name=TOOL_NAME, tool_call_id=call_id, content=json.dumps(passages), id=f"tool_{key}"
            )
        )
        message_id = f"msg_{key}"
        for delta in generate_answer(question, passages, self.pace):
            yield ChatAgentChunk(delta=ChatAgentMessage(role="assistant", content=delta, id=message_id))
        yield ChatAgentChunk(
            delta=ChatAgentMessage(role="assistant", content="", id=message_id),
            finish_reason="stop",
            custom_outputs=demo_custom_outputs(passages, question, custom_inputs),
        )


def reduce_chat_completion_chunks(chunks: Sequence[ChatCompletionChunk]) -> dict[str, Any]:
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    custom = next((c.custom_outputs for c in reversed(chunks) if c.custom_outputs), None)
    return {"role": "assistant", "content": text, "custom_outputs": custom}


class DemoChatModel(ChatModel):
    """``demo-chat-model``: the same knowledge as a ChatModel (chat-completion shaped)."""

    def __init__(self, pace: Pace, model_name: str = "demo-chat-model") -> None:
        self.pace = pace
        self.model_name = model_name

    @mlflow.trace(span_type=SpanType.AGENT)
    def predict(self, context: Any, messages: list[ChatMessage], params: ChatParams) -> ChatCompletionResponse:
        chunks = list(self._chunks(messages, params))
        reduced = reduce_chat_completion_chunks(chunks)
        return ChatCompletionResponse(
            choices=[ChatChoice(message=ChatMessage(role="assistant", content=reduced["content"]))],
            id=chunks[0].id,
            model=self.model_name,
            custom_outputs=reduced["custom_outputs"],
        )

    @mlflow.trace(span_type=SpanType.AGENT, output_reducer=reduce_chat_completion_chunks)
    def predict_stream(
        self, context: Any, messages: list[ChatMessage], params: ChatParams
    ) -> Iterator[ChatCompletionChunk]:
        yield from self._chunks(messages, params)

    def _chunks(self, messages: list[ChatMessage], params: ChatParams) -> Iterator[ChatCompletionChunk]:
        question = knowledge.question_from_turns([(m.role, text_of(m.content)) for m in messages])
        chunk_id = f"chatcmpl_{fresh_key()}"
        passages = search_docs(question.text, question.context)
        for delta in generate_answer(question, passages, self.pace):
            yield ChatCompletionChunk(
                choices=[ChatChunkChoice(delta=ChatChoiceDelta(role="assistant", content=delta))],
                id=chunk_id,
                model=self.model_name,
            )
        yield ChatCompletionChunk(
            choices=[ChatChunkChoice(delta=ChatChoiceDelta(role="assistant", content=""), finish_reason="stop")],
            id=chunk_id,
            model=self.model_name,
            custom_outputs=demo_custom_outputs(passages, question, params.custom_inputs),
        )


_BENCH_WORDS = tuple(
    re.findall(
        r"\w+",
        "lakehouse agent token stream serving endpoint trace span notebook widget delta catalog table "
        "query answer model metric latency batch cluster warehouse pipeline feature vector index retrieval "
        "prompt context evaluation judge dataset schema volume job workflow runtime kernel cell output",
    )
)


@dataclass(frozen=True)
class BenchSettings:
    """``bench-agent`` knobs, read from ``custom_inputs``."""

    tokens: int = 500
    tokens_per_second: float = 200.0
    first_token_delay: float = 0.0
    paragraph_every: int = 50
    tokens_per_delta: int = 1

    @classmethod
    def from_custom_inputs(cls, custom_inputs: dict[str, Any] | None) -> BenchSettings:
        given = custom_inputs or {}
        defaults = cls()

        def number(name: str, kind: type, low: float, high: float) -> Any:
            try:
                value = kind(given.get(name, getattr(defaults, name)))
            except (TypeError, ValueError):
                value = getattr(defaults, name)
            return kind(min(max(value, low), high))

        return cls(
            tokens=number("tokens", int, 0, 2_000_000),
            tokens_per_second=number("tokens_per_second", float, 0.0, 1e9),
            first_token_delay=number("first_token_delay", float, 0.0, 60.0),
            paragraph_every=number("paragraph_every", int, 0, 1_000_000),
            tokens_per_delta=number("tokens_per_delta", int, 1, 10_000),
        )


def bench_tokens(count: int, paragraph_every: int) -> Iterator[str]:
    """Deterministic prose: sentences of 12 words, a blank line every ``paragraph_every`` tokens."""
    for index in range(count):
        word = _BENCH_WORDS[(index * 7 + index // len(_BENCH_WORDS)) % len(_BENCH_WORDS)]
        new_paragraph = index > 0 and paragraph_every > 0 and index % paragraph_every == 0
        new_sentence = index % 12 == 0 or new_paragraph
        if new_sentence:
            word = word.capitalize()
        ends_sentence = index % 12 == 11 or index == count - 1
        if paragraph_every > 0 and (index + 1) % paragraph_every == 0:
            ends_sentence = True
        prefix = "" if index == 0 else ("\n\n" if new_paragraph else " ")
        yield prefix + word + ("." if ends_sentence else "")


def _batched(tokens: Iterator[str], size: int) -> Iterator[str]:
    batch: list[str] = []
    for token in tokens:
        batch.append(token)
        if len(batch) == size:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


class BenchAgent(ResponsesAgent):
    """``bench-agent``: N tokens of deterministic text at a given rate, for benchmarks and browser tests."""

    def predict(self, request: ResponsesAgentRequest) -> ResponsesAgentResponse:
        return _collect_response(list(self._events(request)))

    def predict_stream(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        yield from self._events(request)

    def _events(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        settings = BenchSettings.from_custom_inputs(request.custom_inputs)
        message_id = f"msg_{fresh_key()}"
        pace = Pace(settings.first_token_delay, settings.tokens_per_second / settings.tokens_per_delta)
        parts = []
        with mlflow.start_span(name="generate_tokens", span_type=SpanType.CHAT_MODEL) as span:
            span.set_inputs(asdict(settings))
            for delta in pace.paced(
                _batched(bench_tokens(settings.tokens, settings.paragraph_every), settings.tokens_per_delta)
            ):
                parts.append(delta)
                yield ResponsesAgentStreamEvent(**self.create_text_delta(delta, message_id))
            span.set_outputs({"tokens": settings.tokens, "characters": sum(map(len, parts))})
        yield _item_done(self.create_text_output_item("".join(parts), message_id), {"bench": asdict(settings)})


@mlflow.trace(span_type=SpanType.TOOL, name=TOOL_NAME)
def hostile_search(query: str) -> list[dict[str, str]]:
    """A tool whose results are attacker-controlled."""
    return [{"id": f"payload-{i}", "title": payload, "text": payload} for i, payload in enumerate(PAYLOADS)]


class HostileAgent(_PacedAgent):
    """``hostile-agent``: hostile strings in its answer, tool arguments/outputs, custom_outputs and trace."""

    def _events(self, request: ResponsesAgentRequest) -> Iterator[ResponsesAgentStreamEvent]:
        key = fresh_key()
        call_id = f"call_{key}"
        arguments = json.dumps({"query": PAYLOADS[0], "filter": PAYLOADS[1], "html": PAYLOADS[6]})
        yield _item_done(self.create_function_call_item(f"fc_{key}", call_id, TOOL_NAME, arguments))
        results = hostile_search(PAYLOADS[0])
        yield _item_done(self.create_function_call_output_item(call_id, json.dumps(results)))
        text = "Here is what I found:\n\n" + "\n\n".join(PAYLOADS)
        message_id = f"msg_{key}"
        words = []
        with mlflow.start_span(name="generate_answer", span_type=SpanType.CHAT_MODEL) as span:
            span.set_inputs({"messages": [{"role": "user", "content": PAYLOADS[2]}], "html": PAYLOADS[3]})
            for delta in self.pace.paced(knowledge.word_deltas(text)):
                words.append(delta)
                yield ResponsesAgentStreamEvent(**self.create_text_delta(delta, message_id))
            span.set_outputs({"role": "assistant", "content": text})
        custom = {
            "payloads": PAYLOADS,
            "html": "<script>alert('xss-custom-outputs')</script>",
            "link": "javascript:alert('xss-custom-link')",
        }
        if request.custom_inputs:
            custom["echo"] = request.custom_inputs
        yield _item_done(self.create_text_output_item("".join(words), message_id), custom)
