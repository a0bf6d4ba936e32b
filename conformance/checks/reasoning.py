"""Reasoning: reasoning_effort is accepted, and reasoning travels apart from the answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from conformance.checks._answer import read_answer
from conformance.checks._helpers import (
    clip,
    findings_from,
    require_event_stream,
    require_success,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import _chat
from conformance.checks._probes_again import ask_again
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
# A cap that cuts the thinking short hides whether it ends (an unclosed <think> in content,
# reasoning never followed by an answer): a cut answer is asked for again with this room.
AGAIN_TOKENS = 96
# The reasoning field's names: DeepSeek's (the document's) and vLLM's and OpenRouter's.
REASONING_FIELDS = ("reasoning_content", "reasoning")
REPEATED_MIN = 4  # characters of reasoning at the start of content that show it repeated
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


def cut_short(exchange: Exchange) -> bool:
    """Whether a choice of the answer (streamed or not) was cut by the token cap."""
    try:
        return any(v.finish_reason == "length" for v in read_answer(exchange).choices.values())
    except NotApplicable:
        return False


# The same requests with room to finish, sent only when the first answer was cut.
[REASONING_AGAIN] = ask_again(
    REASONING, times=1, unprovoked=cut_short, why="it was cut", max_tokens=AGAIN_TOKENS
)
[REASONING_STREAM_AGAIN] = ask_again(
    REASONING_STREAM, times=1, unprovoked=cut_short, why="it was cut", max_tokens=AGAIN_TOKENS
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
    probes=[REASONING_STREAM.id, REASONING_STREAM_AGAIN.id],
    fix=(
        "Stream reasoning_content as a string in every delta that carries it. Usual cause: "
        "reasoning sent as a list of parts or an object."
    ),
)
def reasoning_content_deltas(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Streamed reasoning is a string in every delta that carries it.

    The delta schema allows ``reasoning_content`` as a string or null; clients append it
    to the reasoning shown apart from the answer. vLLM and OpenRouter name the field
    ``reasoning``: judged by the same rule. Judged where the endpoint streams any.
    """
    require_served(exchange, "reasoning_effort")
    require_event_stream(exchange)
    carrying = [(d, name, value) for d in deltas(exchange) for name, value in reasoning_of(d.delta)]
    if not carrying:
        raise NotApplicable(f"the stream carried no {' or '.join(REASONING_FIELDS)}")
    validator = ctx.contract.validator("ChatCompletionStreamResponseDelta")
    for delta, name, value in carrying:
        own = [
            v
            for v in validator.validate({"reasoning_content": value})
            if v.json_path.startswith("$.reasoning_content")
        ]
        for finding in findings_from(own, chunk_index=delta.chunk_index):
            yield _relocated(finding, delta.path, name)


def reasoning_of(holder: dict[str, Any]) -> list[tuple[str, object]]:
    """The reasoning a message or delta carries, under either name: (field, value) for
    each field present and not null. The one reader of reasoning."""
    return [(n, holder[n]) for n in REASONING_FIELDS if holder.get(n) is not None]


def _reasoning_text(holder: dict[str, Any]) -> str:
    return "".join(v for _, v in reasoning_of(holder) if isinstance(v, str))


def _relocated(finding: Finding, prefix: str, name: str) -> Finding:
    path = f"{prefix}.{name}{finding.json_path[len('$.reasoning_content') :]}"
    return replace(finding, json_path=path)


@check(
    area="reasoning",
    severity=Severity.SHOULD,
    spec=f"{DELTA}/properties/reasoning_content",
    probes=[REASONING.id, REASONING_STREAM.id, REASONING_AGAIN.id, REASONING_STREAM_AGAIN.id],
    fix=(
        "Send reasoning in reasoning_content (or leave it out), never as <think> tags in "
        "content. Usual cause: the reasoning parser not enabled for the model."
    ),
)
def reasoning_not_in_content(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Reasoning is not leaked into content, as <think> tags or repeated.

    A reasoning model's thoughts belong in ``reasoning_content`` or ``reasoning`` (or
    nowhere); a client shows ``content`` to the user as the answer. Content that opens
    with the reasoning sent in its field shows it twice. Provoked only when the answer
    shows reasoning somewhere (either field, or tags): a model that does not reason
    cannot misplace it.
    """
    require_success(exchange)
    leaked = list(_leaks(exchange)) or list(_repeated(exchange))
    yield from leaked
    if not leaked and not any(_thoughts(exchange).values()):
        raise NotProvoked(
            f"the answer shows no reasoning at all (no {' or '.join(REASONING_FIELDS)})"
        )


def _thoughts(exchange: Exchange) -> dict[object, str]:
    """Each choice's reasoning (either field), by choice index (a body: by position)."""
    out: dict[object, str] = {}
    if exchange.streamed:
        for delta in deltas(exchange):
            text = _reasoning_text(delta.delta)
            out[delta.choice_index] = out.get(delta.choice_index, "") + text
        return out
    return {position: _reasoning_text(m) for position, m in messages(answer(exchange))}


def _repeated(exchange: Exchange) -> Iterator[Finding]:
    """Content that opens with the choice's reasoning (at least ``REPEATED_MIN``
    characters of it): the reasoning sent twice, once to the user."""
    thoughts = _thoughts(exchange)
    contents: dict[object, tuple[str, str, int | None]] = {}
    if exchange.streamed:
        for delta in deltas(exchange):
            text = delta.delta.get("content")
            if isinstance(text, str) and text:
                path, said, first = contents.get(
                    delta.choice_index, (delta.path, "", delta.chunk_index)
                )
                contents[delta.choice_index] = (path, said + text, first)
    else:
        for position, message in messages(answer(exchange)):
            text = message.get("content")
            if isinstance(text, str):
                contents[position] = (f"$.choices[{position}].message", text, None)
    for index, (path, content, chunk_index) in contents.items():
        thought = thoughts.get(index, "").strip()
        if len(thought) >= REPEATED_MIN and content.lstrip().startswith(thought):
            yield Finding(
                title="the reasoning is repeated in content",
                json_path=f"{path}.content",
                expected="content without the reasoning (sent apart from it)",
                actual=clip(content, 120),
                chunk_index=chunk_index,
            )


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
