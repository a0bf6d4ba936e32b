"""The envelope of an answer: the response object, and what every chunk of a stream shares
(its id, created and model), opens with (the role) and closes with (one finish_reason)."""

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
    require_event_stream,
    require_success,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import CHAT, _chat
from conformance.checks._probes_sampling import ALL_STREAMS, MORE_RESPONSES
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    Probe,
    check,
    probe,
    properties,
)
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
