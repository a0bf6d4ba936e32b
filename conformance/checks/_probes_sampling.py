"""Probes for the request parameters that shape an answer: n, the token caps, stop, seed,
the sampling bounds, and a tool call the model chooses to make (for its finish_reason;
the forced ones are the tools area's probes).

All one-line prompts with small caps: every probe here asks for at most 32 tokens, most
for 3 to 8; the bound probes for one. A value a probe sends at "the document's bound" is
checked against the document by the tests, and judged against the contract in force.
"""

from __future__ import annotations

from typing import Any

from conformance.checks._probes import CHAT, CHAT_STREAM_USAGE, MAX_TOKENS, PROMPT, STREAMS
from conformance.checks._probes_again import ask_again
from conformance.checks._registry import Probe, probe
from conformance.checks._toolcalls import message_calls
from conformance.wire._exchange import Exchange

N = 2
CAP = 3  # tokens: far fewer than the counting prompt needs
COUNTING = "Count from 1 to 50, separated by spaces."
# Stop probes that do not need an obedient model: whatever it writes about anything, a
# few tokens of it hold a vowel. A letter, not a space: some APIs refuse a stop
# sequence that is only whitespace. The same prompt without stop (``stop_free``) shows
# whether the endpoint writes such text at all: if it does not, stop was not provoked.
PROSE = "Write one sentence about the sea."
STOP_TOKENS = 16  # room for a dozen words when nothing stops them
STOP_LIST = ["e", "a", "o", "i"]  # four (OpenAI's most): the first to occur is rarely "e"
STOP_STRING = "e"
SEED = 7
TOOL_TOKENS = 32  # room for one small tool call
TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time.",
        "parameters": {"type": "object", "properties": {}},
    },
}
WEATHER: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}
TOOL_PROMPT = "Call get_time or get_weather, whichever you like."
INCLUDE_USAGE = {"include_usage": True}
# (parameter, value, which end): the document's bounds of each sampling parameter.
BOUNDS: tuple[tuple[str, float, str], ...] = (
    ("temperature", 0, "min"),
    ("temperature", 2, "max"),
    ("top_p", 0, "min"),
    ("top_p", 1, "max"),
    ("presence_penalty", -2, "min"),
    ("presence_penalty", 2, "max"),
    ("frequency_penalty", -2, "min"),
    ("frequency_penalty", 2, "max"),
)


def chat_body(
    model: str, text: str = PROMPT, max_tokens: int | None = MAX_TOKENS, **extra: object
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    body.update(extra)
    return body


def _register(probe_id: str, description: str, *, sampled: bool = False, **fields: Any) -> Probe:
    def body(model: str) -> dict[str, Any]:
        return chat_body(model, **fields)

    return probe(Probe(probe_id, description, body, sampled=sampled))


CHAT_N = _register("chat_n", f"the plain chat asking for n: {N} choices", n=N)
CHAT_N_STREAM = _register(
    "chat_n_stream",
    f"the plain chat asking for n: {N} choices, streamed with include_usage",
    n=N,
    stream=True,
    stream_options=INCLUDE_USAGE,
)
CAP_MAX_TOKENS = _register(
    "cap_max_tokens",
    f"a counting prompt cut by max_tokens: {CAP}",
    sampled=True,
    text=COUNTING,
    max_tokens=CAP,
)
CAP_MAX_TOKENS_STREAM = _register(
    "cap_max_tokens_stream",
    f"the same counting prompt cut by max_tokens: {CAP}, streamed with include_usage",
    sampled=True,
    text=COUNTING,
    max_tokens=CAP,
    stream=True,
    stream_options=INCLUDE_USAGE,
)
CAP_MAX_COMPLETION_TOKENS = _register(
    "cap_max_completion_tokens",
    f"the counting prompt cut by max_completion_tokens: {CAP} (no max_tokens)",
    sampled=True,
    text=COUNTING,
    max_tokens=None,
    max_completion_tokens=CAP,
)
STOP_FREE = _register(
    "stop_free",
    f"a sentence asked for (max_tokens: {STOP_TOKENS}), no stop: whether the endpoint's text "
    "holds the stop probes' letters at all",
    sampled=True,
    text=PROSE,
    max_tokens=STOP_TOKENS,
)
STOP_AS_LIST = _register(
    "stop_list",
    f"the same sentence with stop: {STOP_LIST!r} (the answer must end before any of them)",
    sampled=True,
    text=PROSE,
    max_tokens=STOP_TOKENS,
    stop=STOP_LIST,
)
STOP_AS_STRING = _register(
    "stop_string",
    f"the same sentence with stop as one string: {STOP_STRING!r}",
    sampled=True,
    text=PROSE,
    max_tokens=STOP_TOKENS,
    stop=STOP_STRING,
)
SEEDED = _register("seed", f"the plain chat with seed: {SEED}", seed=SEED)


def _bound(name: str, value: float) -> dict[str, Any]:
    return {"max_tokens": 1, name: value}


BOUND_PROBES: dict[str, Probe] = {
    f"{name}_{end}": _register(
        f"{name}_{end}",
        f"the plain chat with {name}: {value} (the document's {end}imum), max_tokens: 1",
        **_bound(name, value),
    )
    for name, value, end in BOUNDS
}
TOOL_AUTO = _register(
    "tool_auto",
    "a chat asking for a call of one of two tools (get_time, get_weather), tool_choice auto",
    sampled=True,
    text=TOOL_PROMPT,
    max_tokens=TOOL_TOKENS,
    tools=[TOOL, WEATHER],
    tool_choice="auto",
)


def _called_nothing(exchange: Exchange) -> bool:
    return not message_calls(exchange)


# A sampling model calls a tool under "auto" only sometimes: asked again once in each trial
# when it has not; a run none of whose trials saw a call spends evidence trials on it
# (engine/_evidence.UNPROVOKED_TRIALS), so that the finish_reason of a call is judged in
# every run. (Twice per trial cost 840 tokens of a live run's worst case.)
TOOL_AUTO_AGAIN = ask_again(
    TOOL_AUTO, times=1, unprovoked=_called_nothing, why="no tool was called"
)
AUTO = (TOOL_AUTO.id, *(p.id for p in TOOL_AUTO_AGAIN))
N_PROBES = (CHAT_N.id, CHAT_N_STREAM.id)
CAP_PROBES = (CAP_MAX_TOKENS.id, CAP_MAX_TOKENS_STREAM.id, CAP_MAX_COMPLETION_TOKENS.id)
STOP_PROBES = (STOP_AS_LIST.id, STOP_AS_STRING.id)
STOP_TWIN = STOP_FREE.id
# Streams these probes add (judged for framing and chunk envelope like the shared ones).
MORE_STREAMS = (CHAT_N_STREAM.id, CAP_MAX_TOKENS_STREAM.id)
ALL_STREAMS = (*STREAMS, *MORE_STREAMS)
# Non-streamed answers these probes add (judged against ChatCompletionResponse).
MORE_RESPONSES = (
    CHAT_N.id,
    CAP_MAX_TOKENS.id,
    CAP_MAX_COMPLETION_TOKENS.id,
    STOP_AS_LIST.id,
    SEEDED.id,
    TOOL_AUTO.id,
)
# A streamed probe and the non-streamed probe with the same messages and caps.
TWINS = {CHAT_STREAM_USAGE.id: CHAT.id, CAP_MAX_TOKENS_STREAM.id: CAP_MAX_TOKENS.id}
