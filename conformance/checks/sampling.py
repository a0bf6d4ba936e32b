"""The parameters that shape an answer are honoured: the token caps, stop, n, seed, and the
sampling parameters at the very bounds the document allows."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._answer import (
    answered,
    as_int,
    as_list,
    count,
    read_answer,
    requested,
    token_cap,
)
from conformance.checks._helpers import parse_body, require_success
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import CHAT, CHAT_STREAM_USAGE
from conformance.checks._probes_sampling import (
    BOUND_PROBES,
    CAP_PROBES,
    N_PROBES,
    SEEDED,
    STOP_PROBES,
    STOP_TWIN,
)
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    check,
    properties,
)
from conformance.wire._exchange import Exchange

REQUEST = "#/components/schemas/ChatCompletionRequest"
PROPERTY = f"{REQUEST}/properties"


@check(
    area="sampling",
    severity=Severity.MUST,
    spec=f"{PROPERTY}/max_tokens",
    probes=[CHAT.id, CHAT_STREAM_USAGE.id, *CAP_PROBES, *N_PROBES],
    any_exchange=True,
    covers=[
        *properties("ChatCompletionRequest", "max_completion_tokens"),
        *properties("Usage", "completion_tokens"),
    ],
    fix=(
        "Generate at most max_tokens (or max_completion_tokens) completion tokens. Usual "
        "cause: the cap not passed to the engine, or counted off by one."
    ),
)
def max_tokens_honoured(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """No answer is longer than max_tokens or max_completion_tokens allow.

    Provoked only where the answer reached the cap (or says it was cut): an answer that
    ended by itself below the cap shows nothing about the cap.

    Judged on the endpoint's own ``usage.completion_tokens`` (for ``n`` choices, ``n``
    times the cap), streamed and not: a cap that is ignored costs the caller tokens
    they refused to pay for, and breaks every client that sizes its buffers by it. A
    refusal of a cap probe is a finding here; other probes' refusals are their checks'.
    """
    if ctx.probe.id not in CAP_PROBES:
        require_success(exchange)  # the probe's own check reports its refusal
    yield from answered(exchange, ctx, what="a token cap")
    if not exchange.ok:
        return
    body = requested(exchange, ctx)
    cap = token_cap(body)
    if cap is None:
        raise NotApplicable("the request sets no token cap")
    answer = read_answer(exchange)
    used = count(answer.usage, "completion_tokens")
    if used is None:
        raise NotApplicable("the answer reports no completion_tokens to compare with the cap")
    n = max(as_int(body.get("n")) or 1, 1)
    allowed = cap[0] * n
    cut = any(view.finish_reason == "length" for view in answer.choices.values())
    if used < allowed and not cut:
        raise NotProvoked(f"the model stopped by itself after {used} of {allowed} tokens")
    if used > allowed:
        yield Finding(
            title=f"completion_tokens exceeds {cap[1]}",
            kind="completion_tokens exceeds the token cap",
            json_path="$.usage.completion_tokens",
            expected=f"at most {allowed} ({cap[1]}: {cap[0]}" + (f", n: {n})" if n > 1 else ")"),
            actual=used,
            schema_path=f"{PROPERTY}/{cap[1]}",
            chunk_index=answer.usage_mark.chunk_index,
        )


@check(
    area="sampling",
    severity=Severity.MUST,
    spec=f"{PROPERTY}/stop",
    probes=[*STOP_PROBES, STOP_TWIN],
    covers=[
        *properties("ChatCompletionChoice", "message"),
        *properties("ChatCompletionResponseMessage", "content"),
        *properties("ChatCompletionStreamResponseDelta", "content"),
    ],
    fix=(
        "Stop before a stop sequence and leave the stop text out of the content. Usual "
        "cause: stop sequences matched after detokenizing but not cut from the answer."
    ),
)
def stop_honoured(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A stop sequence ends the answer before it: the stop text never appears.

    The probes ask for a sentence and stop at any of four vowels (a list: a server that
    honours only its first entry is caught where another vowel comes first), and at "e"
    as one string, which the document allows only under the errata (a refusal of the
    string is right under strict). The output must end before
    the first of them, and the stop text is not part of it. Provoked only when the
    endpoint writes such letters at all: the same request without stop (``stop_free``,
    same trial) shows it; otherwise the verdict says "not provoked", not PASS.
    """
    if ctx.probe.id == STOP_TWIN:
        raise NotApplicable("the answer without stop is what the stop answers are measured by")
    yield from answered(exchange, ctx, what="stop", excused_by=("stop",))
    if not exchange.ok:
        return
    stop = requested(exchange, ctx).get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in as_list(stop) if isinstance(s, str)]
    leaked = False
    for view in read_answer(exchange).choices.values():
        found = [s for s in stops if s and s in view.content]
        if found:
            leaked = True
            first = min(found, key=view.content.index)
            at = view.content.index(first)
            yield Finding(
                title="the answer goes on past a stop sequence",
                json_path=(view.content_marks or [view.where])[0].json_path,
                expected=f"the answer ends before {first!r}",
                actual=f"{first!r} at character {at} of {view.content!r}"[:300],
                schema_path=f"{PROPERTY}/stop",
                chunk_index=(view.content_marks or [view.where])[0].chunk_index,
            )
    if not leaked:
        _require_stop_text(ctx, stops)


def _require_stop_text(ctx: CheckContext, stops: list[str]) -> None:
    """``NotProvoked`` unless the endpoint's answer without stop holds a stop sequence."""
    twin = ctx.peers.get(STOP_TWIN)
    if twin is None or not twin.ok:
        raise NotProvoked(f"no answer without stop ({STOP_TWIN}) to show the stop text is written")
    free = " ".join(view.content for view in read_answer(twin).choices.values())
    if not any(s and s in free for s in stops):
        raise NotProvoked(
            f"the endpoint's answer without stop holds none of {stops!r}: {free[:80]!r}"
        )


@check(
    area="sampling",
    severity=Severity.MUST,
    spec=f"{PROPERTY}/n",
    probes=list(N_PROBES),
    covers=[
        *properties("ChatCompletionResponse", "choices"),
        *properties("ChatCompletionChoice", "index"),
        *properties("ChatCompletionChunk", "choices"),
        *properties("ChatCompletionStreamChoice", "index"),
    ],
    fix=(
        "With n: 2 return two choices indexed 0 and 1 (streamed too), or refuse n with a "
        "4xx JSON error. Usual cause: n ignored (one choice) or a 500 when n meets stream."
    ),
)
def n_choices(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """n: 2 returns exactly 2 choices, indexed 0 and 1, streamed too (or a proper 4xx).

    A client that asks for ``n`` choices reads ``choices[0..n-1]``; a silent single choice
    is a wrong answer that looks right. An endpoint that does not do ``n`` must say so
    with a 4xx: that is reported as unsupported, not as broken.
    """
    yield from answered(exchange, ctx, what="n", unsupported=True)
    if not exchange.ok:
        return
    n = as_int(requested(exchange, ctx).get("n")) or 1
    answer = read_answer(exchange)
    indices: list[object] = [*sorted(answer.choices)]  # a stream: each index seen
    if not answer.streamed:  # a body: every choice, a repeated index too
        payload, _ = parse_body(exchange)
        listed = payload.get("choices") if isinstance(payload, dict) else None
        given = listed if isinstance(listed, list) else []
        indices = sorted((c.get("index") for c in given if isinstance(c, dict)), key=repr)
    wanted = list(range(n))
    if indices == wanted:
        return
    if len(indices) != len(wanted):
        title = f"n: {n} answered with {len(indices)} choice{'s' if len(indices) != 1 else ''}"
        kind = "not n choices"
    else:
        title = f"the choices of n: {n} are not indexed 0 to {n - 1}"
        kind = "choices not indexed 0 to n-1"
    yield Finding(
        title=title,
        kind=kind,
        json_path="$.choices",
        expected=f"choices with indices {wanted}",
        actual=f"indices {indices}",
        schema_path=f"{PROPERTY}/n",
        chunk_index=None,
    )


@check(
    area="sampling",
    severity=Severity.MUST,
    spec=REQUEST,
    probes=[SEEDED.id],
    fix=(
        "Accept seed (use it or ignore it), never refuse it. Usual cause: a strict request "
        "validator that does not know the field."
    ),
)
def seed_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A request with seed is accepted.

    The document does not declare ``seed`` but allows additional request properties, and
    OpenAI accepts it: clients send it for reproducible answers (see the errata,
    ``undeclared-request-fields``). Refusing it refuses a valid request.
    """
    yield from answered(exchange, ctx, what="seed")


@check(
    area="sampling",
    severity=Severity.MUST,
    spec=f"{PROPERTY}/temperature",
    probes=list(BOUND_PROBES),
    covers=[*properties("ChatCompletionRequest", "top_p", "presence_penalty", "frequency_penalty")],
    fix=(
        "Accept temperature, top_p and the penalties anywhere within the document's bounds, "
        "edges included. Usual cause: a validator with narrower bounds (top_p > 0, "
        "penalties >= 0)."
    ),
)
def sampling_bounds_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """temperature, top_p and the penalties are accepted at the document's bounds.

    temperature 0 and 2, top_p 0 and 1, presence_penalty and frequency_penalty -2 and 2
    are inside the ranges the document states (inclusive); a server that refuses one of
    them (top_p 0 is a common one) breaks clients that pass the user's value through.
    """
    if exchange.ok:
        return
    body = requested(exchange, ctx)
    name = ctx.probe.id.rsplit("_", 1)[0]  # the probe is named <parameter>_<min|max>
    for finding in answered(exchange, ctx, what=f"{name} at its bound", excused_by=(name,)):
        yield Finding(
            title=f"{name} {body.get(name)} (inside the document's range) was refused",
            kind="a value inside the document's range was refused",
            json_path=f"$.{name}",
            expected=finding.expected,
            actual=finding.actual,
            schema_path=f"{PROPERTY}/{name}",
        )
