"""Probes of tool calling: small tool schemas, one-line prompts, room for one call.

``MAX_TOKENS`` leaves room for a call with a one-word argument (about 20 tokens) and for a
model that thinks first; the answers themselves are a few tokens.
"""

from __future__ import annotations

from typing import Any

from conformance.checks._probes import _chat
from conformance.checks._registry import Probe, probe

MAX_TOKENS = 64
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
CLOCK: dict[str, Any] = {  # no parameters at all: its calls carry arguments "{}"
    "type": "function",
    "function": {"name": "get_time", "description": "The current time."},
}
ASK_WEATHER = "Use get_weather to get the weather in Paris."
CALL = {
    "id": "call_conformance_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def _tools(model: str, prompt: str, **extra: object) -> dict[str, Any]:
    body = _chat(model, messages=[{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS)
    body.update(tools=[WEATHER, CLOCK], **extra)
    return body


def _required(model: str) -> dict[str, Any]:
    return _tools(model, ASK_WEATHER, tool_choice="required")


def _required_stream(model: str) -> dict[str, Any]:
    return {**_required(model), "stream": True}


def _named(model: str) -> dict[str, Any]:
    named = {"type": "function", "function": {"name": "get_time"}}
    return _tools(model, "What time is it?", tool_choice=named)


def _none(model: str) -> dict[str, Any]:
    return {**_tools(model, ASK_WEATHER, tool_choice="none"), "max_tokens": 8}


def _round_trip(content: str | None) -> Any:
    def body(model: str) -> dict[str, Any]:
        return _tools(
            model,
            ASK_WEATHER,
            messages=[
                {"role": "user", "content": ASK_WEATHER},
                {"role": "assistant", "content": content, "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": CALL["id"], "content": '{"celsius": 21}'},
            ],
            max_tokens=16,
        )

    return body


TOOLS_REQUIRED = probe(
    Probe(
        "tools_required",
        'two tools (get_weather, get_time) with tool_choice "required", not streamed',
        _required,
    )
)
TOOLS_REQUIRED_STREAM = probe(
    Probe(
        "tools_required_stream", "the same tool_choice required request, streamed", _required_stream
    )
)
TOOLS_NAMED = probe(
    Probe("tools_named", "the two tools with tool_choice naming get_time (no parameters)", _named)
)
TOOLS_NONE = probe(
    Probe("tools_none", 'the two tools with tool_choice "none" and a prompt asking for one', _none)
)
TOOLS_ROUND_TRIP_NULL = probe(
    Probe(
        "tools_round_trip_null",
        "a conversation with an assistant tool_calls message (content null) and its tool reply",
        _round_trip(None),
    )
)
TOOLS_ROUND_TRIP_EMPTY = probe(
    Probe(
        "tools_round_trip_empty",
        'the same conversation with the assistant content "" instead of null',
        _round_trip(""),
    )
)
CALLING = (TOOLS_REQUIRED.id, TOOLS_REQUIRED_STREAM.id, TOOLS_NAMED.id)
ROUND_TRIPS = (TOOLS_ROUND_TRIP_NULL.id, TOOLS_ROUND_TRIP_EMPTY.id)
