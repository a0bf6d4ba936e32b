"""The defects that show only sometimes: each shows on some answers of the model-like
server, not on all, and never without the switch."""

from __future__ import annotations

import json
import math
from typing import Any

from conformance.server import ServerConfig
from conformance.server._sometimes_defects import BOUNDARY_MARGIN, TOKEN_SECONDS, StreamClock
from tests.server.helpers import chat, chat_body, chats, stream_chunks
from tests.server.test_model_mode import JSON_SCHEMA, NAMED, SCHEMA, TOOLS, first

TESTED_HERE = {
    "tool-choice-named-as-auto", "stop-text-kept", "created-per-chunk",
    "usage-total-sometimes-off", "json-schema-sometimes-off", "max-tokens-off-by-one",
}  # fmt: skip
TRIES = 40


def _shown(defect: str, body: dict[str, Any], shows: Any) -> tuple[int, int]:
    """How many of TRIES answers show the defect: with the switch, and without it."""
    counts = []
    for defects in ({defect}, set()):
        config = ServerConfig(mode="model", seed=11, defects=frozenset(defects))
        responses = chats(config, [body] * TRIES)
        counts.append(sum(bool(shows(r)) for r in responses))
    return counts[0], counts[1]


def _sometimes(counts: tuple[int, int]) -> None:
    on, off = counts
    assert 0 < on < TRIES, counts
    assert off == 0, counts


def test_a_named_tool_choice_treated_as_auto_calls_the_named_tool_only_by_chance():
    body = chat_body(tools=TOOLS, tool_choice=NAMED)

    def other(response: Any) -> bool:
        calls = first(response.json())["message"].get("tool_calls")
        return not calls or calls[0]["function"]["name"] != "get_weather"

    _sometimes(_shown("tool-choice-named-as-auto", body, other))
    # the toy treats it as its auto: a call only of a tool the user names
    toy = chat(body, ServerConfig(defects=frozenset({"tool-choice-named-as-auto"})))
    assert first(toy.json())["message"].get("tool_calls") is None


def test_stop_text_kept_shows_only_when_the_stop_text_was_written():
    stops = ["e", "\n"]
    body = chat_body(stop=stops)

    def kept(response: Any) -> bool:
        content = first(response.json())["message"]["content"]
        return any(content.endswith(s) for s in stops)

    _sometimes(_shown("stop-text-kept", body, kept))


def test_created_per_chunk_shows_when_a_stream_crosses_a_second():
    body = chat_body(stream=True)
    crossing = math.ceil(BOUNDARY_MARGIN / TOKEN_SECONDS)  # chunks the clock needs at most

    def crossed(response: Any) -> bool:
        return len({c["created"] for c in stream_chunks(response)}) > 1

    on, off = _shown("created-per-chunk", body, crossed)  # (short answers may not cross)
    assert on > 0
    assert off == 0
    config = ServerConfig(mode="model", defects=frozenset({"created-per-chunk"}))
    for response in chats(config, [body] * TRIES):
        chunks = stream_chunks(response)
        if len(chunks) > crossing:  # a long stream always crosses, whatever the wall clock
            assert len({c["created"] for c in chunks}) >= 2


def test_the_model_clock_crosses_a_second_after_a_few_chunks():
    crossing = math.ceil(BOUNDARY_MARGIN / TOKEN_SECONDS)
    for start in (1000.0, 1000.5, 1000.97, 1000.999):
        clock = StreamClock(start)
        assert clock.created == 1000
        assert [math.floor(clock.at(k)) for k in range(crossing + 2)] == [1000] * crossing + [
            1001,
            1001,
        ]


def test_usage_total_sometimes_off_shows_on_some_requests_streamed_and_not():
    def off(response: Any) -> bool:
        if response.headers["content-type"].startswith("text/event-stream"):
            usage = stream_chunks(response)[-1]["usage"]
        else:
            usage = response.json()["usage"]
        return bool(usage["total_tokens"] != usage["prompt_tokens"] + usage["completion_tokens"])

    _sometimes(_shown("usage-total-sometimes-off", chat_body(), off))
    streamed = chat_body(stream=True, stream_options={"include_usage": True})
    _sometimes(_shown("usage-total-sometimes-off", streamed, off))


def test_json_schema_sometimes_off_answers_some_requests_off_schema():
    import jsonschema

    def off_schema(response: Any) -> bool:
        content = json.loads(first(response.json())["message"]["content"])
        return not jsonschema.Draft202012Validator(SCHEMA).is_valid(content)

    _sometimes(
        _shown("json-schema-sometimes-off", chat_body(response_format=JSON_SCHEMA), off_schema)
    )


def test_max_tokens_off_by_one_shows_only_when_the_cap_cuts_the_answer():
    def too_long(response: Any) -> bool:
        return bool(response.json()["usage"]["completion_tokens"] > 10)

    _sometimes(_shown("max-tokens-off-by-one", chat_body(max_tokens=10), too_long))
