"""What ``ai_query`` sends to an endpoint and what it makes of the answer, per endpoint interface.

Request (every row goes to ``POST /serving-endpoints/{name}/invocations``, as ai_query does):

* a STRING request becomes the interface's chat turn: ``{"input": [{"role": "user", ...}]}`` for a
  ResponsesAgent, ``{"messages": [...]}`` for a ChatAgent / ChatModel;
* a STRUCT request (``named_struct(...)``) is sent as that JSON object, unchanged;
* ``modelParameters`` are merged into the body for chat endpoints (Databricks rejects them for custom
  model endpoints; we reject them for ResponsesAgent endpoints, with Databricks' error class);
* ``responseFormat`` becomes ``response_format`` (chat) or ``text.format`` (Responses);
* ``--custom-inputs`` / ``--return-trace`` add ``custom_inputs`` / ``databricks_options.return_trace``.

Answer:

* no returnType: the answer text for a STRING request; for a STRUCT request the endpoint's whole JSON
  answer as a STRING (Databricks would infer a STRUCT from the model signature, which we do not have);
* ``returnType => 'STRING'``: the answer text;
* another returnType: the endpoint's JSON answer read as that type (fields by name, missing fields NULL);
  when the answer has none of the type's fields, the answer *text* parsed as JSON is tried (agents asked
  for JSON output).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent_magics.core.errors import AgentUsageError
from agent_magics.core.events import ErrorEvent, Reduction, finish, reduce_event
from agent_magics.sql.returntype import CoercionError, ReturnType, parse_return_type, struct_fields
from agent_magics.sql.transpile import AiCall
from agent_magics.wire import chat as chat_wire
from agent_magics.wire import responses as responses_wire

CHAT_INTERFACES = ("chat_agent", "chat_model")


@dataclass
class Answer:
    """One row's outcome: a value already of the call's type, or an error message."""

    value: Any = None
    error: str | None = None
    trace: dict[str, Any] | None = None
    text: str | None = None  # the answer text, for progress / --stream displays
    usage: dict[str, int] | None = None  # token counts the endpoint reported (progress, --estimate)

    @property
    def ok(self) -> bool:
        return self.error is None


def check_call(call: AiCall, interface: str) -> None:
    """Refuse, before any request, what an endpoint of this interface cannot take."""
    if call.model_parameters and interface not in CHAT_INTERFACES:
        raise AgentUsageError(
            f"[AI_FUNCTION_INVALID_MODEL_PARAMETERS.UNSUPPORTED_ENDPOINT_TYPE] ai_query: {call.endpoint!r} is a "
            "ResponsesAgent endpoint, which does not take modelParameters; drop the argument."
        )


def decode_request(request_json: str) -> Any:
    """The request as it reached the UDF (``to_json(<request>)``): a str, a dict, or a scalar."""
    return json.loads(request_json)


def request_body(
    call: AiCall,
    interface: str,
    request: Any,
    *,
    custom_inputs: dict[str, Any] | None = None,
    return_trace: bool = False,
) -> dict[str, Any]:
    """The JSON body for one row (``request`` as decoded from the UDF's input)."""
    if isinstance(request, dict):
        body = dict(request)
    elif isinstance(request, list):
        raise ValueError("the request is an ARRAY; pass a STRING question or a named_struct(...)")
    else:
        text = request if isinstance(request, str) else json.dumps(request)
        turn = [{"role": "user", "content": text}]
        body = {"input": turn} if interface not in CHAT_INTERFACES else {"messages": turn}
    if call.model_parameters and interface in CHAT_INTERFACES:
        body.update(call.model_parameters)
    if call.response_format:
        fmt = response_format(call.response_format)
        if interface in CHAT_INTERFACES:
            body["response_format"] = fmt
        else:
            body["text"] = {"format": _responses_format(fmt)}
    if custom_inputs:
        row_inputs = body.get("custom_inputs")
        body["custom_inputs"] = {**custom_inputs, **(row_inputs if isinstance(row_inputs, dict) else {})}
    if return_trace:
        options = body.get("databricks_options")
        body["databricks_options"] = {**(options if isinstance(options, dict) else {}), "return_trace": True}
    return body


def response_format(text: str) -> dict[str, Any]:
    """``responseFormat``: a JSON format object, or a DDL type turned into a JSON schema."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    schema = json_schema(parse_return_type(text))
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": schema, "strict": True}}


def _responses_format(fmt: dict[str, Any]) -> dict[str, Any]:
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        return {"type": "json_schema", **fmt["json_schema"]}
    return fmt


def json_schema(return_type: ReturnType) -> dict[str, Any]:
    from sqlglot import exp

    def schema(dtype: exp.DataType) -> dict[str, Any]:
        kind = dtype.this
        t = exp.DataType.Type
        if kind is t.STRUCT:
            fields = struct_fields(dtype)
            return {
                "type": "object",
                "properties": {name: schema(sub) for name, sub in fields},
                "required": [name for name, _ in fields],
                "additionalProperties": False,
            }
        if kind is t.ARRAY:
            return {"type": "array", "items": schema(dtype.expressions[0])}
        if kind in (t.TINYINT, t.SMALLINT, t.INT, t.BIGINT):
            return {"type": "integer"}
        if kind in (t.FLOAT, t.DOUBLE, t.DECIMAL):
            return {"type": "number"}
        if kind is t.BOOLEAN:
            return {"type": "boolean"}
        return {"type": "string"}

    return schema(return_type.dtype)


def read_reply(call: AiCall, request: Any, reply: dict[str, Any]) -> Answer:
    """The row's Answer from the endpoint's JSON reply (see the module docstring)."""
    state = Reduction()
    for event in _events(reply):
        reduce_event(state, event)
    finish(state)
    from agent_magics.core.trace import token_usage

    usage = token_usage(state.request_info.get("usage"))
    if state.error:
        return Answer(error=state.error, trace=state.trace, usage=usage)
    text = state.text if state.output else _fallback_text(reply)
    return_type = call.return_type
    try:
        if return_type is None:
            value: Any = text if not isinstance(request, dict) else json.dumps(_without_extras(reply))
        elif return_type.is_string:
            value = text
        else:
            value = _typed(return_type, reply, text)
    except CoercionError as exc:
        return Answer(
            error=f"the answer does not match returnType {return_type.ddl!r}: {exc}",  # type: ignore[union-attr]
            trace=state.trace,
            text=text,
            usage=usage,
        )
    return Answer(value=value, trace=state.trace, text=text, usage=usage)


def _events(reply: dict[str, Any]) -> list[Any]:
    if "output" in reply:
        return responses_wire.body_events(reply)
    if "messages" in reply or "choices" in reply:
        return chat_wire.completion_body_events(reply)
    if reply.get("error"):
        from agent_magics.wire.common import error_text

        return [ErrorEvent(error_text(reply["error"]))]
    from agent_magics.wire.common import databricks_extras

    return databricks_extras(reply)


def _fallback_text(reply: dict[str, Any]) -> str:
    """Text of a reply that is neither Responses nor chat (a custom pyfunc's ``predictions``)."""
    predictions = reply.get("predictions", _without_extras(reply))
    if isinstance(predictions, list) and len(predictions) == 1:
        predictions = predictions[0]
    return predictions if isinstance(predictions, str) else json.dumps(predictions)


def _without_extras(reply: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in reply.items() if k != "databricks_output"}


def _typed(return_type: ReturnType, reply: dict[str, Any], text: str) -> Any:
    from sqlglot import exp

    if return_type.dtype.this is exp.DataType.Type.STRUCT:
        names = {name.lower() for name, _ in struct_fields(return_type.dtype)}
        if names & {str(k).lower() for k in reply}:
            return return_type.coerce(_without_extras(reply))
    try:
        parsed = json.loads(text)
    except ValueError:
        raise CoercionError("the answer is neither JSON with the type's fields nor JSON text") from None
    return return_type.coerce(parsed)
