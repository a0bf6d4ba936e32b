"""Tools, response formats and log probabilities, as the document and OpenAI define them."""

from __future__ import annotations

import json

import jsonschema
import pytest

from conformance.server import ServerConfig
from conformance.server._generator import VOCABULARY
from tests.server.helpers import assert_valid, chat, chat_body, stream_chunks

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 12},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "detail": {"type": "boolean"},
                "where": {
                    "type": "object",
                    "properties": {"lat": {"type": "number", "exclusiveMinimum": -90}},
                    "required": ["lat"],
                },
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "optional": {"type": "string"},
            },
            "required": ["city", "unit", "days", "detail", "where", "tags", "note"],
            "additionalProperties": False,
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "read_clock"}}  # no parameters


def _message(body):
    response = chat(body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert_valid("ChatCompletionResponse", answer)
    return answer["choices"][0], answer["usage"]


def _assert_call(choice, name, parameters=None):
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["function"]["name"] == name
    arguments = json.loads(call["function"]["arguments"])
    jsonschema.Draft202012Validator(parameters or {"const": {}}).validate(arguments)
    return call


def test_tool_choice_required_calls_a_tool_with_valid_arguments():
    choice, usage = _message(chat_body("hello", tools=[WEATHER], tool_choice="required"))
    _assert_call(choice, "get_weather", WEATHER["function"]["parameters"])
    assert usage["completion_tokens"] == 1  # a tool call counts as one token


def test_tool_choice_none_answers_in_text():
    choice, _ = _message(chat_body("get_weather now", tools=[WEATHER], tool_choice="none"))
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"]
    assert "tool_calls" not in choice["message"]


def test_tool_choice_names_the_function_to_call():
    tools = [WEATHER, CLOCK]
    choice, _ = _message(chat_body("hi", tools=tools, tool_choice={
        "type": "function", "function": {"name": "read_clock"}}))  # fmt: skip
    call = _assert_call(choice, "read_clock")
    assert call["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("text", "called"),
    [
        ("What does get_weather say for Oslo?", "get_weather"),
        ("please read_clock", "read_clock"),
        ("what is the weather like", None),  # no tool named: text
        ("call get_weather_extended", None),  # a longer name is another name
    ],
)
def test_tool_choice_auto_calls_a_tool_the_user_names(text, called):
    for tool_choice in ("auto", None):  # auto is the default when tools are given
        fields = {"tools": [WEATHER, CLOCK]}
        if tool_choice:
            fields["tool_choice"] = tool_choice
        choice, _ = _message(chat_body(text, **fields))
        if called is None:
            assert choice["finish_reason"] == "stop"
            assert "tool_calls" not in choice["message"]
        else:
            _assert_call(choice, called, WEATHER["function"]["parameters"] if called ==
                         "get_weather" else None)  # fmt: skip


def test_tool_choice_naming_an_unknown_function_is_a_400():
    response = chat(chat_body(tools=[WEATHER], tool_choice={
        "type": "function", "function": {"name": "launch"}}))  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {"error": {
        "message": "Invalid value for 'tool_choice': no function named 'launch' in 'tools' "
        "(the tools are 'get_weather').",
        "type": "invalid_request_error", "param": "tool_choice", "code": None}}  # fmt: skip


def test_tool_choice_required_without_tools_is_a_400():
    response = chat(chat_body(tool_choice="required"))
    assert response.status_code == 400
    assert response.json() == {"error": {
        "message": "Invalid value for 'tool_choice': 'tool_choice' is only allowed when "
        "'tools' are specified.",
        "type": "invalid_request_error", "param": "tool_choice", "code": None}}  # fmt: skip


def test_streamed_tool_call_comes_whole_in_one_delta_under_strict():
    body = chat_body("x", tools=[WEATHER], tool_choice="required", stream=True)
    whole = chat({**body, "stream": False}).json()["choices"][0]["message"]["tool_calls"][0]
    chunks = stream_chunks(chat(body, ServerConfig(profile="strict")))
    for c in chunks:
        assert_valid("ChatCompletionChunk", c, ("strict", "openai"))
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": None}
    assert len(deltas) == 3
    assert deltas[1]["tool_calls"] == [{"index": 0, **whole}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_streamed_tool_call_comes_in_fragments_under_openai_as_openai_sends_it():
    body = chat_body("x", tools=[WEATHER], tool_choice="required", stream=True)
    config = ServerConfig(profile="openai")
    whole = chat({**body, "stream": False}, config).json()["choices"][0]["message"]
    [call] = whole["tool_calls"]
    chunks = stream_chunks(chat(body, config))
    for c in chunks:
        assert_valid("ChatCompletionChunk", c, ("openai",))
    fragments = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert fragments[0] == {
        "index": 0, "id": call["id"], "type": "function",
        "function": {"name": call["function"]["name"], "arguments": ""},
    }  # fmt: skip
    assert all(f == {"index": 0, "function": {"arguments": f["function"]["arguments"]}}
               for f in fragments[1:])  # fmt: skip
    assert len(fragments) > 2
    assert "".join(f["function"]["arguments"] for f in fragments) == call["function"]["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_json_object_format_answers_a_json_object():
    choice, usage = _message(chat_body(response_format={"type": "json_object"}))
    content = choice["message"]["content"]
    assert isinstance(json.loads(content), dict)
    assert usage["completion_tokens"] == len(content.split())


def test_json_schema_format_answers_an_instance_of_the_schema():
    schema = WEATHER["function"]["parameters"]
    fmt = {"type": "json_schema", "json_schema": {"name": "weather", "schema": schema}}
    choice, _ = _message(chat_body(response_format=fmt))
    jsonschema.Draft202012Validator(schema).validate(json.loads(choice["message"]["content"]))
    # Streamed, the tokens add up to the same JSON text.
    chunks = stream_chunks(chat(chat_body(response_format=fmt, stream=True)))
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == choice["message"]["content"]


def test_json_schema_format_without_a_schema_answers_a_json_object():
    fmt = {"type": "json_schema", "json_schema": {"name": "anything"}}
    choice, _ = _message(chat_body(response_format=fmt))
    assert isinstance(json.loads(choice["message"]["content"]), dict)


def test_text_format_answers_plain_words():
    choice, usage = _message(chat_body(response_format={"type": "text"}))
    words = choice["message"]["content"].split()
    assert set(words) <= set(VOCABULARY)
    assert len(words) == usage["completion_tokens"]


@pytest.mark.parametrize("top", [0, 3, 20])
def test_logprobs_give_one_entry_per_token(top):
    choice, usage = _message(chat_body("café au lait", logprobs=True, top_logprobs=top, n=1))
    entries = choice["logprobs"]["content"]
    assert len(entries) == usage["completion_tokens"]
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    for entry in entries:
        assert entry["logprob"] <= 0
        assert entry["bytes"] == list(entry["token"].encode("utf-8"))
        tops = entry["top_logprobs"]
        assert len(tops) == top
        assert len({t["token"] for t in tops}) == top
        if top:
            assert tops[0] == {k: entry[k] for k in ("token", "logprob", "bytes")}
            assert [t["logprob"] for t in tops] == sorted(
                (t["logprob"] for t in tops), reverse=True
            )
            assert all(t["bytes"] == list(t["token"].encode("utf-8")) for t in tops)


def test_logprobs_without_top_logprobs_have_empty_alternatives():
    choice, _ = _message(chat_body(logprobs=True))
    assert all(e["top_logprobs"] == [] for e in choice["logprobs"]["content"])


def test_logprobs_false_or_absent_are_null():
    assert _message(chat_body(logprobs=False))[0]["logprobs"] is None
    assert _message(chat_body())[0]["logprobs"] is None


def test_logprobs_are_streamed_with_their_token():
    body = chat_body(logprobs=True, top_logprobs=2)
    whole = chat(body).json()["choices"][0]["logprobs"]["content"]
    chunks = stream_chunks(chat({**body, "stream": True}))
    streamed = []
    for c in chunks:
        choice = c["choices"][0]
        if choice["delta"].get("content"):
            [entry] = choice["logprobs"]["content"]
            assert entry["token"] == choice["delta"]["content"]
            streamed.append(entry)
        else:
            assert choice["logprobs"] is None
    assert streamed == whole


def test_tool_call_with_logprobs_has_an_empty_content_list():
    choice, _ = _message(chat_body(tools=[CLOCK], tool_choice="required", logprobs=True))
    assert choice["logprobs"] == {"content": []}


def test_more_than_20_top_logprobs_is_a_400():
    response = chat(chat_body(logprobs=True, top_logprobs=21))
    assert response.status_code == 400
    assert response.json() == {"error": {
        "message": "Invalid 'top_logprobs': integer above maximum value. Expected a value "
        "<= 20, but got 21 instead.",
        "type": "invalid_request_error", "param": "top_logprobs", "code": None}}  # fmt: skip


def test_top_logprobs_without_logprobs_is_a_400():
    response = chat(chat_body(top_logprobs=2))
    assert response.status_code == 400
    assert response.json() == {"error": {
        "message": "Invalid value for 'top_logprobs': 'logprobs' must be set to true when "
        "'top_logprobs' is used.",
        "type": "invalid_request_error", "param": "top_logprobs", "code": None}}  # fmt: skip
