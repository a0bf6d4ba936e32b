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
from conformance.checks._probes_stream import (
    STOP_SEEDED,
    STOP_STREAM,
    UNICODE_STREAM,
    UNICODE_STREAM_AGAIN,
)
from conformance.checks._registry import CheckContext, check, properties
from conformance.checks._stream_text import after_error_event, judge_stream_stop, judge_text_intact
from conformance.wire._exchange import DONE, Exchange
from conformance.wire._sse import UNKNOWN_FIELD, ServerSentEvent, SSEDecoder

STREAM_PROPERTY = "#/components/schemas/ChatCompletionRequest/properties/stream"
STOP = "#/components/schemas/ChatCompletionRequest/properties/stop"
TERMINATOR = f"data: {DONE}"
UNKNOWN_FIELDS_IGNORED = "sse-unknown-fields-ignored"  # a relaxation of the openai profile


@check(
    area="stream",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionChunk",
    probes=list(ALL_STREAMS),
    any_exchange=True,
    fix=(
        "Make every chunk a valid ChatCompletionChunk (object: chat.completion.chunk, "
        "choices with index and delta). Usual cause: a chunk shaped like a whole response, "
        "or a missing id or delta."
    ),
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
    fix=(
        "End every stream with one data: [DONE] event and nothing after it. Usual cause: a "
        "streaming loop that closes the connection without the sentinel, or writes a usage "
        "chunk after it."
    ),
    judges_error_events=True,
)
def stream_done_terminator(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The stream ends with data: [DONE] and nothing after it.

    The ``stream`` property promises a stream "terminated by a ``data: [DONE]``
    message"; clients stop reading there, and wait forever without it. A stream that
    carries an error event after the 200 (vLLM and OpenRouter do, when overloaded) is
    inconclusive for the other checks; this one judges that nothing but ``[DONE]``
    follows the error (``_stream_text.after_error_event``).
    """
    require_event_stream(exchange)
    if exchange.error_event() is not None:
        yield from after_error_event(exchange)
        return
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
    fix=(
        "Write each event as 'data: <json>' lines ended by a blank line, UTF-8, no stray "
        "bytes. Usual cause: hand-written SSE that forgets the blank line or the 'data:' "
        "prefix."
    ),
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
    fix=(
        "End each chunk's event with a blank line (\\n\\n) so that one event holds one chunk. "
        "Usual cause: chunks written with a single \\n, which a client reads as one event "
        "with many lines."
    ),
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


# What a stream says, as a client reassembles it (issue 19): judged in _stream_text.py.
@check(
    area="stream",
    severity=Severity.MUST,
    spec=STOP,
    probes=[STOP_STREAM.id, STOP_SEEDED.id],
    fix=(
        "Cut the streamed text before the stop string, hold back text that may begin it "
        "until it cannot, and finish with finish_reason stop. Usual cause: the stop string "
        "matched on whole tokens only, so a stop split across tokens leaks into the stream."
    ),
    covers=[*properties("ChatCompletionStreamResponseDelta", "content")],
)
def stream_stop_honoured(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A streamed answer stops before a stop text of several tokens: none of it is sent.

    The stop text is two words of the endpoint's own answer to the same request without
    stop (``stop_seeded``, with ``seed`` and ``temperature: 0``). A server that matches
    stop text only after sending the tokens it spans leaks it, or its start, at the end
    of the stream (clients show it; a non-streamed answer is cut right). Judged when the
    stream wrote what the answer without stop did, up to the stop text (or leaked it);
    the choice then finishes with ``stop``.
    """
    yield from judge_stream_stop(exchange, ctx)


@check(
    area="stream",
    severity=Severity.MUST,
    spec=STREAM_PROPERTY,
    probes=[UNICODE_STREAM.id, UNICODE_STREAM_AGAIN.id],
    fix=(
        "Send only whole UTF-8 characters in each event: hold back the bytes of a character "
        "until it is complete. Usual cause: detokenizing byte-level tokens one at a time, "
        "which splits multi-byte characters across events."
    ),
    any_exchange=True,
)
def stream_text_intact(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Text with accents, CJK and emoji arrives whole: every event is valid UTF-8.

    A server that streams bytes as its tokenizer makes them splits a character of several
    bytes across two events; clients decode each event on its own and show U+FFFD (or
    fail to parse the chunk). The text reassembled from the deltas holds no U+FFFD and no
    lone surrogate (``\\ud83c`` without its pair) either. Judged when the answer holds a
    character beyond ASCII; a model that wrote none is "not provoked".
    """
    yield from judge_text_intact(exchange, ctx)
