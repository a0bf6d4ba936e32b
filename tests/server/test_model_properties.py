"""Properties of the model-like mode: whatever it samples, for any seed and request shape,
streamed or not, its answers keep the contract and honour stop, the caps, n and tool_choice."""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.server import ServerConfig
from conformance.server._json_grammar import schema_instance
from tests.server.helpers import assert_valid, chat, chat_body, stream_chunks
from tests.server.test_model_mode import JSON_SCHEMA, SCHEMA, TOOLS
from tests.server.test_properties import ROOTS

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
STOPS = st.lists(st.sampled_from(["e", " ", ".", "\n", " t", "the", "zzz", "é", "a s"]), max_size=4)
TOOL_CHOICES = st.sampled_from(
    ["auto", "required", "none", {"type": "function", "function": {"name": "get_weather"}}]
)
FORMATS = st.sampled_from([None, {"type": "json_object"}, JSON_SCHEMA])


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    body = chat_body(draw(st.sampled_from(["hi", "Reply with exactly these words: a b c"])))
    if draw(st.booleans()):
        body["max_tokens"] = draw(st.integers(0, 30))
    if draw(st.booleans()):
        body["max_completion_tokens"] = draw(st.integers(1, 30))
    stops = draw(STOPS)
    if stops:
        body["stop"] = stops
    body["n"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        body["logprobs"] = True
        body["top_logprobs"] = draw(st.integers(0, 20))
    if draw(st.booleans()):
        body["tools"] = TOOLS
        body["tool_choice"] = draw(TOOL_CHOICES)
    response_format = draw(FORMATS)
    if response_format is not None:
        body["response_format"] = response_format
    if draw(st.booleans()):
        body["reasoning_effort"] = draw(st.sampled_from(["low", "medium", "high"]))
    if draw(st.booleans()):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _choices(response: httpx.Response, body: dict[str, Any], profile: str) -> list[dict[str, Any]]:
    """Each choice as {content, calls, finish, logprob_tokens} and the usage, stream or not,
    every body or chunk asserted valid."""
    if not body.get("stream"):
        data = response.json()
        assert_valid("ChatCompletionResponse", data, (profile,))
        out = []
        for c in data["choices"]:
            calls = c["message"].get("tool_calls") or []
            logprobs = c["logprobs"]["content"] if c["logprobs"] else None
            out.append(
                {
                    "content": c["message"]["content"],
                    "calls": [(t["function"]["name"], t["function"]["arguments"]) for t in calls],
                    "finish": c["finish_reason"],
                    "tokens": None if logprobs is None else [e["token"] for e in logprobs],
                    "usage": data["usage"],
                }
            )
        return out
    chunks = stream_chunks(response)
    assert len({c["created"] for c in chunks}) == 1
    assert len({c["id"] for c in chunks}) == 1
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    by_index: dict[int, dict[str, Any]] = {}
    for item in chunks:
        assert_valid("ChatCompletionChunk", item, (profile,))
        for c in item["choices"]:
            seen = by_index.setdefault(
                c["index"], {"content": "", "calls": [], "finish": None, "tokens": None}
            )
            assert seen["finish"] is None  # nothing after a choice's finish_reason
            seen["content"] += c["delta"].get("content") or ""
            for call in c["delta"].get("tool_calls") or []:
                if "id" in call:
                    seen["calls"].append([call["function"]["name"], ""])
                seen["calls"][-1][1] += call["function"].get("arguments") or ""
            if c["logprobs"]:
                seen["tokens"] = (seen["tokens"] or []) + [
                    e["token"] for e in c["logprobs"]["content"]
                ]
            seen["finish"] = c["finish_reason"]
    out = [by_index[i] for i in sorted(by_index)]
    for choice in out:
        choice["calls"] = [tuple(call) for call in choice["calls"]]
        choice["usage"] = usage
        if choice["calls"]:
            choice["content"] = None
    return out


@FAST
@given(body=requests(), seed=st.integers(0, 2**32), profile=st.sampled_from(["strict", "openai"]))
def test_every_answer_keeps_the_contract_and_honours_the_request(body, seed, profile):
    response = chat(body, ServerConfig(mode="model", seed=seed, profile=profile))
    assert response.status_code == 200, response.text
    choices = _choices(response, body, profile)
    assert len(choices) == body["n"]
    usage = choices[0]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    caps = [body[k] for k in ("max_tokens", "max_completion_tokens") if k in body]
    cap = min(caps) if caps else None
    choice_tool = body.get("tool_choice") if "tools" in body else None
    for choice in choices:
        content = choice["content"]
        assert choice["finish"] in ("stop", "length", "tool_calls")
        if cap is not None:
            assert usage["completion_tokens"] <= cap * body["n"]
        if content is not None:
            assert not any(s in content for s in body.get("stop", []))
            if choice["tokens"] is not None:
                assert "".join(choice["tokens"]) == content
        if choice_tool == "none" or choice_tool is None:
            assert choice["calls"] == []
        elif choice_tool != "auto" and choice["finish"] != "length":  # reasoning may fill it
            assert 1 <= len(choice["calls"]) <= (1 if isinstance(choice_tool, dict) else 2)
        if isinstance(choice_tool, dict):
            assert all(name == "get_weather" for name, _ in choice["calls"])
        for name, arguments in choice["calls"]:
            assert name in ("get_weather", "get_time")
            assert choice["finish"] in ("tool_calls", "length")
            if choice["finish"] == "tool_calls":
                declared = next(t for t in TOOLS if t["function"]["name"] == name)
                schema = declared["function"].get("parameters", {"const": {}})
                jsonschema.validate(json.loads(arguments), schema)
        fmt = body.get("response_format")
        if fmt is not None and content and choice["finish"] == "stop":
            _judge_json(content, fmt, body.get("stop", []))


def _judge_json(content: str, fmt: dict[str, Any], stops: list[str]) -> None:
    """Complete JSON unless a stop text cut it (then it is a prefix of the JSON)."""
    try:
        value = json.loads(content)
    except ValueError:
        assert stops, content  # only a stop text may end JSON early with finish "stop"
        return
    if fmt["type"] == "json_schema":
        jsonschema.validate(value, SCHEMA)
    else:
        assert isinstance(value, dict)


@FAST
@given(schema=ROOTS, seed=st.integers(0, 2**32))
def test_grammar_constrained_values_fit_their_schema(schema, seed):
    value = schema_instance(schema, random.Random(seed))  # noqa: S311 - test data
    jsonschema.Draft202012Validator(schema).validate(value)
