"""HTTP-level promises: the status of a valid request and the media type of its answer."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._helpers import (
    EVENT_STREAM,
    JSON,
    clip,
    content_type_header,
    looks_like_event_stream,
    require_success,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import CHAT, STREAMS
from conformance.checks._registry import CheckContext, check
from conformance.wire._client import ACCEPT_ENCODING
from conformance.wire._exchange import Exchange

RESPONSES = "#/paths/~1v1~1chat~1completions/post/responses"
STREAM_PROPERTY = "#/components/schemas/ChatCompletionRequest/properties/stream"


@check(
    area="http",
    severity=Severity.MUST,
    spec=f"{RESPONSES}/200",
    probes=[CHAT.id, *STREAMS],
    fix=(
        "Answer a valid request, streamed or not, with 200. Usual cause: a gateway or proxy "
        "in front of the model (a 4xx/5xx for stream: true, or a 201/202)."
    ),
)
def success_status(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A valid request is answered with 200.

    The document lists 200 as the only success; every probe judged here is valid
    against ChatCompletionRequest.
    """
    if exchange.status != 200:
        yield Finding(
            title=f"a valid request was answered with {exchange.status}, not 200",
            kind="a valid request was not answered with 200",
            expected=200,
            actual=exchange.status,
        )


@check(
    area="http",
    severity=Severity.MUST,
    spec=f"{RESPONSES}/200/content",
    probes=[CHAT.id],
    any_exchange=True,
    fix=(
        "Send Content-Type: application/json on a non-streamed answer. Usual cause: a "
        "framework default (text/plain, text/html) or a proxy rewriting the header."
    ),
)
def json_content_type(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A non-streamed answer is application/json.

    The 200 response declares only ``application/json`` content; parameters such as
    ``charset=utf-8`` are allowed. ``stream`` defaults to false, so a request without it
    answered with an event stream (whatever its label) is a finding too.
    """
    require_success(exchange)
    kind = exchange.content_type
    if kind == JSON and looks_like_event_stream(exchange.body):
        yield Finding(
            title="a request without stream: true answered as an event stream labelled JSON",
            expected=f"{JSON}: one ChatCompletionResponse (stream is false by default)",
            actual=f"{content_type_header(exchange)}: {clip(exchange.text())}",
        )
        return
    if kind == JSON:
        return
    if kind == EVENT_STREAM:
        title = "a request without stream: true answered as an event stream"
    elif not kind:
        title = "the answer has no Content-Type"
    else:
        title = "Content-Type is not application/json"
    yield Finding(title=title, kind=title, expected=JSON, actual=content_type_header(exchange))


@check(
    area="http",
    severity=Severity.MUST,
    spec=STREAM_PROPERTY,
    probes=list(STREAMS),
    any_exchange=True,
    fix=(
        "Answer stream: true with Content-Type: text/event-stream. Usual cause: the "
        "streaming route returns its chunks as application/json or a proxy buffers and "
        "relabels them."
    ),
)
def stream_content_type(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A stream: true request is answered as text/event-stream.

    The ``stream`` property promises tokens as data-only server-sent events, whose media
    type is ``text/event-stream``.
    """
    require_success(exchange)
    kind = exchange.content_type
    if kind == EVENT_STREAM:
        return
    if kind == JSON and looks_like_event_stream(exchange.body):
        title = "an event stream sent with Content-Type application/json"
    elif kind == JSON:
        title = "stream: true answered as plain JSON"
    elif not kind:
        title = "the stream has no Content-Type"
    else:
        title = "Content-Type is not text/event-stream"
    yield Finding(
        title=title, kind=title, expected=EVENT_STREAM, actual=content_type_header(exchange)
    )


@check(
    area="http",
    severity=Severity.MUST,
    spec=f"{RESPONSES}/200/content",
    probes=[CHAT.id, *STREAMS],
    any_exchange=True,
    fix=(
        "Send the body in the encoding Content-Encoding names (or no Content-Encoding for a "
        "plain body). Usual cause: a proxy that adds or strips gzip without fixing the "
        "header."
    ),
)
def gzip_decoded(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A compressed answer decodes as its Content-Encoding declares.

    Every request says ``Accept-Encoding: gzip, deflate``. The declared encoding is a
    promise about the bytes (RFC 9110, 8.4): a body labelled gzip that is not gzip data
    cannot be read by a client that trusts the label, and an encoding that was not asked
    for cannot be read at all. An uncompressed answer keeps the promise too.
    """
    if exchange.decoding is None:
        return
    declared = exchange.headers.get("content-encoding", "")
    yield Finding(
        title=f"the body does not decode as its Content-Encoding ({declared}) declares",
        kind="body does not decode as its Content-Encoding declares",
        expected=f"a body encoded as Content-Encoding: {declared} says (the request "
        f"sent Accept-Encoding: {ACCEPT_ENCODING})",
        actual=exchange.decoding,
    )
