"""Reasoning: reasoning_effort is accepted, and reasoning travels apart from the answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from conformance.checks._helpers import (
    clip,
    findings_from,
    require_event_stream,
    require_success,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import _chat
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    Probe,
    Unsupported,
    check,
    probe,
)
from conformance.checks._support import (
    answer,
    declined,
    deltas,
    messages,
    refused,
    require_served,
)
from conformance.wire._exchange import Exchange

DELTA = "#/components/schemas/ChatCompletionStreamResponseDelta"
EFFORT = "#/components/schemas/ChatCompletionRequest/properties/reasoning_effort"
MAX_TOKENS = 32  # room for a little thinking before the one-word answer
THINK_TAG = re.compile(r"</?think(?:ing)?>", re.IGNORECASE)


def _reasoning(model: str, **extra: object) -> dict[str, Any]:
    return _chat(model, reasoning_effort="low", max_tokens=MAX_TOKENS, **extra)


REASONING = probe(
    Probe("reasoning_effort", 'the plain chat with reasoning_effort: "low"', _reasoning)
)
REASONING_STREAM = probe(
    Probe(
        "reasoning_stream",
        'the same reasoning_effort: "low" chat, streamed',
        lambda model: _reasoning(model, stream=True),
    )
)


@check(
    area="reasoning",
    severity=Severity.MUST,
    spec=EFFORT,
    probes=[REASONING.id, REASONING_STREAM.id],
    fix=(
        "Accept reasoning_effort (use it or ignore it). Usual cause: a non-reasoning "
        "model's validator refusing it, or a 500 from the engine."
    ),
)
def reasoning_effort_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """reasoning_effort is accepted.

    A model that does not reason may decline it with a 4xx error (reported as
    unsupported); a server error or a refusal without a JSON error is a failure.
    """
    why = declined(exchange)
    if why is not None:
        raise Unsupported(f"the endpoint declined reasoning_effort ({why})")
    yield from refused(exchange, 'a request with reasoning_effort "low"', path="$.reasoning_effort")


@check(
    area="reasoning",
    severity=Severity.MUST,
    spec=f"{DELTA}/properties/reasoning_content",
    probes=[REASONING_STREAM.id],
    fix=(
        "Stream reasoning_content as a string in every delta that carries it. Usual cause: "
        "reasoning sent as a list of parts or an object."
    ),
)
def reasoning_content_deltas(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Streamed reasoning_content is a string in every delta that carries it.

    The delta schema allows ``reasoning_content`` as a string or null; clients append it
    to the reasoning shown apart from the answer. Judged where the endpoint streams any.
    """
    require_served(exchange, "reasoning_effort")
    require_event_stream(exchange)
    carrying = [d for d in deltas(exchange) if d.delta.get("reasoning_content") is not None]
    if not carrying:
        raise NotApplicable("the stream carried no reasoning_content")
    validator = ctx.contract.validator("ChatCompletionStreamResponseDelta")
    for delta in carrying:
        own = [
            v
            for v in validator.validate(delta.delta)
            if v.json_path.startswith("$.reasoning_content")
        ]
        for finding in findings_from(own, chunk_index=delta.chunk_index):
            yield _relocated(finding, delta.path)


def _relocated(finding: Finding, prefix: str) -> Finding:
    return replace(finding, json_path=prefix + finding.json_path[1:])


@check(
    area="reasoning",
    severity=Severity.SHOULD,
    spec=f"{DELTA}/properties/reasoning_content",
    probes=[REASONING.id, REASONING_STREAM.id],
    fix=(
        "Send reasoning in reasoning_content (or leave it out), never as <think> tags in "
        "content. Usual cause: the reasoning parser not enabled for the model."
    ),
)
def reasoning_not_in_content(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Reasoning is not leaked into content as <think> tags.

    A reasoning model's thoughts belong in ``reasoning_content`` (or nowhere); a client
    shows ``content`` to the user as the answer. Provoked only when the answer shows
    reasoning somewhere (``reasoning_content`` or tags): a model that does not reason
    cannot misplace it.
    """
    require_success(exchange)
    leaked = list(_leaks(exchange))
    yield from leaked
    if not leaked and not _reasons(exchange):
        raise NotProvoked("the answer shows no reasoning at all (no reasoning_content)")


def _reasons(exchange: Exchange) -> bool:
    if exchange.streamed:
        return any(d.delta.get("reasoning_content") for d in deltas(exchange))
    return any(m.get("reasoning_content") for _, m in messages(answer(exchange)))


def _leaks(exchange: Exchange) -> Iterator[Finding]:
    if exchange.streamed:
        seen: dict[object, str] = {}
        for delta in deltas(exchange):
            text = delta.delta.get("content")
            if not isinstance(text, str):
                continue
            joined = seen.get(delta.choice_index, "") + text
            seen[delta.choice_index] = joined
            tag = THINK_TAG.search(joined)
            if tag is not None:
                yield _leak(f"{delta.path}.content", tag.group(0), joined, delta.chunk_index)
                break  # one finding tells it
        return
    for position, message in messages(answer(exchange)):
        content = message.get("content")
        tag = THINK_TAG.search(content) if isinstance(content, str) else None
        if tag is not None and isinstance(content, str):
            yield _leak(f"$.choices[{position}].message.content", tag.group(0), content, None)


def _leak(path: str, tag: str, content: str, chunk_index: int | None) -> Finding:
    return Finding(
        title="reasoning leaked into content as think tags",
        json_path=path,
        expected="content without reasoning (reasoning in reasoning_content)",
        actual=f"{tag} in {clip(content, 120)!r}",
        chunk_index=chunk_index,
    )
