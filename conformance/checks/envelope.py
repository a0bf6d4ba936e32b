"""The envelope of an answer: the response object, and what every chunk of a stream shares
(its id, created and model), opens with (the role, sent once) and closes with (one
finish_reason); no empty ``tool_calls`` where no tool is called."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.checks._answer import read_answer
from conformance.checks._helpers import (
    chunks,
    findings_from,
    looks_like_event_stream,
    not_json,
    parse_body,
    request_body,
    require_event_stream,
    require_success,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import CHAT, _chat
from conformance.checks._probes_sampling import ALL_STREAMS, MORE_RESPONSES
from conformance.checks._probes_tools import (
    TOOLS_NAMED_STREAM,
    TOOLS_NONE,
    TOOLS_PARALLEL_STREAM,
    TOOLS_REQUIRED_STREAM,
)
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    Probe,
    check,
    probe,
    properties,
)
from conformance.checks._support import Delta, answer, deltas, messages
from conformance.checks._toolcalls import declared_tools, reassemble
from conformance.wire._exchange import Exchange

CHUNK = "#/components/schemas/ChatCompletionChunk"
STREAM_CHOICE = "#/components/schemas/ChatCompletionStreamChoice"
STABLE: dict[str, type] = {"id": str, "created": int, "model": str}
ASSISTANT = "assistant"
CREATED_MAY_CHANGE = "chunk-created-may-change"  # a relaxation of the openai profile
PROVOKING_SPAN_S = 1.0  # a stream this long crosses a second: created may change in it
LONG_PROMPT = "Count from one to one hundred in words, separated by commas."


def _long_stream(model: str) -> dict[str, Any]:
    return _chat(
        model, messages=[{"role": "user", "content": LONG_PROMPT}], max_tokens=64, stream=True
    )


STREAM_LONG = probe(
    Probe(
        "chat_stream_long",
        "a streamed chat asking for a long answer (up to 64 tokens): a stream that may span "
        "a second, in which a server stamping each chunk changes created",
        _long_stream,
    )
)


@check(
    area="envelope",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionResponse",
    probes=[CHAT.id, *MORE_RESPONSES],
    any_exchange=True,
    fix=(
        "Return every required field of ChatCompletionResponse (id, object: "
        "chat.completion, created, model, choices) with the documented types. Usual cause: "
        "a field renamed, left out, or null where the document says it is not nullable."
    ),
)
def response_schema(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The response body is a valid ChatCompletionResponse.

    The body parses as JSON and every violation of the schema (in the profile in force)
    is one finding at its JSON path.
    """
    require_success(exchange)
    if exchange.streamed or looks_like_event_stream(exchange.body):
        raise NotApplicable("the answer is an event stream, not a response; see json_content_type")
    payload, why = parse_body(exchange)
    if why is not None:
        yield not_json("the response body", why)
        return
    yield from findings_from(ctx.contract.validator("ChatCompletionResponse").validate(payload))


@check(
    area="envelope",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionResponseMessage/properties/role",
    probes=[CHAT.id, *MORE_RESPONSES],
    any_exchange=True,
    fix=(
        'Say role: "assistant" in each choice\'s message. Usual cause: copying the last '
        "request message's role into the answer."
    ),
)
def message_role_assistant(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The message of each choice says role: assistant.

    The document's role enum also allows user, system and tool (one enum for every
    message), so the schema passes an answer in another role; but an answer is the
    assistant's, and clients append it to the conversation under the role it states.
    """
    require_success(exchange)
    if exchange.streamed or looks_like_event_stream(exchange.body):
        raise NotApplicable("the answer is an event stream; see stream_first_delta_role")
    payload, why = parse_body(exchange)
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if why is not None or not isinstance(choices, list):
        raise NotApplicable("the body carries no choices to judge; see response_schema")
    for position, choice in enumerate(choices):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict) or "role" not in message:
            continue  # missing: response_schema's to report
        if message["role"] != ASSISTANT:
            yield Finding(
                title=f"a choice's message does not say role: {ASSISTANT}",
                kind="a choice's message does not say role: assistant",
                json_path=f"$.choices[{position}].message.role",
                expected=ASSISTANT,
                actual=message["role"],
                schema_path="#/components/schemas/ChatCompletionResponseMessage/properties/role",
            )


@check(
    area="envelope",
    severity=Severity.MUST,
    spec=f"{CHUNK}/properties/id",
    probes=list(ALL_STREAMS),
    any_exchange=True,
    covers=[*properties("ChatCompletionChunk", "id", "created", "model", "object")],
    fix=(
        "Give every chunk of one stream the same id, created and model. Usual cause: a new "
        "id or timestamp generated per chunk."
    ),
)
def chunk_envelope_stable(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Every chunk of a stream has the same id and model.

    The document says each chunk has the same ID; clients key the assembled message on
    the id and show the model of the first chunk. A missing field is ``chunk_schema``'s;
    here each chunk that differs from the first is one finding. ``created`` is
    ``chunk_created_stable``'s: it can change only in a stream that spans a second.
    """
    require_event_stream(exchange)
    yield from _changes(exchange, ctx, ("id", "model"))


@check(
    area="envelope",
    severity=Severity.MUST,
    spec=f"{CHUNK}/properties/created",
    probes=[*ALL_STREAMS, STREAM_LONG.id],
    fix=(
        "Stamp created once per completion and repeat that value in every chunk. Usual "
        "cause: created taken from the clock as each chunk is written, so it changes when a "
        "stream crosses a second."
    ),
    any_exchange=True,
)
def chunk_created_stable(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Every chunk of a stream has the same created.

    The document says each chunk has the same timestamp. A server that stamps each chunk
    with the second it is sent changes ``created`` only in a stream that crosses a second:
    a stream whose events spanned less than a second and kept ``created`` did not provoke
    it ("not provoked"), so ``chat_stream_long`` asks for a longer one. Under ``--profile
    openai`` a change weighs as a SHOULD (errata: chunk-created-changes).
    """
    require_event_stream(exchange)
    found = list(_changes(exchange, ctx, ("created",)))
    yield from found
    span = _span(exchange)
    if not found and span < PROVOKING_SPAN_S:
        raise NotProvoked(
            f"the stream's events spanned {span:.2f} s: created can change only in a stream "
            f"that spans {PROVOKING_SPAN_S:.0f} s or more"
        )


def _span(exchange: Exchange) -> float:
    """Seconds between the stream's first and last event, as received."""
    times = exchange.timing.event_s
    return times[-1] - times[0] if len(times) > 1 else 0.0


def _changes(exchange: Exchange, ctx: CheckContext, names: tuple[str, ...]) -> Iterator[Finding]:
    """One finding per chunk whose field of ``names`` differs from the first chunk's."""
    first: dict[str, object] = {}
    for chunk in chunks(exchange):
        if not isinstance(chunk.payload, dict):
            continue
        for name in names:
            kind = STABLE[name]
            value = chunk.payload.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                continue  # missing or of the wrong type: chunk_schema's to report
            if name not in first:
                first[name] = value
            elif value != first[name]:
                may_change = name == "created" and ctx.contract.relaxes(CREATED_MAY_CHANGE)
                yield Finding(
                    should=may_change,
                    title=f"{name} changes between chunks",
                    kind="changes between chunks",  # which field: the JSON path
                    json_path=f"$.{name}",
                    expected=first[name],
                    actual=value,
                    schema_path=f"{CHUNK}/properties/{name}",
                    chunk_index=chunk.index,
                )


@check(
    area="envelope",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionStreamResponseDelta/properties/role",
    probes=list(ALL_STREAMS),
    any_exchange=True,
    covers=[*properties("ChatCompletionStreamChoice", "index", "delta")],
    fix=(
        "Send role: assistant in the first delta of each choice (and only there). Usual "
        "cause: the role is dropped from streams or sent in every delta but the first."
    ),
)
def stream_first_delta_role(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The first delta of each choice says role: assistant.

    Clients (the OpenAI SDKs' stream accumulators among them) take the message's role
    from the first delta of each choice; later deltas may leave it out (see the errata).
    """
    require_event_stream(exchange)
    seen: set[int] = set()
    for chunk in chunks(exchange):
        payload = chunk.payload if isinstance(chunk.payload, dict) else {}
        choices = payload.get("choices")
        for position, choice in enumerate(choices if isinstance(choices, list) else []):
            index = choice.get("index") if isinstance(choice, dict) else None
            if not isinstance(index, int) or index in seen:
                continue
            seen.add(index)
            delta = choice.get("delta")
            role = delta.get("role", "(missing)") if isinstance(delta, dict) else "(no delta)"
            if role != ASSISTANT:
                yield Finding(
                    title=f"the first delta of a choice does not say role: {ASSISTANT}",
                    kind="first delta without the assistant role",
                    json_path=f"$.choices[{position}].delta.role",
                    expected=ASSISTANT,
                    actual=role,
                    schema_path="#/components/schemas/ChatCompletionStreamResponseDelta",
                    chunk_index=chunk.index,
                )


@check(
    area="envelope",
    severity=Severity.MUST,
    spec=f"{STREAM_CHOICE}/properties/finish_reason",
    probes=list(ALL_STREAMS),
    any_exchange=True,
    covers=[
        *properties("ChatCompletionChunk", "choices"),
        *properties("ChatCompletionStreamChoice", "index"),
        *properties("ChatCompletionStreamResponseDelta", "content"),
    ],
    fix=(
        "Send each choice's finish_reason once, in its last chunk, and no content for that "
        "choice after it. Usual cause: finish_reason repeated in every chunk, or a "
        "usage/extra chunk with a finish_reason again."
    ),
)
def stream_finish_once(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Each streamed choice gets a finish_reason exactly once, and nothing after it.

    ``finish_reason`` is null until the choice is done; clients close the message at the
    first non-null one, so a second one, or content or tool calls after it, are lost or
    duplicated, and a choice that never finishes leaves them waiting for more.
    """
    require_event_stream(exchange)
    answer = read_answer(exchange)
    if not answer.choices:
        raise NotApplicable("the stream carried no choice; see chunk_schema")
    for view in answer.choices.values():
        if not view.finishes:
            yield Finding(
                title="a choice never got a finish_reason",
                json_path=f"{view.where.json_path}.finish_reason",
                expected=f"a non-null finish_reason on the last delta of choice {view.index}",
                actual="null on every delta",
                schema_path=f"{STREAM_CHOICE}/properties/finish_reason",
                chunk_index=view.where.chunk_index,
            )
        for reason, mark in view.finishes[1:]:
            yield Finding(
                title="finish_reason sent more than once for a choice",
                json_path=mark.json_path,
                expected=f"one finish_reason for choice {view.index}, "
                f"already sent in event {view.finish_mark.chunk_index}",
                actual=reason,
                schema_path=f"{STREAM_CHOICE}/properties/finish_reason",
                chunk_index=mark.chunk_index,
            )
        for mark in view.after_finish:
            yield Finding(
                title="content after the choice's finish_reason",
                json_path=mark.json_path,
                expected=f"nothing for choice {view.index} after event "
                f"{view.finish_mark.chunk_index} (its finish_reason)",
                actual="a delta with content or tool calls",
                schema_path=f"{STREAM_CHOICE}/properties/delta",
                chunk_index=mark.chunk_index,
            )


DELTA = "#/components/schemas/ChatCompletionStreamResponseDelta"
TOOL_STREAMS = (TOOLS_REQUIRED_STREAM.id, TOOLS_NAMED_STREAM.id, TOOLS_PARALLEL_STREAM.id)


@check(
    area="envelope",
    severity=Severity.MUST,
    spec=DELTA,
    probes=[*ALL_STREAMS, *TOOL_STREAMS],
    any_exchange=True,
    fix=(
        "Send role in each choice's first delta only, and a tool call's id and "
        "function.name in its first delta only; later deltas carry only the new argument "
        "text. Usual cause: every delta built from the whole message so far, which clients "
        'join into "assistantassistant".'
    ),
)
def stream_delta_identity_once(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A streamed message names its role once, and each tool call its id and name once.

    Clients accumulate a stream by joining the strings each delta brings: openai-python's
    stream helper turns a role sent again into "assistantassistant", accumulators do the
    same to a call's id and name (``get_weatherget_weather``). Under ``--profile openai``
    ``role`` after a choice's first delta, and a call's ``id`` or ``function.name`` after
    its first delta, are findings; under strict the document demands ``role`` in every
    delta and ``name`` in every FunctionCall (see the errata), so only an id sent again
    is. A later delta naming another role is a finding under both.
    """
    require_event_stream(exchange)
    opened: dict[object, object] = {}  # choice index -> the role of its first delta
    later: list[Delta] = []
    for view in deltas(exchange):
        if view.choice_index in opened:
            later.append(view)
        else:
            opened[view.choice_index] = view.delta.get("role")
    if not later:
        raise NotProvoked("no choice of the stream had a second delta")
    strict = ctx.contract.profile == "strict"
    for view in later:
        if "role" not in view.delta or view.delta["role"] is None:
            continue
        role, first = view.delta["role"], opened[view.choice_index]
        if first is not None and role != first:
            yield _role_finding(view, "a later delta changes the role", first, role)
        elif not strict and role != "":
            yield _role_finding(view, "a later delta sends the role again", "no role", role)
    rebuilt = reassemble(exchange, set(declared_tools(request_body(exchange, ctx))))
    for field, finding in rebuilt.repeats:
        if field == "id" or not strict:
            yield finding


def _role_finding(view: Delta, title: str, expected: object, actual: object) -> Finding:
    return Finding(
        title=title,
        kind=title,  # one of two fixed titles
        json_path=f"{view.path}.role",
        expected=expected,
        actual=actual,
        schema_path=f"{DELTA}/properties/role",
        chunk_index=view.chunk_index,
    )


EMPTY_CALLS = "tool_calls is an empty list"


@check(
    area="envelope",
    severity=Severity.SHOULD,
    spec="#/components/schemas/ChatCompletionResponseMessage/properties/tool_calls",
    probes=[CHAT.id, *MORE_RESPONSES, *ALL_STREAMS, TOOLS_NONE.id],
    any_exchange=True,
    fix=(
        "Leave tool_calls out (or null) when no tool is called, never []. Usual cause: a "
        "serializer that always writes the list, empty or not."
    ),
)
def tool_calls_not_empty(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A message or delta without a tool call leaves tool_calls out, never an empty list.

    OpenAI leaves the field out when no tool is called. Clients test whether there are
    calls by its presence (``if (message.tool_calls)`` is true for ``[]`` in JavaScript,
    ``tool_calls is not None`` in Python), and an agent loop then runs no call and asks
    again; the document allows an empty array, hence a SHOULD.
    """
    require_success(exchange)
    asked = request_body(exchange, ctx)
    places: list[tuple[str, int | None, dict[str, Any]]]
    if exchange.streamed or (isinstance(asked, dict) and asked.get("stream") is True):
        require_event_stream(exchange)  # a stream answered otherwise: stream_content_type's
        places = [(f"{d.path}.tool_calls", d.chunk_index, d.delta) for d in deltas(exchange)]
    else:
        places = [
            (f"$.choices[{position}].message.tool_calls", None, message)
            for position, message in messages(answer(exchange))
        ]
    for path, chunk_index, message in places:
        if message.get("tool_calls") == []:
            yield Finding(
                title=EMPTY_CALLS,
                kind=EMPTY_CALLS,
                json_path=path,
                expected="no tool_calls (or null) when no tool is called",
                actual=[],
                chunk_index=chunk_index,
            )
