"""Compare what a client yielded with the suite's own reading of the same bytes.

A field the client does not expose (None in its reading) is not compared; a field it exposes
must read as the suite reads it. Each difference says where (the choice and field), what the
client produced, what it should have, and the event that caused it where it can be located.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.clients._reading import ChoiceReading, Reading, same_arguments


@dataclass(frozen=True)
class Difference:
    """One field a client read otherwise than the bytes say."""

    field: str  # "choices[0].role", "choices[0].tool_calls[1].name", "usage.total_tokens"
    got: Any
    want: Any
    chunk_index: int | None = None  # the event that caused it, when located
    how: str = "garbled"  # "garbled" (a wrong value) or "lost" (nothing where the bytes had it)

    @property
    def topic(self) -> str:
        """The field's name without positions: role, content, tool_calls, usage, ..."""
        last = self.field.split(".")[1] if self.field.startswith("choices[") else self.field
        return last.split("[")[0].split(".")[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "how": self.how,
            "got": self.got,
            "want": self.want,
            "chunk_index": self.chunk_index,
        }

    def describe(self) -> str:
        return f"{self.field} {_short(self.got)} (should be {_short(self.want)})"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def compare(want: Reading, got: Reading) -> list[Difference]:
    """Every field ``got`` reads otherwise than ``want`` (the suite's reading)."""
    out: list[Difference] = []
    wanted = {c.index: c for c in want.choices}
    if wanted and not got.choices:
        return [Difference("choices", [], sorted(wanted), None, "lost")]
    for choice in got.choices:
        expected = wanted.get(choice.index)
        if expected is None:
            out.append(Difference(f"choices[{choice.index}]", choice.to_dict(), None))
            continue
        out.extend(_choice(choice, expected))
    out.extend(_usage(want, got))
    return out


def _choice(got: ChoiceReading, want: ChoiceReading) -> list[Difference]:
    out: list[Difference] = []
    where = f"choices[{want.index}]"
    if got.role is not None and got.role != (want.role or "assistant"):
        event = want.events.get("role again", want.events.get("role"))
        out.append(Difference(f"{where}.role", got.role, want.role or "assistant", event))
    for name in ("content", "refusal", "reasoning"):
        value, expected = getattr(got, name), getattr(want, name)
        if name == "reasoning" and want.opaque:
            continue  # content parts may carry it (Mistral's "thinking"): not the suite's text
        if name == "content" and want.opaque:
            if value is not None and not isinstance(value, str):  # handed on as it came
                out.append(Difference(f"{where}.content", value, "a string", None))
            continue  # not text on the wire: the schema checks judge it
        if value is None or (value or "") == (expected or ""):
            if value is None and expected and name == "content":
                out.append(Difference(f"{where}.{name}", None, expected, None, "lost"))
            continue
        event = _content_event(want, value) if name == "content" else want.events.get(name)
        how = "lost" if not value else "garbled"
        out.append(Difference(f"{where}.{name}", value, expected, event, how))
    out.extend(_calls(got, want, where))
    if got.finish_reason is not None and got.finish_reason != want.finish_reason:
        event = want.events.get("finish_reason")
        out.append(
            Difference(f"{where}.finish_reason", got.finish_reason, want.finish_reason, event)
        )
    elif got.finish_reason is None and want.finish_reason is not None:
        event = want.events.get("finish_reason")
        out.append(Difference(f"{where}.finish_reason", None, want.finish_reason, event, "lost"))
    if got.logprobs is not None and want.logprobs is not None and got.logprobs != want.logprobs:
        out.append(Difference(f"{where}.logprobs", got.logprobs, want.logprobs))
    return out


def _content_event(want: ChoiceReading, got: str) -> int | None:
    """The event whose text is where the client's content first departs from the bytes'."""
    expected = want.content or ""
    at = next(
        (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b),
        min(len(got), len(expected)),
    )
    for end, event in want.spans:
        if at < end:
            return event
    return want.spans[-1][1] if want.spans else None


def _calls(got: ChoiceReading, want: ChoiceReading, where: str) -> list[Difference]:
    if got.tool_calls is None:
        return []
    expected = want.tool_calls or []
    out: list[Difference] = []
    if len(got.tool_calls) != len(expected):
        how = "lost" if len(got.tool_calls) < len(expected) else "garbled"
        event = want.events.get(f"tool_calls[{min(len(got.tool_calls), len(expected))}]")
        out.append(
            Difference(f"{where}.tool_calls", len(got.tool_calls), len(expected), event, how)
        )
    for k, (call, wanted) in enumerate(zip(got.tool_calls, expected, strict=False)):
        event = want.events.get(f"tool_calls[{k}]")
        for part in ("id", "name", "arguments"):
            value, target = call.get(part), wanted.get(part)
            if value is None and part == "id":
                continue  # some clients do not keep the id
            same = same_arguments(value, target) if part == "arguments" else value == target
            if not same:
                how = "lost" if value in (None, "") else "garbled"
                out.append(Difference(f"{where}.tool_calls[{k}].{part}", value, target, event, how))
    return out


def _usage(want: Reading, got: Reading) -> list[Difference]:
    if got.usage is None or want.usage is None:
        return []  # a client that reports no usage is not broken by this answer
    out = []
    for name, value in got.usage.items():
        expected = want.usage.get(name)
        if value is not None and expected is not None and value != expected:
            out.append(Difference(f"usage.{name}", value, expected, want.usage_event))
    return out
