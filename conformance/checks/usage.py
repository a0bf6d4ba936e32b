"""Token usage: the numbers a bill is computed from add up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance._exchange import Exchange
from conformance._model import Finding, Severity
from conformance.checks._helpers import chunks, parse_body, request_body, require_success
from conformance.checks._probes import CHAT, CHAT_STREAM_USAGE
from conformance.checks._registry import CheckContext, NotApplicable, check

COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


@check(
    area="usage",
    severity=Severity.MUST,
    spec="#/components/schemas/Usage",
    probes=[CHAT.id, CHAT_STREAM_USAGE.id],
    any_exchange=True,
)
def usage_arithmetic(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Usage adds up: total_tokens = prompt_tokens + completion_tokens.

    All three are non-negative integers. A stream is judged on the last chunk that
    carries usage; a stream asked for ``include_usage`` that carries none is a finding.
    """
    require_success(exchange)
    if exchange.streamed:
        yield from _stream_usage(exchange, ctx)
        return
    payload, why = parse_body(exchange)
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        raise NotApplicable(
            "the response body carries no usage object; see response_schema"
            if why is None
            else "the response body is not JSON; see response_schema"
        )
    yield from _arithmetic(usage, chunk_index=None)


def _stream_usage(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    parsed = [c for c in chunks(exchange) if isinstance(c.payload, dict)]
    carrying = [c for c in parsed if isinstance(c.payload.get("usage"), dict)]
    if carrying:
        last = carrying[-1]
        yield from _arithmetic(last.payload["usage"], chunk_index=last.index)
        return
    if not _asked_for_usage(request_body(exchange, ctx)):
        raise NotApplicable("the stream carries no usage, and none was asked for")
    yield Finding(
        title="a stream asked for include_usage carried no usage",
        json_path="$.usage",
        expected="a Usage object on the last chunk",
        actual=parsed[-1].payload.get("usage") if parsed else "no JSON chunk at all",
        schema_path="#/components/schemas/ChatCompletionChunk/properties/usage",
        chunk_index=parsed[-1].index if parsed else None,
    )


def _asked_for_usage(body: object) -> bool:
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def _arithmetic(usage: dict[str, Any], *, chunk_index: int | None) -> Iterator[Finding]:
    counts: dict[str, int] = {}
    for name in COUNTS:
        value = usage.get(name, "(missing)")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            counts[name] = value
            continue
        yield Finding(
            title=f"usage.{name} is not a non-negative integer",
            json_path=f"$.usage.{name}",
            expected="a non-negative integer",
            actual=value,
            schema_path=f"#/components/schemas/Usage/properties/{name}",
            chunk_index=chunk_index,
        )
    if len(counts) < len(COUNTS):
        return
    expected = counts["prompt_tokens"] + counts["completion_tokens"]
    if counts["total_tokens"] != expected:
        yield Finding(
            title="usage.total_tokens is not prompt_tokens + completion_tokens",
            json_path="$.usage.total_tokens",
            expected=expected,
            actual=counts["total_tokens"],
            schema_path="#/components/schemas/Usage/properties/total_tokens",
            chunk_index=chunk_index,
        )
