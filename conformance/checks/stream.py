"""The streamed answer: event-stream framing, chunks, and the ``[DONE]`` terminator."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._helpers import (
    chunks,
    clip,
    findings_from,
    glued_payloads,
    is_done_like,
    not_json,
    require_event_stream,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes_sampling import ALL_STREAMS
from conformance.checks._registry import CheckContext, check
from conformance.wire._exchange import DONE, Exchange
from conformance.wire._sse import UNKNOWN_FIELD, ServerSentEvent, SSEDecoder

STREAM_PROPERTY = "#/components/schemas/ChatCompletionRequest/properties/stream"
TERMINATOR = f"data: {DONE}"
UNKNOWN_FIELDS_IGNORED = "sse-unknown-fields-ignored"  # a relaxation of the openai profile


@check(
    area="stream",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionChunk",
    probes=list(ALL_STREAMS),
    any_exchange=True,
)
def chunk_schema(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Every streamed chunk is a valid ChatCompletionChunk.

    Each data event before ``[DONE]`` parses as JSON and validates; findings name the
    event (``chunk_index``) so a broken chunk can be found in the evidence.
    """
    require_event_stream(exchange)
    parsed = chunks(exchange)
    if not parsed:
        yield Finding(
            title="the stream carried no chunk",
            expected="at least one ChatCompletionChunk before data: [DONE]",
            actual=f"{len(exchange.events)} events, none a chunk",
        )
        return
    validator = ctx.contract.validator("ChatCompletionChunk")
    for chunk in parsed:
        if chunk.error is not None:
            yield not_json("data", f"{chunk.error}: {clip(chunk.data)}", chunk_index=chunk.index)
        else:
            yield from findings_from(validator.validate(chunk.payload), chunk_index=chunk.index)


@check(
    area="stream",
    severity=Severity.MUST,
    spec=STREAM_PROPERTY,
    probes=list(ALL_STREAMS),
    any_exchange=True,
)
def stream_done_terminator(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The stream ends with data: [DONE] and nothing after it.

    The ``stream`` property promises a stream "terminated by a ``data: [DONE]``
    message"; clients stop reading there, and wait forever without it.
    """
    require_event_stream(exchange)
    events = exchange.events
    pending = _undispatched(exchange)
    done = next((e.index for e in events if e.data == DONE), None)
    if done is not None:
        for event in events[:done]:
            if is_done_like(event.data):
                yield _malformed(event, dispatched=True)
        for event in events[done + 1 :]:
            yield Finding(
                title="data after [DONE]",
                expected="nothing after data: [DONE]",
                actual=clip(event.data),
                chunk_index=event.index,
            )
        if pending:
            yield Finding(
                title="data after [DONE]",
                expected="nothing after data: [DONE]",
                actual=clip(pending[0].data),
            )
        return
    if pending and pending[0].data == DONE:
        yield Finding(
            title="[DONE] is not followed by a blank line, so it is never dispatched",
            expected=f"{TERMINATOR} followed by an empty line",
            actual=pending[0].raw,
        )
        return
    candidates = [*events, *pending]
    lookalike = next((e for e in reversed(candidates) if is_done_like(e.data)), None)
    if lookalike is not None:
        yield _malformed(lookalike, dispatched=lookalike.index < len(events))
        return
    last = events[-1] if events else None
    yield Finding(
        title="the stream is not terminated by data: [DONE]",
        expected=TERMINATOR,
        actual="no event at all" if last is None else f"last event: {clip(last.data)}",
        chunk_index=None if last is None else last.index,
    )


def _malformed(event: ServerSentEvent, *, dispatched: bool) -> Finding:
    return Finding(
        title="malformed [DONE] terminator",
        expected=TERMINATOR,
        actual=event.raw.rstrip("\n") or event.data,
        chunk_index=event.index if dispatched else None,
    )


def _undispatched(exchange: Exchange) -> list[ServerSentEvent]:
    """Events the stream began but never ended with a blank line (decoded as if it had).

    The decoder drops such an event, as the event-stream format says; a ``[DONE]`` lost
    this way is the commonest broken terminator, so it is recovered to be named.
    """
    if exchange.body_truncated or not exchange.body:
        return []
    decoder = SSEDecoder()
    events = decoder.feed(exchange.body + b"\n\n")
    decoder.close()
    return events[len(exchange.events) :]


@check(
    area="stream",
    severity=Severity.MUST,
    spec=STREAM_PROPERTY,
    probes=list(ALL_STREAMS),
    any_exchange=True,
)
def stream_framing(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The stream is well-formed text/event-stream.

    Every problem the event-stream decoder recorded (invalid UTF-8, unknown fields, an
    event cut off at the end, ...) is one finding. Under ``--profile openai`` an unknown
    field is ignored, as the SSE standard says (errata: sse-unknown-fields).
    """
    require_event_stream(exchange)
    ignored = ctx.contract.relaxes(UNKNOWN_FIELDS_IGNORED)
    for problem in exchange.framing:
        if ignored and problem.title == UNKNOWN_FIELD:
            continue
        yield Finding(
            title=problem.title,
            kind=problem.title,  # the parser's fixed name of the problem
            expected="a well-formed text/event-stream (WHATWG HTML 9.2.6)",
            actual=problem.detail,
            chunk_index=problem.event_index,
        )


@check(
    area="stream",
    severity=Severity.MUST,
    spec=STREAM_PROPERTY,
    probes=list(ALL_STREAMS),
    any_exchange=True,
)
def stream_event_separation(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Each chunk is its own event, ended by a blank line.

    A server that writes ``data: {...}`` lines without the blank line between them sends
    one event whose data is several JSON documents joined by newlines: every event-stream
    client (the OpenAI SDKs included) hands that to the JSON parser, which rejects it.
    The chunks inside are still judged by the other checks, as if separated.
    """
    require_event_stream(exchange)
    for event in exchange.events:
        glued = glued_payloads(event.data)
        if glued is not None:
            yield Finding(
                title="events not separated by a blank line",
                expected="one chunk per event: data: {...} followed by an empty line",
                actual=f"{event.data.count(chr(10)) + 1} data lines in one event: "
                + clip(event.raw.rstrip(chr(10))),
                chunk_index=event.index,
            )
