"""The parity matrix: every non-SQL query method of the Databricks page, streaming or not,
with and without custom_inputs and return_trace, gives the same result through %%agent, and the
same as the page's raw client code returns for the same request."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest

from agent_magics.core.trace import parse_trace

QUESTION = "How do I pass custom inputs to an agent?"
INPUT = [{"role": "user", "content": QUESTION}]

# (target, %%agent options naming the method)
METHODS = {
    "app via DatabricksOpenAI-equivalent client": ("apps/demo-app", "--via client"),
    "app via REST /responses": ("apps/demo-app", "--via rest"),
    "serving Responses via client": ("demo-agent", "--via client"),
    "serving Responses via REST": ("demo-agent", "--via rest"),
    "serving invocations (ResponsesAgent)": ("demo-agent", "--api invocations"),
    "chat completions via client (ChatAgent)": ("demo-chat-agent", "--via client"),
    "chat completions via REST (ChatAgent)": ("demo-chat-agent", "--via rest"),
    "invocations (ChatAgent)": ("demo-chat-agent", "--api invocations"),
    "chat completions via client (ChatModel)": ("demo-chat-model", "--via client"),
    "chat completions via REST (ChatModel)": ("demo-chat-model", "--via rest"),
    "invocations (ChatModel)": ("demo-chat-model", "--api invocations"),
}
VARIANTS = list(itertools.product([True, False], [None, {"id": 5}], [False, True]))


def normalise_items(items: list[dict[str, Any]], tool_outputs: bool = True) -> list[tuple]:
    """Items without transport-specific ids: what a reader sees.

    Chat completions have no place for tool *outputs* (one assistant message per choice), so a
    ChatAgent's tool results only come back through its native /invocations: compare those
    separately (``tool_outputs=False``).
    """
    out = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call_output" and not tool_outputs:
            continue
        if kind == "message":
            text = "".join(part.get("text", "") for part in item.get("content") or [])
            out.append(("message", text))
        elif kind == "function_call":
            out.append(("function_call", item.get("name"), json.loads(item.get("arguments") or "{}")))
        elif kind == "function_call_output":
            out.append(("function_call_output", str(item.get("output"))))
        else:
            out.append((kind,))
    return out


def trace_shape(trace_dict: dict[str, Any] | None) -> list[tuple] | None:
    if trace_dict is None:
        return None
    trace = parse_trace(trace_dict)
    return [(span.name, span.span_type, span.depth) for span in trace.spans]


def via_magic(shell, target: str, options: str, stream: bool, custom: dict | None, trace: bool):
    line = f"{target} {options} --quiet {'--stream' if stream else '--no-stream'}"
    if custom is not None:
        line += f" --custom-inputs '{json.dumps(custom)}'"
    if trace:
        line += " --return-trace"
    result = shell.run_cell_magic("agent", line, QUESTION)
    assert result.ok, result.error
    return result


@pytest.fixture(scope="module")
def raw_clients(local_workspace):
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config
    from databricks_openai import DatabricksOpenAI

    ws = local_workspace
    pat = WorkspaceClient(config=Config(host=ws.host, token=ws.token, auth_type="pat", retry_timeout_seconds=15))
    oauth = WorkspaceClient(
        config=Config(
            host=ws.host,
            client_id=ws.client_id,
            client_secret=ws.client_secret,
            auth_type="oauth-m2m",
            retry_timeout_seconds=15,
        )
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        chat = pat.serving_endpoints.get_open_ai_client()
    return {
        "pat": DatabricksOpenAI(workspace_client=pat, max_retries=0),
        "oauth": DatabricksOpenAI(workspace_client=oauth, max_retries=0),
        "chat": chat,
        "host": ws.host,
        "token": ws.token,
    }


def raw_reference(raw, target: str, stream: bool, custom: dict | None, trace: bool) -> dict[str, Any]:
    """What the page's own code gets back for the same request."""
    extra: dict[str, Any] = {}
    if custom is not None:
        extra["custom_inputs"] = custom
    if target.startswith("apps/"):
        headers = {"x-mlflow-return-trace-id": "true"} if trace else None
        kwargs = dict(model=target, input=INPUT, extra_body=extra or None, extra_headers=headers)
        client = raw["oauth"]
    else:
        if trace:
            extra["databricks_options"] = {"return_trace": True}
        client = raw["pat"] if target == "demo-agent" else raw["chat"]
        kwargs = dict(model=target, extra_body=extra or None)
        kwargs["input" if target == "demo-agent" else "messages"] = INPUT
    create = client.responses.create if "messages" not in kwargs else client.chat.completions.create
    if not stream:
        body = create(**kwargs).model_dump(mode="json", exclude_unset=True)
        if "choices" in body:  # chat completion: the page prints message.content
            message = body["choices"][0]["message"]
            return {
                "text": message.get("content") or "",
                "custom_outputs": body.get("custom_outputs"),
                "trace": (body.get("databricks_output") or {}).get("trace"),
            }
        return {
            "items": normalise_items(body["output"]),
            "custom_outputs": body.get("custom_outputs"),
            "trace": (body.get("databricks_output") or {}).get("trace"),
            "trace_id": (body.get("metadata") or {}).get("trace_id"),
        }
    events = [e.model_dump(mode="json", exclude_unset=True) for e in create(stream=True, **kwargs)]
    if "messages" in kwargs:
        text = "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in events if c.get("choices"))
        custom_out = next((c["custom_outputs"] for c in events if c.get("custom_outputs")), None)
        trace_dict = next(
            (c["databricks_output"]["trace"] for c in events if (c.get("databricks_output") or {}).get("trace")), None
        )
        return {"text": text, "custom_outputs": custom_out, "trace": trace_dict}
    items = [e["item"] for e in events if e.get("type") == "response.output_item.done"]
    trace_dict = next(
        (found for e in events for found in (_trace_in(e), _trace_in(e.get("item") or {})) if found), None
    )
    completed = next((e["response"] for e in events if e.get("type") == "response.completed"), {})
    custom_out = completed.get("custom_outputs") or next(
        (e["custom_outputs"] for e in events if e.get("custom_outputs")), None
    )
    return {
        "items": normalise_items(items),
        "custom_outputs": custom_out,
        "trace": trace_dict,
        "trace_id": next((e["trace_id"] for e in events if e.get("trace_id")), None),
    }


def _trace_in(payload: dict[str, Any]) -> dict[str, Any] | None:
    return (payload.get("databricks_output") or {}).get("trace")


def invocations_reference(raw, target: str, custom: dict | None, trace: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"input": INPUT} if target == "demo-agent" else {"messages": INPUT}
    if custom is not None:
        body["custom_inputs"] = custom
    if trace:
        body["databricks_options"] = {"return_trace": True}
    response = httpx.post(
        f"{raw['host']}/serving-endpoints/{target}/invocations",
        json=body,
        headers={"Authorization": f"Bearer {raw['token']}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize(
    ("stream", "custom", "trace"),
    VARIANTS,
    ids=[f"{'stream' if s else 'json'}-{'ci' if c else 'noci'}-{'trace' if t else 'notrace'}" for s, c, t in VARIANTS],
)
def test_every_method_gives_the_same_result(shell, raw_clients, stream, custom, trace):
    by_target: dict[str, list[tuple[str, Any]]] = {}
    for name, (target, options) in METHODS.items():
        by_target.setdefault(target, []).append((name, via_magic(shell, target, options, stream, custom, trace)))

    for target, results in by_target.items():
        _, first = results[0]
        full = target in ("demo-agent", "apps/demo-app")
        for name, result in results[1:]:
            assert normalise_items(result.output, full) == normalise_items(first.output, full), (target, name)
            assert result.text == first.text, (target, name)
            assert result.custom_outputs == first.custom_outputs, (target, name)
            assert trace_shape(result.trace_dict) == trace_shape(first.trace_dict), (target, name)
            assert bool(result.trace_id) == bool(first.trace_id), (target, name)
        if custom is not None:
            assert first.custom_outputs and "5" in json.dumps(first.custom_outputs), target
        if trace:
            if target.startswith("apps/"):
                assert first.trace_id and first.trace_id.startswith("tr-")
            else:
                assert first.trace_dict is not None and len(parse_trace(first.trace_dict)) >= 2, target
        else:
            assert first.trace_dict is None

        # ... and the same as the page's raw code for this request
        reference = raw_reference(raw_clients, target, stream, custom, trace)
        if "items" in reference:
            assert normalise_items(first.output) == reference["items"], target
            assert first.text == "".join(i[1] for i in reference["items"] if i[0] == "message"), target
            assert bool(first.trace_id) == bool(reference["trace_id"] or reference["trace"]), target
        else:
            assert first.text == reference["text"], target
        assert first.custom_outputs == reference["custom_outputs"], target
        if target.startswith("apps/") and trace:
            # the page's client gets only the id from an app; %%agent also fetches the trace itself
            assert reference["trace_id"] and first.trace_id
            assert first.trace_dict is not None and parse_trace(first.trace_dict).trace_id == first.trace_id
        else:
            assert trace_shape(first.trace_dict) == trace_shape(reference["trace"]), target

    if not stream:  # the native /invocations body, parsed by hand, says the same thing
        for target in ("demo-agent", "demo-chat-agent"):
            body = invocations_reference(raw_clients, target, custom, trace)
            assert body.get("custom_outputs") == by_target[target][0][1].custom_outputs
        chat_native = next(r for n, r in by_target["demo-chat-agent"] if n == "invocations (ChatAgent)")
        assert "function_call_output" in [i["type"] for i in chat_native.output]


def test_databricks_openai_library_path_matches(shell, raw_clients):
    """--client databricks-openai (DatabricksOpenAI itself) == the lean openai + SDK path."""
    magics = shell.magics_manager.registry["AgentMagics"]
    lean = [via_magic(shell, t, "", True, {"id": 5}, True) for t in ("demo-agent", "apps/demo-app")]
    magics.client_library = "databricks-openai"
    try:
        real = [via_magic(shell, t, "", True, {"id": 5}, True) for t in ("demo-agent", "apps/demo-app")]
    finally:
        magics.client_library = "openai"
    for a, b in zip(lean, real):
        assert normalise_items(a.output) == normalise_items(b.output)
        assert a.custom_outputs == b.custom_outputs and trace_shape(a.trace_dict) == trace_shape(b.trace_dict)
