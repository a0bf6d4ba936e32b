"""Token usage: the numbers a bill is computed from add up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.checks._answer import Answer, count, read_answer
from conformance.checks._helpers import (
    chunks,
    parse_body,
    request_body,
    require_event_stream,
    require_success,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import CHAT, CHAT_STREAM, CHAT_STREAM_USAGE
from conformance.checks._probes_sampling import MORE_RESPONSES, MORE_STREAMS, TWINS
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    check,
    properties,
)
from conformance.wire._exchange import MAX_PLAUSIBLE_TOKENS, Exchange

COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")
USAGE = "#/components/schemas/Usage"
CHUNK_USAGE = "#/components/schemas/ChatCompletionChunk/properties/usage"
# Every probe whose answer carries usage: the non-streamed ones and the include_usage streams.
USAGE_PROBES = (CHAT.id, *MORE_RESPONSES, CHAT_STREAM_USAGE.id, *MORE_STREAMS)
USAGE_STREAMS = (CHAT_STREAM_USAGE.id, *MORE_STREAMS)


@check(
    area="usage",
    severity=Severity.MUST,
    spec="#/components/schemas/Usage",
    probes=list(USAGE_PROBES),
    any_exchange=True,
    covers=[*properties("ChatCompletionResponse", "usage")],
    fix=(
        "Report total_tokens = prompt_tokens + completion_tokens. Usual cause: total "
        "counted separately (with special tokens or reasoning) from its parts."
    ),
)
def usage_arithmetic(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Usage adds up: total_tokens = prompt_tokens + completion_tokens.

    All three are non-negative integers, none beyond the largest context window offered
    (10 million tokens: a bigger count is no count, and is never billed as reported). A
    stream is judged on the last chunk that carries usage (``stream_usage_chunk`` judges
    where and how often it comes). Judged on every answer of the run that reports usage,
    each trial of the sampled ones too: a server that miscounts now and then is caught.
    """
    require_success(exchange)
    reported = exchange.reported_usage()
    if reported is not None:
        yield from _arithmetic(reported[0], chunk_index=reported[1])
    elif exchange.streamed:
        raise NotApplicable("the stream carries no usage; see stream_usage_chunk")
    else:
        _, why = parse_body(exchange)
        raise NotApplicable(
            "the response body carries no usage object; see response_schema"
            if why is None
            else "the response body is not JSON; see response_schema"
        )


def _digits(number: int) -> str:
    """A huge count shown by its size, not its 30 digits (which mean nothing)."""
    text = str(number)
    return text if len(text) <= 12 else f"{text[:6]}... ({len(text)} digits)"


def asked_for_usage(body: object) -> bool:
    options = body.get("stream_options") if isinstance(body, dict) else None
    return isinstance(options, dict) and options.get("include_usage") is True


def _arithmetic(usage: dict[str, Any], *, chunk_index: int | None) -> Iterator[Finding]:
    counts: dict[str, int] = {}
    for name in COUNTS:
        number = count(usage, name)
        if number is not None:
            counts[name] = number
            continue
        value = usage.get(name, "(missing)")
        yield Finding(
            title=f"usage.{name} is not a non-negative integer",
            kind="not a non-negative integer",  # which count: the JSON path
            json_path=f"$.usage.{name}",
            expected="a non-negative integer",
            actual=value,
            schema_path=f"#/components/schemas/Usage/properties/{name}",
            chunk_index=chunk_index,
        )
    if len(counts) < len(COUNTS):
        return
    for name, number in counts.items():
        if number > MAX_PLAUSIBLE_TOKENS:
            yield Finding(
                title=f"usage.{name} is more tokens than any model's context holds",
                kind="an implausible token count",  # which count: the JSON path
                json_path=f"$.usage.{name}",
                expected=f"at most {MAX_PLAUSIBLE_TOKENS} (the largest context window)",
                actual=_digits(number),
                schema_path=f"#/components/schemas/Usage/properties/{name}",
                chunk_index=chunk_index,
            )
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


@check(
    area="usage",
    severity=Severity.MUST,
    spec="#/components/schemas/PromptTokensDetails/properties/cached_tokens",
    probes=list(USAGE_PROBES),
    any_exchange=True,
    fix=(
        "Keep prompt_tokens_details.cached_tokens at most prompt_tokens: cached tokens are "
        "part of the prompt. Usual cause: cached tokens counted on top of the prompt "
        "instead of within it."
    ),
)
def usage_cached_tokens(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Cached prompt tokens are part of the prompt: cached_tokens <= prompt_tokens.

    ``prompt_tokens_details.cached_tokens`` counts the prompt tokens served from a cache;
    a bill that discounts more cached tokens than the prompt had is wrong. An answer that
    reports no cached_tokens keeps the rule trivially.
    """
    answer = read_answer(exchange)
    details = (answer.usage or {}).get("prompt_tokens_details")
    cached = count(details if isinstance(details, dict) else None, "cached_tokens")
    prompt = count(answer.usage, "prompt_tokens")
    if cached is not None and prompt is not None and cached > prompt:
        yield Finding(
            title="usage.prompt_tokens_details.cached_tokens exceeds prompt_tokens",
            json_path="$.usage.prompt_tokens_details.cached_tokens",
            expected=f"at most prompt_tokens ({prompt})",
            actual=cached,
            schema_path=f"{USAGE}/properties/prompt_tokens_details",
            chunk_index=answer.usage_mark.chunk_index,
        )


@check(
    area="usage",
    severity=Severity.MUST,
    spec=CHUNK_USAGE,
    probes=list(USAGE_STREAMS),
    any_exchange=True,
    covers=[
        *properties("ChatCompletionRequest", "stream_options"),
        *properties("ChatCompletionChunk", "choices"),
    ],
    fix=(
        "With stream_options.include_usage, send usage once, in a last chunk whose choices "
        "is [] (before [DONE]). Usual cause: usage attached to the last content chunk, or "
        "to every chunk."
    ),
)
def stream_usage_chunk(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """With include_usage, exactly one chunk carries usage: the last, with empty choices.

    The document: usage "contains a null value except for the last chunk which contains
    the token usage statistics for the entire request", and choices "can also be empty
    for the last chunk". Clients read usage from that chunk and content from the others.
    """
    require_event_stream(exchange)
    parsed = [c for c in chunks(exchange) if isinstance(c.payload, dict)]
    if not parsed:
        raise NotApplicable("the stream carried no JSON chunk; see chunk_schema")
    carrying = [c for c in parsed if c.payload.get("usage") is not None]
    if not carrying:
        yield Finding(
            title="a stream asked for include_usage carried no usage",
            json_path="$.usage",
            expected="a Usage object on the last chunk",
            actual=parsed[-1].payload.get("usage", "(missing)"),
            schema_path=CHUNK_USAGE,
            chunk_index=parsed[-1].index,
        )
        return
    last = carrying[-1]
    for chunk in carrying[:-1]:
        yield Finding(
            title="usage on a chunk other than the last",
            json_path="$.usage",
            expected="null (usage comes once, on the last chunk)",
            actual=chunk.payload["usage"],
            schema_path=CHUNK_USAGE,
            chunk_index=chunk.index,
        )
    if last is not parsed[-1]:
        yield Finding(
            title="the usage chunk is not the last chunk",
            json_path="$.usage",
            expected="usage on the last chunk before data: [DONE]",
            actual=f"usage in event {last.index}, {len(parsed) - 1 - parsed.index(last)} "
            "chunk(s) before the last",
            schema_path=CHUNK_USAGE,
            chunk_index=last.index,
        )
    if last.payload.get("choices") != []:
        yield Finding(
            title="the usage chunk carries choices",
            json_path="$.choices",
            expected="[] (the usage chunk has no choices)",
            actual=last.payload.get("choices", "(missing)"),
            schema_path="#/components/schemas/ChatCompletionChunk/properties/choices",
            chunk_index=last.index,
        )


@check(
    area="usage",
    severity=Severity.SHOULD,
    spec=CHUNK_USAGE,
    probes=[CHAT_STREAM.id, CHAT_STREAM_USAGE.id],
    any_exchange=True,
    fix=(
        "Leave usage out of stream chunks (or null) unless stream_options.include_usage "
        "asks for it. Usual cause: usage always sent, which breaks clients that read "
        "choices[0] of every chunk."
    ),
)
def stream_usage_unrequested(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Without include_usage, no chunk carries usage.

    The document: usage "will only be present when you set stream_options:
    {"include_usage": true}". OpenAI sends none; clients that do not ask for it may
    count a stray usage object twice or stumble on a chunk without choices. Provoked
    only if the endpoint streams usage when asked (``chat_stream_usage``).
    """
    require_event_stream(exchange)
    if asked_for_usage(request_body(exchange, ctx)):
        raise NotApplicable("this stream asked for usage; see stream_usage_chunk")
    sent = [c for c in chunks(exchange) if _usage_of(c.payload) is not None]
    asked = ctx.peers.get(CHAT_STREAM_USAGE.id)
    if not sent and not (asked is not None and asked.ok and _streams_usage(asked)):
        raise NotProvoked("the endpoint streamed no usage even when asked (chat_stream_usage)")
    for chunk in sent:
        yield Finding(
            title="usage sent though include_usage was not asked for",
            json_path="$.usage",
            expected="null or absent",
            actual=_usage_of(chunk.payload),
            schema_path=CHUNK_USAGE,
            chunk_index=chunk.index,
        )


def _usage_of(payload: object) -> object:
    return payload.get("usage") if isinstance(payload, dict) else None


def _streams_usage(exchange: Exchange) -> bool:
    return any(_usage_of(c.payload) is not None for c in chunks(exchange))


@check(
    area="usage",
    severity=Severity.MUST,
    spec=USAGE,
    probes=[probe_id for pair in TWINS.items() for probe_id in pair],
    fix=(
        "Bill a streamed request as the same request unstreamed: the same prompt_tokens. "
        "Usual cause: the streaming path counts the prompt with another template or "
        "tokenizer."
    ),
)
def usage_stream_matches(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Streaming does not change the bill: streamed usage equals non-streamed usage.

    Each streamed probe has a non-streamed twin with the same messages and caps. The
    prompt is the same, so prompt_tokens must be equal; completion_tokens must be equal
    when both answers are the same text with the same finish_reason (a model that answers
    differently each time is not compared: that is not determinism, not a billing fault).
    """
    if ctx.probe.id not in TWINS:  # a non-streamed twin: judged from the streamed side
        raise NotApplicable("the non-streamed twin is judged from the streamed side")
    streamed = read_answer(exchange)
    plain = read_answer(ctx.peer(TWINS[ctx.probe.id]))
    if streamed.usage is None or plain.usage is None:
        raise NotApplicable("one of the two answers carries no usage; see stream_usage_chunk")
    names = ["prompt_tokens"]
    if _texts(streamed) == _texts(plain):
        names.append("completion_tokens")
    for name in names:
        ours, theirs = count(streamed.usage, name), count(plain.usage, name)
        if ours is not None and theirs is not None and ours != theirs:
            yield Finding(
                title=f"streamed usage.{name} differs from the same request not streamed",
                kind="streamed usage differs from not streamed",
                json_path=f"$.usage.{name}",
                expected=f"{theirs} (probe {TWINS[ctx.probe.id]!r}, not streamed)",
                actual=ours,
                schema_path=f"{USAGE}/properties/{name}",
                chunk_index=streamed.usage_mark.chunk_index,
            )


def _texts(answer: Answer) -> list[tuple[int, str, object, int]]:
    """What was said, choice by choice: equal texts cost equal completion tokens."""
    return [
        (v.index, v.content, v.finish_reason, v.tool_calls)
        for v in sorted(answer.choices.values(), key=lambda v: v.index)
    ]
