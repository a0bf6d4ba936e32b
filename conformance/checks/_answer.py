"""An answer read the same way whether it came as one JSON body or as a stream of chunks.

Checks about what the model said (its choices, their ``finish_reason``, the text, the usage)
judge an :class:`Answer`, so one check serves streamed and non-streamed probes alike, and
each finding still points at the JSON path (and, for streams, the event) that showed it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from conformance.checks._helpers import chunks, request_body, require_success
from conformance.checks._model import Finding
from conformance.checks._probes import CHAT, STREAMS
from conformance.checks._registry import CheckContext, NotApplicable
from conformance.checks._support import (
    answer,
    refusal_finding,
    unsupported_if_declined,
    unsupported_parameter,
)
from conformance.checks._toolcalls import reassemble
from conformance.wire._exchange import Exchange, token_count


@dataclass(frozen=True)
class Mark:
    """Where a value was seen: its JSON path in the body (or chunk) and the chunk's event."""

    json_path: str
    chunk_index: int | None = None


@dataclass
class ChoiceView:
    """One choice (by its ``index``), assembled from the body or from every delta."""

    index: int
    where: Mark  # the choice itself (its first delta in a stream)
    content: str = ""
    content_marks: list[Mark] = field(default_factory=list)  # where content arrived
    tool_calls: int = 0  # tool calls (streams: distinct tool-call indices)
    finishes: list[tuple[object, Mark]] = field(default_factory=list)  # non-null reasons
    after_finish: list[Mark] = field(default_factory=list)  # content or calls after one

    @property
    def finish_reason(self) -> object:
        """The (first) finish_reason, or None when the choice never had one."""
        return self.finishes[0][0] if self.finishes else None

    @property
    def finish_mark(self) -> Mark:
        if self.finishes:
            return self.finishes[0][1]
        return Mark(f"{self.where.json_path}.finish_reason", self.where.chunk_index)


@dataclass
class Answer:
    """Choices by index, in order of first appearance, and the usage reported (last one)."""

    streamed: bool
    choices: dict[int, ChoiceView]
    usage: dict[str, Any] | None
    usage_mark: Mark


def read_answer(exchange: Exchange) -> Answer:
    """The answer of a 2xx exchange; ``NotApplicable`` when there is none to read."""
    require_success(exchange)
    if exchange.streamed:
        return _from_stream(exchange)
    payload = answer(exchange)
    choices: dict[int, ChoiceView] = {}
    for position, choice in enumerate(as_list(payload.get("choices"))):
        if not isinstance(choice, dict) or as_int(choice.get("index")) is None:
            continue
        path = f"$.choices[{position}]"
        view = choices.setdefault(choice["index"], ChoiceView(choice["index"], Mark(path)))
        found = choice.get("message")
        message: dict[str, Any] = found if isinstance(found, dict) else {}
        if isinstance(message.get("content"), str):
            view.content += message["content"]
            view.content_marks.append(Mark(f"{path}.message.content"))
        calls = message.get("tool_calls")
        view.tool_calls += len(calls) if isinstance(calls, list) else 0
        if choice.get("finish_reason") is not None:
            view.finishes.append((choice["finish_reason"], Mark(f"{path}.finish_reason")))
    usage, usage_mark = _usage(exchange)
    return Answer(False, choices, usage, usage_mark)


def _from_stream(exchange: Exchange) -> Answer:
    choices: dict[int, ChoiceView] = {}
    for chunk in chunks(exchange):
        payload = chunk.payload
        if not isinstance(payload, dict):
            continue
        for position, choice in enumerate(as_list(payload.get("choices"))):
            if not isinstance(choice, dict) or as_int(choice.get("index")) is None:
                continue
            path = f"$.choices[{position}]"
            index = choice["index"]
            view = choices.setdefault(index, ChoiceView(index, Mark(path, chunk.index)))
            found = choice.get("delta")
            delta: dict[str, Any] = found if isinstance(found, dict) else {}
            said = False
            if isinstance(delta.get("content"), str) and delta["content"]:
                view.content += delta["content"]
                view.content_marks.append(Mark(f"{path}.delta.content", chunk.index))
                said = True
            if as_list(delta.get("tool_calls")):
                said = True
            if said and view.finishes:
                view.after_finish.append(Mark(f"{path}.delta", chunk.index))
            if choice.get("finish_reason") is not None:
                mark = Mark(f"{path}.finish_reason", chunk.index)
                view.finishes.append((choice["finish_reason"], mark))
    for call in reassemble(exchange, set()).calls:  # the one reassembly of tool calls
        if isinstance(call.choice, int) and call.choice in choices:
            choices[call.choice].tool_calls += 1
    return Answer(True, choices, *_usage(exchange))


def _usage(exchange: Exchange) -> tuple[dict[str, Any] | None, Mark]:
    """The usage the endpoint reported and where (``Exchange.reported_usage``)."""
    reported = exchange.reported_usage()
    if reported is None:
        return None, Mark("$.usage")
    return reported[0], Mark("$.usage", reported[1])


def as_list(value: object) -> list[Any]:
    """``value`` when it is a list, else empty (the schema checks name the wrong type)."""
    return value if isinstance(value, list) else []


def count(usage: dict[str, Any] | None, name: str) -> int | None:
    """``usage[name]`` when it is a non-negative integer (usage_arithmetic judges the rest)."""
    return token_count((usage or {}).get(name))


def requested(exchange: Exchange, ctx: CheckContext) -> dict[str, Any]:
    """The request body as sent, as a dict."""
    body = request_body(exchange, ctx)
    return body if isinstance(body, dict) else {}


def token_cap(body: dict[str, Any]) -> tuple[int, str] | None:
    """The tightest of ``max_tokens`` and ``max_completion_tokens``, with its name."""
    caps = [
        (value, name)
        for name in ("max_tokens", "max_completion_tokens")
        if (value := as_int(body.get(name))) is not None and value >= 0
    ]
    return min(caps) if caps else None


def as_int(value: object) -> int | None:
    """``value`` when it is an integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def refusal(
    exchange: Exchange,
    ctx: CheckContext,
    *,
    what: str,
    unsupported: bool,
    excused_by: tuple[str, ...] = (),
) -> Finding:
    """Judge a probe that was not answered with 2xx.

    When the contract in force rejects the request, a 4xx is right: ``NotApplicable``.
    When the feature is optional (``unsupported=True``), a proper refusal (``declined``: a 4xx
    JSON error, not 401/403/429) declares it unsupported: ``Unsupported``, as the feature
    areas' ``require_served`` does; so does a 400 whose code says the model does not
    support one of ``excused_by``, the parameters the check judges (a reasoning model's
    ``stop``), never one that names another parameter. Otherwise (a valid request refused,
    or any 5xx) the finding to report.
    """
    status = exchange.status or 0
    body = requested(exchange, ctx)
    invalid = ctx.contract.validator("ChatCompletionRequest").validate(body)
    if invalid:  # a 4xx is right; a 5xx is for the invalid-request checks to judge
        verdict = "right" if 400 <= status < 500 else "not this check's to judge"
        raise NotApplicable(
            f"the request breaks {invalid[0].json_path}: {invalid[0].summary} in this contract, "
            f"so how it is refused ({status}) is {verdict}"
        )
    if unsupported or unsupported_parameter(exchange) in excused_by:
        unsupported_if_declined(exchange, what)
    kind = "server-error" if status >= 500 else "refused"
    return refusal_finding(
        exchange, f"a valid request with {what} was answered with {status}", kind
    )


def answered(
    exchange: Exchange,
    ctx: CheckContext,
    *,
    what: str,
    unsupported: bool = False,
    excused_by: tuple[str, ...] = (),
) -> Iterator[Finding]:
    """Nothing when the exchange is a 2xx; else what :func:`refusal` makes of it (the
    shared probes' status is ``success_status``'s to report: ``NotApplicable`` there)."""
    if exchange.id in (CHAT.id, *STREAMS):
        require_success(exchange)
    if not exchange.ok:
        yield refusal(exchange, ctx, what=what, unsupported=unsupported, excused_by=excused_by)
