"""The model-like mode: a small sampling model that keeps the contract whatever it writes."""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

import jsonschema
import pytest

from conformance.server import ServerConfig
from conformance.server._sometimes_defects import BOUNDARY_MARGIN, TOKEN_SECONDS
from tests.server.helpers import (
    assert_valid,
    chat,
    chat_body,
    chats,
    stream_chunks,
    streamed_text,
)

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "minLength": 2},
                    "unit": {"enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                },
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "get_time"}},
]
SCHEMA = {
    "type": "object",
    "properties": {
        "answer": {"type": "string"},
        "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["answer", "score"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "graded", "schema": SCHEMA}}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
TRIES = 40  # requests that make "sometimes" all but certain (each outcome has p >= 0.25)


def model(seed: int | None = None, **kwargs: Any) -> ServerConfig:
    return ServerConfig(mode="model", seed=seed, **kwargs)


def answers(config: ServerConfig, body: dict[str, Any], times: int = TRIES) -> list[dict[str, Any]]:
    responses = chats(config, [body] * times)
    assert {r.status_code for r in responses} == {200}
    return [r.json() for r in responses]


def first(answer: dict[str, Any]) -> dict[str, Any]:
    choice: dict[str, Any] = answer["choices"][0]
    return choice


def test_the_model_ignores_instructions_and_writes_word_pieces():
    body = chat_body("Reply with exactly these words: one two three")
    texts = [first(a)["message"]["content"] for a in answers(model(seed=1), body)]
    assert "one two three" not in texts
    assert len(set(texts)) == len(texts)  # every request its own answer
    written = "".join(texts)
    for piece in (" ", "e", ",", "."):  # common stop strings occur ...
        assert piece in written
    assert any("e" not in t for t in texts)  # ... but not in every answer


def test_the_model_repeats_words_of_the_prompt_now_and_then():
    texts = [first(a)["message"]["content"] for a in answers(model(seed=1), chat_body("zebra"))]
    assert 0 < sum("zebra" in t for t in texts) < len(texts)


def test_answers_end_at_random_or_at_the_cap():
    finishes = Counter(first(a)["finish_reason"] for a in answers(model(seed=2), chat_body()))
    assert set(finishes) == {"stop"}
    capped = answers(model(seed=2), chat_body(max_tokens=12))
    reasons = Counter(first(a)["finish_reason"] for a in capped)
    assert reasons["stop"] > 0  # both happen at a cap of 12
    assert reasons["length"] > 0
    for answer in capped:
        tokens = answer["usage"]["completion_tokens"]
        assert tokens <= 12
        assert (first(answer)["finish_reason"] == "length") == (tokens == 12)


@pytest.mark.parametrize("stream", [False, True])
def test_the_same_seed_and_requests_give_the_same_answers(stream):
    bodies = [chat_body(stream=stream), chat_body(stream=stream, tools=TOOLS)] * 2

    def contents(seed: int | None) -> list[str]:
        out = []
        for response in chats(model(seed=seed), bodies):
            if stream:
                out.append(json.dumps([c["choices"] for c in stream_chunks(response)]))
            else:
                out.append(json.dumps(response.json()["choices"]))
        return out

    assert contents(7) == contents(7)
    assert contents(7) != contents(8)
    assert contents(None) != contents(None)
    # One server answers a repeated request anew, with or without a seed.
    assert contents(7)[0] != contents(7)[2]


def _full_and_cut(extra: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first answer of a fresh seeded server, without and with ``extra``: ``stop`` and the
    caps shape the answer the model writes, they do not change what it writes."""
    full = chats(model(seed=seed), [chat_body(logprobs=True)])[0].json()
    cut = chats(model(seed=seed), [chat_body(logprobs=True, **extra)])[0].json()
    return first(full), first(cut)


@pytest.mark.parametrize("seed", range(12))
def test_stop_ends_the_answer_just_before_the_first_stop_text(seed):
    stops = ["e", " t", "\n"]
    full, cut = _full_and_cut({"stop": stops}, seed)
    text = full["message"]["content"]
    found = [text.find(s) for s in stops if s in text]
    content = cut["message"]["content"]
    if found:
        assert content == text[: min(found)]
        assert cut["finish_reason"] == "stop"
    else:
        assert content == text
    assert not any(s in content for s in stops)
    tokens = [e["token"] for e in cut["logprobs"]["content"]]
    assert "".join(tokens) == content  # logprobs follow the cut, a cut piece too


@pytest.mark.parametrize("seed", range(8))
def test_max_tokens_keeps_the_first_tokens_of_the_answer(seed):
    full, cut = _full_and_cut({"max_tokens": 6}, seed)
    tokens = [e["token"] for e in full["logprobs"]["content"]]
    kept = [e["token"] for e in cut["logprobs"]["content"]]
    assert kept == tokens[:6]
    assert cut["message"]["content"] == "".join(kept)
    assert cut["finish_reason"] == ("length" if len(tokens) >= 6 else "stop")


def test_n_gives_independent_choices_and_usage_counts_them_all():
    for answer in answers(model(seed=3), chat_body(n=3, logprobs=True), times=10):
        assert [c["index"] for c in answer["choices"]] == [0, 1, 2]
        lengths = [len(c["logprobs"]["content"]) for c in answer["choices"]]
        usage = answer["usage"]
        assert usage["completion_tokens"] == sum(lengths)
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert len({c["message"]["content"] for c in answer["choices"]}) > 1


def _tools_body(tool_choice: Any) -> dict[str, Any]:
    return chat_body("What is the weather in Paris?", tools=TOOLS, tool_choice=tool_choice)


def _called(answer: dict[str, Any]) -> str | None:
    calls = first(answer)["message"].get("tool_calls")
    return calls[0]["function"]["name"] if calls else None


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("auto", {"get_weather", "get_time", None}),
        ("required", {"get_weather", "get_time"}),
        (NAMED, {"get_weather"}),
        ("none", {None}),
    ],
)
def test_tool_choice_decides_what_may_be_called(tool_choice, expected):
    seen = answers(model(seed=4), _tools_body(tool_choice))
    assert {_called(a) for a in seen} == expected  # each allowed outcome, nothing else
    for answer in seen:
        choice = first(answer)
        if _called(answer) is None:
            assert isinstance(choice["message"]["content"], str)
            continue
        assert choice["finish_reason"] == "tool_calls"
        for call in choice["message"]["tool_calls"]:
            arguments = json.loads(call["function"]["arguments"])
            name = call["function"]["name"]
            declared = next(t for t in TOOLS if t["function"]["name"] == name)
            jsonschema.validate(arguments, declared["function"].get("parameters", {"const": {}}))


def test_several_tools_are_called_at_times_unless_parallel_calls_are_refused():
    body = _tools_body("required")
    counts = Counter(len(first(a)["message"]["tool_calls"]) for a in answers(model(seed=4), body))
    assert set(counts) == {1, 2}
    assert counts[1] > counts[2]
    single = answers(model(seed=4), {**body, "parallel_tool_calls": False})
    assert {len(first(a)["message"]["tool_calls"]) for a in single} == {1}
    named = answers(model(seed=4), _tools_body(NAMED))
    assert {len(first(a)["message"]["tool_calls"]) for a in named} == {1}


def test_tool_arguments_vary_and_a_cap_cuts_them():
    body = chat_body(tools=TOOLS, tool_choice=NAMED)
    arguments = {
        first(a)["message"]["tool_calls"][0]["function"]["arguments"]
        for a in answers(model(seed=5), body)
    }
    assert len(arguments) > 10  # optional properties come and go, values differ
    cut = answers(model(seed=5), {**body, "max_tokens": 4}, times=5)
    for answer in cut:
        choice = first(answer)
        assert choice["finish_reason"] == "length"
        assert answer["usage"]["completion_tokens"] == 4  # the name and three pieces
        with pytest.raises(ValueError, match=r"^(Unterminated|Expecting)"):
            json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"])


def test_json_object_mode_writes_a_json_object_a_cap_can_cut():
    body = chat_body(response_format={"type": "json_object"})
    for answer in answers(model(seed=6), body, times=20):
        assert first(answer)["finish_reason"] == "stop"
        assert isinstance(json.loads(first(answer)["message"]["content"]), dict)
    finishes = Counter(
        first(a)["finish_reason"] for a in answers(model(seed=6), {**body, "max_tokens": 8})
    )
    assert finishes["length"] > 0


def test_json_schema_mode_writes_schema_valid_json_a_cap_can_cut():
    body = chat_body(response_format=JSON_SCHEMA)
    contents = set()
    for answer in answers(model(seed=7), body, times=20):
        assert first(answer)["finish_reason"] == "stop"
        content = first(answer)["message"]["content"]
        jsonschema.validate(json.loads(content), SCHEMA)
        contents.add(content)
    assert len(contents) > 10
    cut = answers(model(seed=7), {**body, "max_tokens": 5}, times=10)
    assert {first(a)["finish_reason"] for a in cut} == {"length"}


def test_logprobs_are_a_distribution_the_token_was_drawn_from():
    body = chat_body(logprobs=True, top_logprobs=5)
    for answer in answers(model(seed=8), body, times=5):
        entries = first(answer)["logprobs"]["content"]
        assert "".join(e["token"] for e in entries) == first(answer)["message"]["content"]
        assert len(entries) == answer["usage"]["completion_tokens"]
        for entry in entries:
            top = entry["top_logprobs"]
            values = [t["logprob"] for t in top]
            assert len(top) == 5
            assert values == sorted(values, reverse=True)
            assert all(v <= 0 for v in [*values, entry["logprob"]])
            assert sum(2.718281828**v for v in values) <= 1.0
            listed = {t["token"]: t["logprob"] for t in top}
            if entry["token"] in listed:
                assert listed[entry["token"]] == entry["logprob"]
            assert bytes(entry["bytes"]).decode() == entry["token"]


@pytest.mark.parametrize("profile", ["strict", "openai"])
def test_a_stream_carries_what_the_model_wrote_and_keeps_one_created(profile):
    config = model(seed=9, profile=profile)
    body = chat_body(stream=True, stream_options={"include_usage": True}, logprobs=True)
    for response in chats(config, [body] * 5):
        chunks = stream_chunks(response)
        for item in chunks:
            assert_valid("ChatCompletionChunk", item, (profile,))
        assert len({c["created"] for c in chunks}) == 1
        assert len({c["id"] for c in chunks}) == 1
        usage = chunks[-1]["usage"]
        assert usage["completion_tokens"] == sum(
            len(ch["logprobs"]["content"]) for c in chunks for ch in c["choices"] if ch["logprobs"]
        )
        assert len(streamed_text(chunks)) > 0


def test_the_mode_and_seed_are_checked():
    with pytest.raises(ValueError, match=r"^mode 'chaos' is unknown; use 'toy'"):
        ServerConfig(mode="chaos")
    with pytest.raises(ValueError, match=r"^seed '1' must be an integer or None\.$"):
        ServerConfig(seed="1")  # type: ignore[arg-type]


def test_the_toy_mode_stays_the_default_and_stays_deterministic():
    assert ServerConfig().mode == "toy"
    body = chat_body()
    assert chat(body).json()["choices"] == chat(body, ServerConfig(seed=0)).json()["choices"]


def test_created_stays_the_same_while_the_stream_clock_crosses_a_second():
    body = chat_body(stream=True, max_tokens=30)
    crossing = math.ceil(BOUNDARY_MARGIN / TOKEN_SECONDS)
    clean = [stream_chunks(r) for r in chats(model(seed=10), [body] * 20)]
    stamped = model(seed=10, defects=frozenset({"created-per-chunk"}))
    witness = [stream_chunks(r) for r in chats(stamped, [body] * 20)]
    long_enough = [(c, w) for c, w in zip(clean, witness, strict=True) if len(c) > crossing]
    assert len(long_enough) > 10
    for chunks, stamps in long_enough:
        assert len(chunks) == len(stamps)  # the same answers
        assert len({c["created"] for c in stamps}) == 2  # the clock crossed a second ...
        # ... created did not (each run's clock starts at its own second: the two runs may
        # start in different seconds on a busy machine, so each is judged on its own)
        assert {c["created"] for c in chunks} == {chunks[0]["created"]}
