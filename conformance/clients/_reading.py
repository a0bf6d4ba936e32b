"""What a client yields from one answer, in one shape for every client (Python and Node),
and the suite's own reading of the same bytes to compare it with.

The suite's reading reuses the checks' readers (``checks._answer.read_answer`` for content,
finish_reason and usage; ``checks._toolcalls`` for tool calls): there is one reassembly of a
stream in the project. Role, refusal, reasoning and logprob tokens are read here from the
same deltas (``checks._support.deltas``), which the checks do not need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.checks._answer import Answer, as_list, read_answer
from conformance.checks._registry import NotApplicable
from conformance.checks._support import deltas, messages
from conformance.checks._toolcalls import message_calls, reassemble
from conformance.wire._exchange import Exchange

REASONING_FIELDS = ("reasoning_content", "reasoning")
USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass
class ChoiceReading:
    """One choice as read: a field a client does not expose is None."""

    index: int
    role: str | None = None
    content: Any = None  # a string; a client may hand on what came (a list of parts)
    refusal: str | None = None
    reasoning: str | None = None
    tool_calls: list[dict[str, str | None]] | None = None  # id, name, arguments
    finish_reason: str | None = None
    logprobs: list[str] | None = None  # the tokens, in order
    # The suite's reading only: the event that set each field (for locating a difference).
    events: dict[str, int | None] = field(default_factory=dict)
    spans: list[tuple[int, int | None]] = field(default_factory=list)  # content end -> event
    opaque: bool = False  # the suite's reading: content came as something else than text

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "role": self.role,
            "content": self.content,
            "refusal": self.refusal,
            "reasoning": self.reasoning,
            "tool_calls": self.tool_calls,
            "finish_reason": self.finish_reason,
            "logprobs": self.logprobs,
        }


@dataclass
class Reading:
    """The choices and usage one client (or the suite) read from one answer."""

    choices: list[ChoiceReading]
    usage: dict[str, int | None] | None = None
    usage_event: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"choices": [c.to_dict() for c in self.choices], "usage": self.usage}

    @classmethod
    def from_dict(cls, data: Any) -> Reading:
        """A reading in the protocol's shape (what the Node runner prints)."""
        if not isinstance(data, dict):
            raise ValueError(f"a reading must be an object, got {type(data).__name__}")
        choices = []
        for item in as_list(data.get("choices")):
            if not isinstance(item, dict):
                continue
            calls = item.get("tool_calls")
            choices.append(
                ChoiceReading(
                    index=int(item.get("index") or 0),
                    role=_str(item.get("role")),
                    content=item.get("content")
                    if isinstance(item.get("content"), str | list)
                    else None,
                    refusal=_str(item.get("refusal")),
                    reasoning=_str(item.get("reasoning")),
                    tool_calls=None
                    if calls is None
                    else [
                        {k: _str(c.get(k)) for k in ("id", "name", "arguments")}
                        for c in as_list(calls)
                        if isinstance(c, dict)
                    ],
                    finish_reason=_str(item.get("finish_reason")),
                    logprobs=None
                    if item.get("logprobs") is None
                    else [str(t) for t in as_list(item.get("logprobs"))],
                )
            )
        usage = data.get("usage")
        return cls(
            choices,
            None if not isinstance(usage, dict) else {k: _int(usage.get(k)) for k in USAGE_FIELDS},
        )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def suite_reading(exchange: Exchange) -> Reading | None:
    """The suite's own reading of a 2xx answer, or None when there is none to read."""
    try:
        answer = read_answer(exchange)
    except NotApplicable:
        return None
    reading: Reading = exchange.memo("suite_reading", lambda: _reading(exchange, answer))
    return reading


def _reading(exchange: Exchange, answer: Answer) -> Reading:
    out: dict[int, ChoiceReading] = {}
    for index, view in answer.choices.items():
        choice = ChoiceReading(index, content=view.content, tool_calls=[])
        choice.finish_reason = _str(view.finish_reason)
        choice.events["finish_reason"] = view.finish_mark.chunk_index
        out[index] = choice
    if exchange.streamed:
        _from_deltas(exchange, out)
        calls = reassemble(exchange, set()).calls
    else:
        _from_body(exchange, out)
        calls = message_calls(exchange)
    for call in calls:
        owner = out.get(call.choice) if isinstance(call.choice, int) else None
        listed = owner.tool_calls if owner is not None else None
        if owner is not None and listed is not None:
            listed.append(
                {"id": _str(call.id), "name": _str(call.name), "arguments": _str(call.arguments)}
            )
            owner.events.setdefault(f"tool_calls[{len(listed) - 1}]", call.chunk_index)
    usage = None
    if answer.usage is not None:
        usage = {k: _int(answer.usage.get(k)) for k in USAGE_FIELDS}
    return Reading(list(out.values()), usage, answer.usage_mark.chunk_index)


def _from_body(exchange: Exchange, out: dict[int, ChoiceReading]) -> None:
    payload = exchange.json()
    choices = as_list(payload.get("choices")) if isinstance(payload, dict) else []
    for position, message in messages(payload if isinstance(payload, dict) else {}):
        raw = choices[position]
        index = raw.get("index") if isinstance(raw, dict) else None
        choice = out.get(index) if isinstance(index, int) else None
        if choice is None:
            continue
        choice.role = _str(message.get("role"))
        if message.get("content") is not None and not isinstance(message.get("content"), str):
            choice.content, choice.opaque = None, True  # not text: the schema checks name it
        choice.refusal = _str(message.get("refusal"))
        choice.reasoning = _first_str(message, REASONING_FIELDS)
        choice.logprobs = _tokens(raw.get("logprobs"))


def _from_deltas(exchange: Exchange, out: dict[int, ChoiceReading]) -> None:
    logprobs: dict[int, list[str]] = {}
    for delta in deltas(exchange):
        choice = out.get(delta.choice_index) if isinstance(delta.choice_index, int) else None
        if choice is None:
            continue
        body = delta.delta
        role = _str(body.get("role"))
        if role is not None and choice.role is None:
            choice.role = role
            choice.events["role"] = delta.chunk_index
        elif role is not None:  # sent again: where a concatenating client goes wrong
            choice.events.setdefault("role", delta.chunk_index)
            choice.events.setdefault("role again", delta.chunk_index)
        content = body.get("content")
        if isinstance(content, str) and content:
            end = (choice.spans[-1][0] if choice.spans else 0) + len(content)
            choice.spans.append((end, delta.chunk_index))
        elif content is not None and not isinstance(content, str):
            choice.content, choice.opaque = None, True
            choice.events.setdefault("content", delta.chunk_index)
        for name, key in (("refusal", ("refusal",)), ("reasoning", REASONING_FIELDS)):
            piece = _first_str(body, key)
            if piece:
                setattr(choice, name, (getattr(choice, name) or "") + piece)
                choice.events.setdefault(name, delta.chunk_index)
    for index, tokens in _choice_logprobs(exchange):
        logprobs.setdefault(index, []).extend(tokens)
    for index, choice in out.items():
        if index in logprobs:
            choice.logprobs = logprobs[index]


def _choice_logprobs(exchange: Exchange) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    for _, payload, error in exchange.event_payloads():
        if error is not None or not isinstance(payload, dict):
            continue
        for choice in as_list(payload.get("choices")):
            if isinstance(choice, dict) and isinstance(choice.get("index"), int):
                tokens = _tokens(choice.get("logprobs"))
                if tokens is not None:
                    out.append((choice["index"], tokens))
    return out


def _tokens(logprobs: object) -> list[str] | None:
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return None
    return [str(item.get("token")) for item in content if isinstance(item, dict)]


def _first_str(body: dict[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        if isinstance(body.get(name), str):
            return str(body[name])
    return None


def same_arguments(got: str | None, want: str | None) -> bool:
    """Tool-call arguments read alike: equal text, or equal JSON (a client may re-serialise)."""
    if got == want:
        return True
    try:
        return bool(json.loads(got or "") == json.loads(want or ""))
    except ValueError:
        return False
