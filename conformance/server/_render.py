"""Turn a generated completion into the contract's JSON: a response, or a stream of chunks.

Under the strict profile every delta carries ``role`` (the document requires it); under
the openai profile only the first delta of each choice does, as OpenAI sends them. The defects that
concern a body's shape are applied here, each where it belongs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.server._config import ServerConfig
from conformance.server._generator import Choice, Completion, ToolCall

ROLE = "assistant"


@dataclass(frozen=True)
class Envelope:
    """What every body (or every chunk) of one answer shares."""

    id: str
    created: int
    model: str
    system_fingerprint: str
    service_tier: str


def usage(completion: Completion, config: ServerConfig) -> dict[str, int]:
    extra = 1 if config.has("bad-usage-total") else 0
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.total_tokens + extra,
    }


def response_body(
    completion: Completion, envelope: Envelope, config: ServerConfig
) -> dict[str, Any]:
    """The non-streamed ``ChatCompletionResponse``."""
    body: dict[str, Any] = {
        "id": envelope.id,
        "object": "chat.completion.chunk" if config.has("wrong-object") else "chat.completion",
        "created": envelope.created,
        "model": envelope.model,
        "system_fingerprint": envelope.system_fingerprint,
        "choices": [_choice(choice) for choice in completion.choices],
        "usage": usage(completion, config),
        "service_tier": envelope.service_tier,
    }
    if config.has("missing-service-tier"):
        del body["service_tier"]
    return body


def _choice(choice: Choice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": ROLE, "content": choice.content}
    if choice.tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in choice.tool_calls]
    if choice.reasoning:
        message["reasoning_content"] = "".join(choice.reasoning)
    return {
        "index": choice.index,
        "message": message,
        "finish_reason": choice.finish_reason,
        "logprobs": _logprobs(choice.logprobs),
    }


def chunks(
    completion: Completion, envelope: Envelope, config: ServerConfig, *, include_usage: bool
) -> Iterator[dict[str, Any]]:
    """The ``ChatCompletionChunk``\\s of a stream, built as they are asked for.

    Each choice opens with a role-only delta, sends one token (or one whole tool call) per
    chunk and closes with an empty delta carrying ``finish_reason``; choices take turns.
    """
    every_delta_has_role = config.profile == "strict"
    plans = [_plan(choice, every_delta_has_role) for choice in completion.choices]
    for step in range(max((len(p) for p in plans), default=0)):
        for plan in plans:
            if step < len(plan):
                yield chunk(envelope, config, [plan[step]])
    if include_usage:
        yield chunk(envelope, config, [], usage(completion, config))


def chunk(
    envelope: Envelope,
    config: ServerConfig,
    choices: list[dict[str, Any]],
    usage_: dict[str, int] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": envelope.id,
        "object": "chat.completion.chunk",
        "created": envelope.created,
        "model": envelope.model,
        "system_fingerprint": envelope.system_fingerprint,
        "choices": choices,
        "usage": usage_,
    }
    if config.has("missing-chunk-id"):
        del body["id"]
    return body


def _plan(choice: Choice, every_delta_has_role: bool) -> list[dict[str, Any]]:
    """The stream choices of one choice, in order."""
    role = {"role": ROLE} if every_delta_has_role else {}
    opening = {"role": ROLE, "content": None if choice.tool_calls else ""}
    steps = [_stream_choice(choice.index, opening)]
    if choice.tool_calls:
        for n, call in enumerate(choice.tool_calls):
            for fragment in _call_deltas(n, call, whole=every_delta_has_role):
                steps.append(_stream_choice(choice.index, {**role, "tool_calls": [fragment]}))
    else:
        for token in choice.reasoning:  # reasoning first, as reasoning models stream it
            steps.append(_stream_choice(choice.index, {**role, "reasoning_content": token}))
        for n, token in enumerate(choice.tokens):
            logprobs = None if choice.logprobs is None else [choice.logprobs[n]]
            steps.append(
                _stream_choice(choice.index, {**role, "content": token}, logprobs=logprobs)
            )
    steps.append(_stream_choice(choice.index, dict(role), finish_reason=choice.finish_reason))
    return steps


ARGUMENTS_FRAGMENT = 8  # characters of arguments per delta after the first (openai)


def _call_deltas(n: int, call: ToolCall, *, whole: bool) -> list[dict[str, Any]]:
    """The deltas of one streamed tool call.

    Strict: the whole call in one delta (the document requires ``function.name`` and
    ``arguments`` in every ``FunctionCall``). Profile openai: as OpenAI streams it, a first delta
    with ``id``, ``type`` and the name, then ``arguments`` in fragments under the ``index``
    (the toy: fixed splits; the model-like mode: where its sampler wrote them).
    """
    if whole:
        return [{"index": n, **_tool_call(call)}]
    first = {"index": n, **_tool_call(call)}
    first["function"] = {"name": call.name, "arguments": ""}
    text = call.arguments
    pieces = (
        list(call.pieces)
        or [  # the model-like mode's own pieces: random boundaries
            text[i : i + ARGUMENTS_FRAGMENT] for i in range(0, len(text), ARGUMENTS_FRAGMENT)
        ]
    )
    return [first, *({"index": n, "function": {"arguments": p}} for p in pieces)]


def _stream_choice(
    index: int,
    delta: dict[str, Any],
    *,
    finish_reason: str | None = None,
    logprobs: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "index": index,
        "delta": delta,
        "finish_reason": finish_reason,
        "logprobs": None if logprobs is None else {"content": logprobs},
    }


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def _logprobs(entries: tuple[dict[str, Any], ...] | None) -> dict[str, Any] | None:
    return None if entries is None else {"content": list(entries)}
