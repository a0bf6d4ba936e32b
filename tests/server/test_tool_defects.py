"""Streamed tool calls on the reference server (issue 19): several calls when asked for
parallel calls, arguments in fragments (the toy's fixed splits, the model-like mode's own
boundaries), and the defects of tool-call streams and delta identity, each only when on."""

from __future__ import annotations

import json

from conformance.checks._probes_tools import WEATHER
from conformance.server import ServerConfig
from tests.server.helpers import assert_valid, chat, chat_body, stream_chunks

TESTED_HERE = {
    "tool-calls-one-index", "tool-call-ids-shared", "tool-arguments-repeated",
    "repeat-delta-identity", "empty-tool-calls",
}  # fmt: skip
TWO = "Get the weather in Paris and in Tokyo."


def parallel_body(**extra):
    return chat_body(
        TWO, tools=[WEATHER], tool_choice="required", parallel_tool_calls=True, **extra
    )


def _openai(*defects, **config):
    return ServerConfig(profile="openai", defects=frozenset(defects), **config)


def tool_deltas(config, body=None):
    chunks = stream_chunks(chat(body or parallel_body(stream=True), config))
    return [
        call
        for c in chunks
        for choice in c["choices"]
        for call in choice["delta"].get("tool_calls") or []
    ]


def rebuilt(deltas):
    """index -> (id, name, joined arguments), as the SDKs accumulate them."""
    out: dict[int, list[object]] = {}
    for d in deltas:
        entry = out.setdefault(d["index"], [d.get("id"), d["function"].get("name"), ""])
        entry[2] += d["function"].get("arguments", "")
    return {k: tuple(v) for k, v in out.items()}


def test_the_toy_makes_two_calls_when_asked_for_parallel_calls_and_one_otherwise():
    calls = chat(parallel_body()).json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_weather"]
    assert len({c["id"] for c in calls}) == 2
    assert all(set(json.loads(c["function"]["arguments"])) == {"city"} for c in calls)
    single = chat(chat_body(TWO, tools=[WEATHER], tool_choice="required")).json()
    assert len(single["choices"][0]["message"]["tool_calls"]) == 1


def test_the_toy_streams_two_calls_in_eight_character_fragments_under_openai():
    whole = chat(parallel_body()).json()["choices"][0]["message"]["tool_calls"]
    deltas = tool_deltas(_openai())
    assert [d["index"] for d in deltas if "id" in d] == [0, 1]
    assert all(len(d["function"]["arguments"]) <= 8 for d in deltas)
    assert rebuilt(deltas) == {
        k: (c["id"], c["function"]["name"], c["function"]["arguments"]) for k, c in enumerate(whole)
    }
    for c in stream_chunks(chat(parallel_body(stream=True), _openai())):
        assert_valid("ChatCompletionChunk", c, ("openai",))


def test_the_model_like_mode_splits_arguments_where_it_wrote_them():
    config = _openai(mode="model", seed=7)
    sizes = set()
    for _ in range(4):
        deltas = tool_deltas(config)
        for _, _, arguments in rebuilt(deltas).values():
            json.loads(arguments)
        sizes |= {len(d["function"]["arguments"]) for d in deltas if "id" not in d}
    assert sizes <= {1, 2, 3, 4}
    assert len(sizes) > 1  # random boundaries, not a fixed split


def test_one_index_puts_every_call_on_index_zero():
    deltas = tool_deltas(_openai("tool-calls-one-index"))
    assert {d["index"] for d in deltas} == {0}
    assert len([d for d in deltas if "id" in d]) == 2


def test_shared_ids_give_every_call_the_first_calls_id():
    deltas = tool_deltas(_openai("tool-call-ids-shared"))
    heads = [d for d in deltas if "id" in d]
    assert [d["index"] for d in heads] == [0, 1]
    assert heads[0]["id"] == heads[1]["id"]


def test_repeated_arguments_send_what_was_sent_so_far():
    clean = rebuilt(tool_deltas(_openai()))
    deltas = tool_deltas(_openai("tool-arguments-repeated"))
    for index, (_, _, arguments) in clean.items():
        pieces = [d["function"]["arguments"] for d in deltas if d["index"] == index]
        assert pieces[-1] == arguments
        assert all(arguments.startswith(p) for p in pieces)


def test_repeated_identity_sends_role_id_type_and_name_in_every_later_delta():
    chunks = stream_chunks(chat(parallel_body(stream=True), _openai("repeat-delta-identity")))
    assert all(c["choices"][0]["delta"]["role"] == "assistant" for c in chunks)
    deltas = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert all({"id", "type"} <= set(d) and d["function"]["name"] == "get_weather" for d in deltas)
    clean = stream_chunks(chat(parallel_body(stream=True), _openai()))
    assert ["role" in c["choices"][0]["delta"] for c in clean] == [True] + [False] * (
        len(clean) - 1
    )


def test_empty_tool_calls_come_only_where_no_tool_is_called():
    config = ServerConfig(defects=frozenset({"empty-tool-calls"}))
    message = chat(chat_body("hi"), config).json()["choices"][0]["message"]
    assert message["tool_calls"] == []
    chunks = stream_chunks(chat(chat_body("hi", stream=True), config))
    with_content = [
        c["choices"][0]["delta"] for c in chunks if "content" in c["choices"][0]["delta"]
    ]
    assert with_content
    assert all(d["tool_calls"] == [] for d in with_content)
    called = chat(parallel_body(), config).json()["choices"][0]["message"]["tool_calls"]
    assert len(called) == 2
    assert "tool_calls" not in chat(chat_body("hi")).json()["choices"][0]["message"]
