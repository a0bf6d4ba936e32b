"""Tool calling: tool_choice is obeyed, every call is usable as sent, streams rebuild to the
same calls, and a conversation carrying calls and their results is accepted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from conformance.checks._answer import read_answer
from conformance.checks._helpers import clip, request_body, require_event_stream
from conformance.checks._model import Finding, Severity
from conformance.checks._probes_tools import (
    CALLING,
    NAMED,
    ROUND_TRIPS,
    TOOLS_NAMED,
    TOOLS_NAMED_STREAM,
    TOOLS_NAMED_WEATHER,
    TOOLS_NONE,
    TOOLS_PARALLEL_STREAM,
    TOOLS_REQUIRED,
    TOOLS_REQUIRED_STREAM,
    TOOLS_STRICT,
)
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    Unsupported,
    check,
    properties,
)
from conformance.checks._support import (
    answer,
    declined,
    refused,
    require_served,
)
from conformance.checks._toolcalls import (
    Call,
    declared_tools,
    message_calls,
    reassemble,
    strict_tools,
)
from conformance.contract._validation import type_name
from conformance.wire._exchange import Exchange, parse_json

TOOL_CHOICE = "#/components/schemas/ChatCompletionRequest/properties/tool_choice"
TOOL_CALL = "#/components/schemas/ToolCall"
FUNCTION_CALL = "#/components/schemas/FunctionCall"
PARAMETERS = "#/components/schemas/FunctionObject/properties/parameters"
OFF_PARAMETERS = "tool-call arguments break the function's parameters"


def _calls(exchange: Exchange, ctx: CheckContext) -> list[Call]:
    body = request_body(exchange, ctx)
    if exchange.streamed:
        return reassemble(exchange, set(declared_tools(body))).calls
    if isinstance(body, dict) and body.get("stream") is True:
        require_event_stream(exchange)  # a stream answered otherwise: stream_content_type's
    answer(exchange)  # a body that is no JSON object is response_schema's
    return message_calls(exchange)


def _calls_made(exchange: Exchange, ctx: CheckContext) -> list[Call]:
    """The calls of the answer; ``NotProvoked`` when it made none (nothing to judge)."""
    calls = _calls(exchange, ctx)
    if not calls:
        raise NotProvoked("the answer has no tool call to judge")
    return calls


def _calls_path(exchange: Exchange) -> str:
    return (
        "$.choices[0].delta.tool_calls" if exchange.streamed else "$.choices[0].message.tool_calls"
    )


def _no_call(exchange: Exchange, title: str, expected: str) -> Iterator[Finding]:
    choices = read_answer(exchange).choices.values()
    said = " ".join(choice.content for choice in choices)  # what it said instead of calling
    if {choice.finish_reason for choice in choices} == {"length"} and not said.strip():
        raise NotProvoked("the answer was cut by max_tokens before any call or text")
    yield Finding(
        title=title,
        kind=title,  # every caller names a fixed title
        json_path=_calls_path(exchange),
        expected=expected,
        actual=f"no tool call; the answer says {clip(said, 120)!r}",
    )


@check(
    area="tools",
    severity=Severity.MUST,
    spec=TOOL_CHOICE,
    probes=[TOOLS_REQUIRED.id, TOOLS_REQUIRED_STREAM.id],
    covers=[
        *properties("ChatCompletionRequest", "tools"),
        *properties("ChatCompletionResponseMessage", "tool_calls"),
        *properties("ChatCompletionStreamResponseDelta", "tool_calls"),
    ],
    fix=(
        'With tool_choice: "required", answer with at least one tool call. Usual cause: '
        "tool_choice not passed to the engine or its constrained decoding."
    ),
)
def tool_choice_required_calls(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """tool_choice "required" yields at least one tool call.

    "required" means the model must call one or more of the declared tools, streamed or
    not; an answer in text is the model ignoring the parameter.
    """
    require_served(exchange, 'tools with tool_choice "required"')
    if not _calls(exchange, ctx):
        yield from _no_call(
            exchange, 'tool_choice "required" answered without a tool call', "one or more calls"
        )


@check(
    area="tools",
    severity=Severity.MUST,
    spec=TOOL_CHOICE,
    probes=list(NAMED),
    covers=[
        *properties("ChatCompletionRequest", "tools"),
        *properties("ChatCompletionResponseMessage", "tool_calls"),
    ],
    fix=(
        "With tool_choice naming a function, call that function. Usual cause: the named "
        'choice treated as "auto" or "required".'
    ),
)
def tool_choice_named_calls(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """tool_choice naming a function yields a call to that function.

    ``{"type": "function", "function": {"name": ...}}`` forces that one function; a call to
    another declared function, or no call, ignores the choice. Each declared function is
    named in turn, with a prompt asking for the other one, and once more the function the
    model did not pick under "auto": a named choice treated as "auto" is caught whatever
    the model picks.
    """
    require_served(exchange, "tool_choice naming a function")
    forced = _forced_name(request_body(exchange, ctx))
    calls = _calls(exchange, ctx)
    if not calls:
        yield from _no_call(
            exchange,
            "tool_choice naming a function answered without a tool call",
            f"a call to {forced!r}",
        )
    for call in calls:
        if call.name != forced:
            yield Finding(
                title="tool_choice named one function but another was called",
                json_path=f"{call.path}.function.name",
                expected=forced,
                actual=call.name,
            )


def _forced_name(body: object) -> object:
    choice = body.get("tool_choice") if isinstance(body, dict) else None
    function = choice.get("function") if isinstance(choice, dict) else None
    return function.get("name") if isinstance(function, dict) else None


@check(
    area="tools",
    severity=Severity.MUST,
    spec=TOOL_CHOICE,
    probes=[TOOLS_NONE.id, TOOLS_REQUIRED.id],
    fix=(
        'With tool_choice: "none", answer with text and no tool call. Usual cause: '
        "tool_choice ignored while tools are still in the prompt."
    ),
)
def tool_choice_none_no_calls(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """tool_choice "none" yields no tool call.

    "none" means the model must answer in text although tools are declared (and the prompt
    asks for one); a client that sent it is not ready to run a call. Provoked only if
    the endpoint calls tools at all: the same tools and prompt under "required" (same
    trial) show it.
    """
    if ctx.probe.id == TOOLS_REQUIRED.id:
        raise NotApplicable('the "required" answer is what the "none" one is measured by')
    require_served(exchange, 'tools with tool_choice "none"')
    calls = _calls(exchange, ctx)
    for call in calls:
        yield Finding(
            title='tool_choice "none" answered with a tool call',
            json_path=call.path,
            expected="no tool call: an answer in text",
            actual=f"a call to {call.name!r}",
        )
    required = ctx.peers.get(TOOLS_REQUIRED.id)
    if not calls and (required is None or not required.ok or not message_calls(required)):
        raise NotProvoked('the endpoint called no tool even under tool_choice "required"')


@check(
    area="tools",
    severity=Severity.MUST,
    spec=TOOL_CALL,
    probes=[TOOLS_REQUIRED.id, TOOLS_NAMED.id],
    covers=[*properties("ChatCompletionResponseMessage", "tool_calls")],
    fix=(
        'Give every tool call an id, type: "function" and the name of a declared function. '
        "Usual cause: ids left out, or a name the parser invented from the model's text."
    ),
)
def tool_call_shape(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Every tool call has an id, type "function" and a declared function name.

    The id is what the tool's answer cites (``tool_call_id``), the type says how to read
    the call, and the name must be one of the functions the request declared.
    """
    require_served(exchange, "tools")
    declared = set(declared_tools(request_body(exchange, ctx)))
    for call in _calls_made(exchange, ctx):
        if not isinstance(call.id, str) or not call.id:
            yield Finding(
                title="a tool call has no id",
                json_path=f"{call.path}.id",
                expected="a non-empty string",
                actual=call.id,
                schema_path=f"{TOOL_CALL}/properties/id",
            )
        if call.type != "function":
            yield Finding(
                title='a tool call\'s type is not "function"',
                json_path=f"{call.path}.type",
                expected="function",
                actual=call.type,
                schema_path=f"{TOOL_CALL}/properties/type",
            )
        if call.name not in declared:
            yield Finding(
                title="a tool call names a function that was not declared",
                json_path=f"{call.path}.function.name",
                expected=sorted(declared),
                actual=call.name,
                schema_path=f"{FUNCTION_CALL}/properties/name",
            )


@check(
    area="tools",
    severity=Severity.MUST,
    spec=FUNCTION_CALL,
    probes=[*CALLING, TOOLS_PARALLEL_STREAM.id, TOOLS_NAMED_WEATHER.id, TOOLS_STRICT.id],
    fix=(
        'Send arguments as a JSON string ("{}" when there are none) that validates against '
        "the function's parameters. Usual cause: arguments sent as an object, or an empty "
        "string."
    ),
)
def tool_call_arguments(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Tool-call arguments are a JSON string valid against the function's parameters.

    ``arguments`` is a string (clients ``json.loads`` it) holding a JSON object that
    validates against the declared ``parameters``; a function without parameters gets
    ``"{}"``. In a stream, the concatenated fragments of each call are judged (parallel
    calls too); two calls sent on one index are the stream checks', not judged here.
    Following the parameters is guaranteed only for a function declared ``strict: true``
    (the ``tools_strict`` probe): for any other, a mismatch weighs as a SHOULD. The calls of
    a choice cut by ``max_tokens`` (``finish_reason: "length"``) are not judged: their
    arguments may end mid-string, as OpenAI's do.
    """
    require_served(exchange, "tools")
    body = request_body(exchange, ctx)
    declared = declared_tools(body)
    strict = strict_tools(body)
    cut = {i for i, c in read_answer(exchange).choices.items() if c.finish_reason == "length"}
    judged = 0
    for call in _calls_made(exchange, ctx):
        if call.merged or call.choice in cut:
            continue
        judged += 1
        for finding in _judge_arguments(call, declared):
            loose = finding.failure == OFF_PARAMETERS and call.name not in strict
            yield replace(finding, should=loose) if loose else finding
    if not judged and cut:
        raise NotProvoked("every call was cut by max_tokens: its arguments may be partial")
    if not judged:  # every call shared its index with another: the stream checks name it
        raise NotProvoked("every call was merged with another on its index; nothing to judge")


@dataclass(frozen=True)
class _Where:
    path: str
    chunk_index: int | None


def _judge_arguments(call: Call, declared: dict[str, object]) -> Iterator[Finding]:
    where = _Where(f"{call.path}.function.arguments", call.chunk_index)
    if not isinstance(call.arguments, str):
        yield Finding(
            title="tool-call arguments are not a string",
            expected="a string holding a JSON object",
            actual=f"{type_name(call.arguments)}: {clip(json.dumps(call.arguments), 120)}",
            schema_path=f"{FUNCTION_CALL}/properties/arguments/type",
            json_path=where.path,
            chunk_index=where.chunk_index,
        )
        return
    if call.name not in declared:
        return  # tool_call_shape names it; there are no parameters to judge against
    parameters = declared[call.name]
    try:
        parsed = parse_json(call.arguments)
    except ValueError as exc:
        title = (
            'tool-call arguments of a function without parameters are not "{}"'
            if parameters is None
            else "tool-call arguments are not JSON"
        )
        yield Finding(
            title=title,
            kind=title,  # one of two fixed titles
            expected='"{}"' if parameters is None else "a JSON object",
            actual=f"{clip(call.arguments, 120)!r} ({exc})",
            json_path=where.path,
            chunk_index=where.chunk_index,
        )
        return
    if parameters is None:
        if parsed != {}:
            yield Finding(
                title='tool-call arguments of a function without parameters are not "{}"',
                expected='"{}"',
                actual=clip(call.arguments, 120),
                json_path=where.path,
                chunk_index=where.chunk_index,
            )
        return
    yield from _validate(parsed, parameters, where)


def _validate(parsed: Any, parameters: object, where: _Where) -> Iterator[Finding]:
    if not isinstance(parameters, dict):
        return
    try:
        validator_class = jsonschema.validators.validator_for(parameters)
        validator_class.check_schema(parameters)
    except SchemaError as exc:
        raise NotApplicable(f"the request's parameters schema is invalid: {exc.message}") from None
    errors = sorted(validator_class(parameters).iter_errors(parsed), key=lambda e: list(e.path))
    for error in errors:
        inner = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        yield Finding(
            title=f"tool-call arguments break the function's parameters (`{error.validator}`)",
            kind=OFF_PARAMETERS,
            expected=f"arguments{inner or ''} valid against {json.dumps(error.schema)[:120]}",
            actual=error.message,
            schema_path=PARAMETERS,
            json_path=where.path,
            chunk_index=where.chunk_index,
        )


@check(
    area="tools",
    severity=Severity.MUST,
    spec=f"{TOOL_CALL}/properties/function",
    probes=[TOOLS_REQUIRED_STREAM.id],
    covers=[*properties("ChatCompletionStreamResponseDelta", "tool_calls")],
    fix=(
        "Give each streamed tool-call delta its index, the id and name in its first delta, "
        "and arguments as string fragments. Usual cause: deltas without index, which "
        "clients cannot join."
    ),
)
def tool_call_stream_deltas(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Streamed tool calls rebuild unambiguously from their deltas.

    Each tool-call delta has an integer ``index``, indices run contiguously from 0, the
    first delta of each index carries ``id``, ``type`` and a declared ``function.name``,
    and later fragments never change them.
    """
    require_served(exchange, 'streamed tools with tool_choice "required"')
    require_event_stream(exchange)
    rebuilt = reassemble(exchange, set(declared_tools(request_body(exchange, ctx))))
    if not rebuilt.calls:
        raise NotApplicable("the stream carried no tool call; see tool_choice_required_calls")
    yield from rebuilt.problems


@check(
    area="tools",
    severity=Severity.MUST,
    spec=f"{TOOL_CALL}/properties/function",
    probes=[TOOLS_PARALLEL_STREAM.id],
    fix=(
        "Stream each parallel tool call under its own index, contiguous from 0, with one id "
        "per index. Usual cause: every call's deltas sent on index 0, which clients merge "
        "into one call."
    ),
)
def tool_call_stream_parallel(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Parallel tool calls in a stream keep one index per call and one call per index.

    Asked for two calls at once (two cities, ``parallel_tool_calls: true``), each call's
    deltas come under an ``index`` of its own, contiguous from 0, with one id per index
    and one index per id, however the fragments interleave: clients accumulate by index,
    so two calls on one index become one call with both arguments joined. A stream with one
    call is "not provoked"; each call's reassembled arguments are tool_call_arguments'.
    """
    require_served(exchange, "parallel streamed tool calls")
    require_event_stream(exchange)
    rebuilt = reassemble(exchange, set(declared_tools(request_body(exchange, ctx))))
    if not rebuilt.parallel:
        raise NotProvoked(f"the stream carried {len(rebuilt.calls)} tool call(s), not two")
    yield from rebuilt.problems


@check(
    area="tools",
    severity=Severity.SHOULD,
    spec=f"{TOOL_CALL}/properties/function",
    probes=[TOOLS_NAMED_STREAM.id, TOOLS_NAMED_WEATHER.id],
    fix=(
        "Stream the same tool calls the unstreamed answer gives (same function for a forced "
        "choice). Usual cause: a separate streaming parser that calls another tool."
    ),
)
def tool_call_stream_matches(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Streamed tool calls match the non-streamed answer to the same request.

    The same functions in the same order, with arguments of the same keys: a client must
    not get another answer for asking for a stream. Judged on a request that leaves
    sampling no choice: tool_choice names get_weather, whose schema requires exactly
    "city" (under "required" a sampling model may pick either tool, streamed or not).
    """
    if ctx.probe.id == TOOLS_NAMED_WEATHER.id:
        raise NotApplicable("the non-streamed answer is judged from the stream's side")
    require_served(exchange, "streamed tools with tool_choice naming a function")
    streamed = _calls(exchange, ctx)
    whole = message_calls(ctx.peer(TOOLS_NAMED_WEATHER.id))
    if not streamed or not whole:
        raise NotProvoked("one of the answers has no tool call; see tool_choice_named_calls")
    names = [c.name for c in streamed], [c.name for c in whole]
    if names[0] != names[1]:
        yield Finding(
            title="streamed tool calls call other functions than the non-streamed answer",
            json_path="$.choices[0].delta.tool_calls",
            expected=names[1],
            actual=names[0],
            chunk_index=streamed[0].chunk_index,
        )
        return
    for mine, theirs in zip(streamed, whole, strict=False):
        keys = _keys(mine.arguments), _keys(theirs.arguments)
        if None not in keys and keys[0] != keys[1]:
            yield Finding(
                title="streamed tool-call arguments have other keys than the non-streamed ones",
                json_path=f"{mine.path}.function.arguments",
                expected=keys[1],
                actual=keys[0],
                chunk_index=mine.chunk_index,
            )


def _keys(arguments: object) -> list[str] | None:
    try:
        parsed = parse_json(arguments) if isinstance(arguments, str) else None
    except ValueError:
        return None
    return sorted(parsed) if isinstance(parsed, dict) else None


@check(
    area="tools",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionMessage/properties/tool_calls",
    probes=[*ROUND_TRIPS, TOOLS_REQUIRED.id],
    fix=(
        'Accept an assistant message with tool_calls (content null or "") followed by the '
        "tool's answer. Usual cause: a validator that requires non-empty content or refuses "
        "the tool role."
    ),
)
def tool_round_trip_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A conversation with an assistant's tool calls and the tool's answer is accepted.

    The assistant message carries ``tool_calls`` with content null (and, in a second
    request, ""), followed by a ``tool`` message citing it by ``tool_call_id``: what every
    client sends back after running a call.
    """
    if ctx.probe.id == TOOLS_REQUIRED.id:
        return  # consulted only to tell "unsupported" from "broken"
    if exchange.ok:
        return
    tools = ctx.peers.get(TOOLS_REQUIRED.id)
    if declined(exchange) is not None and tools is not None and declined(tools) is not None:
        raise Unsupported(f"the endpoint declined tools ({declined(tools)})")
    messages = request_body(exchange, ctx)
    messages = messages.get("messages") if isinstance(messages, dict) else None
    assistant = messages[1] if isinstance(messages, list) and len(messages) > 1 else {}
    content = assistant.get("content") if isinstance(assistant, dict) else None
    shown = "null" if content is None else json.dumps(content)
    yield from refused(
        exchange,
        f"an assistant tool_calls message with content {shown} and its tool reply",
        path="$.messages[1]",
    )
