"""The demo agents' bundled knowledge base, a small deterministic search over it, and answers.

A dozen short passages about querying agents on Databricks. Search is keyword overlap with an
idf weight (no model, no network), so the same question always gives the same answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Passage:
    id: str
    title: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "title": self.title, "text": self.text}


PASSAGES: tuple[Passage, ...] = (
    Passage(
        "databricks-openai",
        "The DatabricksOpenAI client",
        "DatabricksOpenAI, from the databricks-openai package, is an OpenAI client authenticated with "
        "your Databricks workspace: DatabricksOpenAI() or DatabricksOpenAI(workspace_client="
        "WorkspaceClient(...)). It asks the workspace config for credentials on every request, so PAT "
        "and OAuth tokens refresh on their own. Query an agent with client.responses.create(model=..., "
        "input=[...]), or a chat endpoint with client.chat.completions.create.",
    ),
    Passage(
        "apps-prefix",
        "Agents on Databricks Apps (the apps/ prefix)",
        'To query an agent deployed as a Databricks App, pass model="apps/<app-name>" to '
        "DatabricksOpenAI's responses.create. The client looks the app up with GET /api/2.0/apps/<name>, "
        "takes its URL and posts to <app-url>/responses. Only the Responses API is routed this way; "
        'stream=True and extra_body={"custom_inputs": {...}} work as usual.',
    ),
    Passage(
        "oauth-vs-pat",
        "OAuth tokens versus personal access tokens",
        "Databricks Apps accept OAuth tokens only: a personal access token (PAT, dapi...) is refused. "
        "Log in with `databricks auth login --host <workspace-url>` (OAuth U2M) or use a service "
        "principal's client ID and secret (OAuth M2M). Model Serving endpoints accept both PATs and "
        "OAuth tokens.",
    ),
    Passage(
        "model-serving",
        "Model Serving endpoints",
        "Agents deployed with agents.deploy() run on Model Serving endpoints. GET "
        "/api/2.0/serving-endpoints/<name> describes an endpoint; its task field names the interface: "
        "agent/v1/responses for a ResponsesAgent, agent/v2/chat for a ChatAgent, agent/v1/chat for a "
        "ChatModel and llm/v1/chat for chat language models.",
    ),
    Passage(
        "responses-agent",
        "The ResponsesAgent interface",
        "mlflow.pyfunc.ResponsesAgent is the recommended agent interface. predict takes a "
        "ResponsesAgentRequest with input items and returns output items: messages, function_call and "
        "function_call_output. predict_stream yields response.output_text.delta events, then "
        "response.output_item.done for each finished item.",
    ),
    Passage(
        "chat-agent-model",
        "ChatAgent and ChatModel (legacy interfaces)",
        "A ChatAgent returns a list of messages, including assistant tool calls and tool results, and "
        "streams delta chunks that clients aggregate by message id. A ChatModel follows the OpenAI "
        "chat-completion shape with choices. Both are legacy: query them with chat.completions.create or "
        "the endpoint's invocations URL.",
    ),
    Passage(
        "rest-endpoints",
        "Querying agents over REST",
        "Without an SDK, POST /serving-endpoints/responses with the endpoint name in model, POST "
        "/serving-endpoints/chat/completions for chat endpoints, or POST "
        "/serving-endpoints/<name>/invocations with the agent's native body, sending Authorization: "
        "Bearer <token>. For an app, POST <app-url>/responses with an OAuth token.",
    ),
    Passage(
        "custom-inputs",
        "custom_inputs and custom_outputs",
        "Extra values for an agent go in custom_inputs, a JSON object next to input or messages; with "
        'the OpenAI client pass extra_body={"custom_inputs": {"id": 5}}. An agent can return '
        "custom_outputs, which arrive as an extra field on the response object.",
    ),
    Passage(
        "return-trace",
        "Returning traces with databricks_options",
        'On Model Serving, add "databricks_options": {"return_trace": true} to the request body to get '
        "the MLflow trace of the call in databricks_output.trace, next to databricks_request_id. Agents on "
        "Databricks Apps return only a trace id, when the request has the header "
        "x-mlflow-return-trace-id: true.",
    ),
    Passage(
        "ai-query",
        "ai_query in SQL",
        "The SQL function ai_query('<endpoint>', request) calls a Model Serving endpoint once per row, "
        "for batch inference over tables. It reaches agents on Model Serving, not agents on Databricks "
        "Apps. With failOnError => false it returns a struct with the result and an errorMessage.",
    ),
    Passage(
        "mlflow-tracing",
        "MLflow Tracing",
        "MLflow Tracing records each step of an agent as spans: the agent's root span, tool calls such "
        "as search_docs, and language-model calls, each with inputs, outputs and timings. Traces follow "
        "the OpenTelemetry model, and mlflow.entities.Trace.from_dict parses a returned trace.",
    ),
    Passage(
        "what-is-mlflow",
        "What MLflow is",
        "MLflow is an open-source platform for the machine-learning and GenAI lifecycle: experiment "
        "tracking, model packaging, the model registry, evaluation, tracing and deployment. Databricks "
        "runs a managed MLflow, and models logged with mlflow.pyfunc can be served on Model Serving.",
    ),
    Passage(
        "how-mlflow-works",
        "How MLflow works",
        "MLflow logs runs with their parameters, metrics and artifacts to a tracking server, packages "
        "models in a standard format with flavors such as pyfunc, and registers model versions in Unity "
        "Catalog. Its agent interfaces, ResponsesAgent, ChatAgent and ChatModel, tell the serving layer "
        "how to call your code.",
    ),
    Passage(
        "databricks",
        "What Databricks does",
        "Databricks is a data and AI platform built on the lakehouse: it stores and governs data with "
        "Delta Lake and Unity Catalog, runs SQL warehouses and Spark clusters, and builds, serves and "
        "monitors machine-learning models and AI agents with MLflow, Model Serving and Databricks Apps.",
    ),
    Passage(
        "streaming",
        "Streaming answers",
        "With stream=True the answer arrives as server-sent events: data: lines with one JSON event "
        "each, ending with data: [DONE]. Accumulate response.output_text.delta by item_id for live text, "
        "and treat response.output_item.done as the final form of each item.",
    ),
)


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_STOPWORDS = _word_set(
    "a an and are as at be by can do does for from how i in is it its me my of on or so that the "
    "this to was what when where which who why will with you your about into than then there these "
    "they those we use using get should could would"
)
_FOLLOW_UP_WORDS = _word_set("it that this they them those its more also else again same")
_WORD = re.compile(r"[a-z0-9_]+")


def terms(text: str) -> list[str]:
    """Lower-cased content words, with a trailing plural ``s`` dropped."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOPWORDS or len(word) < 2:
            continue
        out.append(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return out


# A passage's id counts as part of its title ("oauth-vs-pat" makes "PAT" a title word).
_PASSAGE_TERMS = [(p, set(terms(p.text)), set(terms(f"{p.title} {p.id.replace('-', ' ')}"))) for p in PASSAGES]
_DOC_FREQ: dict[str, int] = {}
for _p, _body, _title in _PASSAGE_TERMS:
    for _t in _body | _title:
        _DOC_FREQ[_t] = _DOC_FREQ.get(_t, 0) + 1


def _scores(query: str) -> list[float]:
    wanted = set(terms(query))
    scores = []
    for _, body, title in _PASSAGE_TERMS:
        body_score = title_score = 0.0
        for term in wanted:
            idf = math.log(len(PASSAGES) / _DOC_FREQ[term]) + 1 if term in _DOC_FREQ else 0.0
            body_score += idf * (term in body)
            title_score += idf * (term in title)
        # A title the question covers entirely ("What MLflow is") beats one it merely touches.
        scores.append(body_score + 3 * title_score / math.sqrt(len(title)))
    return scores


def search(query: str, k: int = 2, context: str = "") -> list[Passage]:
    """The ``k`` best passages for ``query`` (fewer if nothing matches); ties keep catalogue order.

    ``context`` (an earlier question) counts half, so a follow-up stays on its own subject.
    """
    main, extra = _scores(query), _scores(context) if context else [0.0] * len(PASSAGES)
    ranked = sorted((-(m + 0.5 * e), index) for index, (m, e) in enumerate(zip(main, extra)) if m + 0.5 * e > 0)
    return [PASSAGES[index] for _, index in ranked[:k]]


@dataclass(frozen=True)
class Question:
    """What the user asked in the last turn, and what to search for given the earlier turns."""

    text: str
    context: str  # the previous question, when this one follows up on it
    turn: int
    follow_up: bool


def question_from_turns(turns: Sequence[tuple[str, str]]) -> Question:
    """Read ``(role, text)`` turns; a short or referring last question also searches the previous one."""
    asked = [text for role, text in turns if role == "user" and text.strip()]
    if not asked:
        return Question(text="", context="", turn=0, follow_up=False)
    last = asked[-1]
    words = _WORD.findall(last.lower())
    follow_up = len(asked) > 1 and (len(words) <= 6 or bool(_FOLLOW_UP_WORDS & set(words)))
    return Question(text=last, context=asked[-2] if follow_up else "", turn=len(asked), follow_up=follow_up)


NO_MATCH = (
    "I could not find that in my notes on querying Databricks agents. I can explain the "
    "DatabricksOpenAI client, the apps/ prefix for Databricks Apps, OAuth versus personal access "
    "tokens, Model Serving endpoints and their REST paths, custom_inputs, return_trace, ai_query and "
    "MLflow tracing."
)


def compose_answer(question: Question, passages: Sequence[Passage]) -> str:
    """The answer text: a lead-in, the passages, and a sources line."""
    if not passages:
        return NO_MATCH
    lead = "Following up on your earlier question: " if question.follow_up else ""
    titles = [p.title for p in passages]
    body = " ".join(p.text for p in passages)
    return f"{lead}{body}\n\nSources: {'; '.join(titles)}."


_DELTA = re.compile(r"\s*\S+")


def word_deltas(text: str) -> list[str]:
    """Split text into word-sized deltas that join back to exactly ``text``."""
    deltas = _DELTA.findall(text)
    tail = text[len("".join(deltas)) :]
    if tail and deltas:
        deltas[-1] += tail
    return deltas
