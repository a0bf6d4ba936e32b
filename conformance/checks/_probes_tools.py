"""Probes of tool calling: small tool schemas, one-line prompts, room for one call.

``MAX_TOKENS`` leaves room for a call with a one-word argument (about 20 tokens in the
chat templates of Llama, Qwen and Mistral) twice over; the answers themselves are a few
tokens. A call cut by the cap is judged "not provoked", never wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.checks._probes import _chat
from conformance.checks._probes_sampling import TOOL_AUTO, WEATHER
from conformance.checks._registry import Probe, probe
from conformance.checks._toolcalls import message_calls
from conformance.wire._exchange import Exchange

MAX_TOKENS = 48
CLOCK: dict[str, Any] = {  # no parameters at all: its calls carry arguments "{}"
    "type": "function",
    "function": {"name": "get_time", "description": "The current time."},
}
ASK_WEATHER = "Use get_weather to get the weather in Paris."
ASK_TIME = "What time is it?"
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


def _naming(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


# Each declared function is named in turn, each time with a prompt asking for the OTHER
# one: an endpoint that treats the named choice as "auto" is caught whether its model
# obeys the prompt (it calls the other) or picks at random (it misses one in two).
def _named(model: str) -> dict[str, Any]:
    return _tools(model, ASK_WEATHER, tool_choice=_naming("get_time"))


def _named_weather(model: str) -> dict[str, Any]:
    return _tools(model, ASK_TIME, tool_choice=_naming("get_weather"))


def _declared(body: object) -> list[str]:
    tools = body.get("tools") if isinstance(body, dict) else None
    names = [t.get("function", {}).get("name") for t in tools or [] if isinstance(t, dict)]
    return [n for n in names if isinstance(n, str)]


def _named_unpicked(model: str, peers: Mapping[str, Exchange]) -> dict[str, Any] | None:
    """The tools of the ``tool_auto`` answer, naming a function it did NOT call (the first
    declared one when it called none): a named choice treated as auto repeats the pick."""
    auto = peers.get(TOOL_AUTO.id)
    if auto is None or not auto.ok:
        return None
    picked = {call.name for call in message_calls(auto)}
    declared = _declared(auto.request.body)
    others = [n for n in declared if n not in picked] or declared
    if not others:
        return None
    body = auto.request.body
    assert isinstance(body, dict)  # noqa: S101 - declared tools came from it
    return {**body, "tool_choice": _naming(others[0])}


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
        sampled=True,
    )
)
TOOLS_REQUIRED_STREAM = probe(
    Probe(
        "tools_required_stream",
        "the same tool_choice required request, streamed",
        _required_stream,
        sampled=True,
    )
)
TOOLS_NAMED = probe(
    Probe(
        "tools_named",
        "the two tools with tool_choice naming get_time (no parameters), the prompt asking "
        "for get_weather",
        _named,
        sampled=True,
    )
)
TOOLS_NAMED_WEATHER = probe(
    Probe(
        "tools_named_weather",
        "the two tools with tool_choice naming get_weather, the prompt asking the time",
        _named_weather,
        sampled=True,
    )
)
TOOLS_NAMED_STREAM = probe(
    Probe(
        "tools_named_stream",
        "the tools_named_weather request, streamed: the named function pins the call",
        lambda model: {**_named_weather(model), "stream": True},
        sampled=True,
    )
)
TOOLS_NAMED_UNPICKED = probe(
    Probe(
        "tools_named_unpicked",
        "the tool_auto request again, tool_choice naming a function that answer did not call",
        lambda model: {**TOOL_AUTO.body(model), "tool_choice": _naming("get_weather")},
        sampled=True,
        after=(TOOL_AUTO.id,),
        build=_named_unpicked,
    )
)
NAMED = (TOOLS_NAMED.id, TOOLS_NAMED_WEATHER.id, TOOLS_NAMED_UNPICKED.id)
TOOLS_NONE = probe(
    Probe(
        "tools_none",
        'the two tools with tool_choice "none" and a prompt asking for one',
        _none,
        sampled=True,
    )
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

# Two calls at once, streamed (issue 19): one tool, two cities, "required" and
# parallel_tool_calls, so that any model that can make parallel calls makes two; the room
# is for two calls. One call only: the checks that need two say "not provoked".
ASK_TWO_CITIES = (
    "Get the weather in Paris and in Tokyo: call get_weather once for each city, both at once."
)
PARALLEL_TOKENS = 64  # two calls of one short argument each


def _parallel_stream(model: str) -> dict[str, Any]:
    body = _chat(
        model, messages=[{"role": "user", "content": ASK_TWO_CITIES}], max_tokens=PARALLEL_TOKENS
    )
    body.update(tools=[WEATHER], tool_choice="required", parallel_tool_calls=True, stream=True)
    return body


TOOLS_PARALLEL_STREAM = probe(
    Probe(
        "tools_parallel_stream",
        'get_weather for two cities with tool_choice "required" and parallel_tool_calls: true, '
        "streamed",
        _parallel_stream,
        sampled=True,
    )
)


def _strict(model: str) -> dict[str, Any]:
    """The required request with get_weather marked ``strict: true``: its arguments are
    then guaranteed to follow the parameters (without it, only a SHOULD)."""
    strict = {**WEATHER, "function": {**WEATHER["function"], "strict": True}}
    body = _tools(model, ASK_WEATHER, tool_choice=_naming("get_weather"))
    return {**body, "tools": [strict, CLOCK]}


TOOLS_STRICT = probe(
    Probe(
        "tools_strict",
        "tool_choice naming get_weather, declared with strict: true (its arguments must "
        "follow its parameters)",
        _strict,
    )
)
