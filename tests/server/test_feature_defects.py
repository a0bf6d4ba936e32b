"""The feature-area defects (tools, formats, logprobs, messages, errors, reasoning) each break
their one promise, only when switched on; and the reasoning the clean server streams."""

from __future__ import annotations

import json

import pytest

from conformance.checks._probes_tools import CALL, CLOCK, WEATHER
from conformance.server import ServerConfig
from tests.server.helpers import assert_valid, chat, chat_body, stream_chunks

ASK = "Use get_weather to get the weather in Paris."
FORMAT_SCHEMA = {
    "type": "object",
    "properties": {"word": {"type": "string"}},
    "required": ["word"],
    "additionalProperties": False,
}

TESTED_HERE = {
    "tool-choice-required-ignored", "tool-choice-named-wrong", "tool-choice-none-ignored",
    "tool-call-no-id", "tool-arguments-object", "empty-arguments-string",
    "tool-stream-no-index", "tool-stream-other-tool", "reject-empty-assistant-content",
    "json-object-not-json", "json-schema-off-schema", "logprobs-missing", "logprobs-positive",
    "top-logprobs-unsorted", "logprobs-bad-bytes", "logprobs-when-off", "reject-system-role",
    "reject-content-parts", "reject-message-name", "reject-unknown-fields",
    "unknown-fields-500", "unknown-model-served", "invalid-request-poisons",
    "reasoning-effort-500", "reasoning-content-not-string", "reasoning-in-content",
}  # fmt: skip


def _on(*defects):
    return ServerConfig(defects=frozenset(defects))


def _message(body, config=None):
    response = chat(body, config)
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]


def _tools(**fields):
    return chat_body(ASK, tools=[WEATHER, CLOCK], **fields)


def _named(name):
    return {"type": "function", "function": {"name": name}}


def test_tool_choice_defects_change_which_tool_is_called():
    assert "tool_calls" in _message(_tools(tool_choice="required"))
    ignored = _message(_tools(tool_choice="required"), _on("tool-choice-required-ignored"))
    assert "tool_calls" not in ignored
    assert isinstance(ignored["content"], str)
    wrong = _message(_tools(tool_choice=_named("get_time")), _on("tool-choice-named-wrong"))
    assert [c["function"]["name"] for c in wrong["tool_calls"]] == ["get_weather"]
    assert "tool_calls" not in _message(_tools(tool_choice="none"))
    called = _message(_tools(tool_choice="none"), _on("tool-choice-none-ignored"))
    assert len(called["tool_calls"]) == 1


def test_tool_call_defects_break_the_non_streamed_call_only():
    clean = _message(_tools(tool_choice=_named("get_weather")))["tool_calls"][0]
    no_id = _message(_tools(tool_choice=_named("get_weather")), _on("tool-call-no-id"))
    assert no_id["tool_calls"][0] == {k: v for k, v in clean.items() if k != "id"}
    as_object = _message(_tools(tool_choice=_named("get_weather")), _on("tool-arguments-object"))
    assert as_object["tool_calls"][0]["function"]["arguments"] == json.loads(
        clean["function"]["arguments"]
    )
    body = _tools(tool_choice=_named("get_weather"), stream=True)
    for defect in ("tool-call-no-id", "tool-arguments-object"):
        [delta] = [
            c["choices"][0]["delta"]
            for c in stream_chunks(chat(body, _on(defect)))
            if c["choices"][0]["delta"].get("tool_calls")
        ]
        assert delta["tool_calls"] == [{"index": 0, **clean}]


def test_empty_arguments_string_streamed_and_not():
    body = _tools(tool_choice=_named("get_time"))
    assert _message(body)["tool_calls"][0]["function"]["arguments"] == "{}"
    config = _on("empty-arguments-string")
    assert _message(body, config)["tool_calls"][0]["function"]["arguments"] == ""
    chunks = stream_chunks(chat({**body, "stream": True}, config))
    calls = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert [c["function"]["arguments"] for c in calls] == [""]


def test_tool_stream_defects():
    body = _tools(tool_choice="required", stream=True)
    plain = _message({**body, "stream": False})["tool_calls"][0]["function"]["name"]

    def streamed(defect):
        chunks = stream_chunks(chat(body, _on(defect)))
        return [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls") or []]

    [call] = streamed("tool-stream-no-index")
    assert "index" not in call
    assert call["function"]["name"] == plain
    [other] = streamed("tool-stream-other-tool")
    assert other["index"] == 0
    assert other["function"]["name"] in {"get_weather", "get_time"} - {plain}


@pytest.mark.parametrize("content", [None, ""])
def test_a_tool_round_trip_is_served_and_the_defect_refuses_only_empty_content(content):
    body = chat_body(ASK, tools=[WEATHER], max_tokens=4)
    body["messages"] += [
        {"role": "assistant", "content": content, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": CALL["id"], "content": '{"celsius": 21}'},
    ]
    assert chat(body).status_code == 200
    response = chat(body, _on("reject-empty-assistant-content"))
    if content is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response.json() == {"error": {
        "message": "Invalid 'messages[1].content': empty string. Expected a non-empty string "
        "or null.", "type": "invalid_request_error", "param": "messages[1].content",
        "code": None}}  # fmt: skip


def test_response_format_defects():
    json_mode = chat_body("Reply in JSON", response_format={"type": "json_object"})
    assert isinstance(json.loads(_message(json_mode)["content"]), dict)
    text = _message(json_mode, _on("json-object-not-json"))["content"]
    with pytest.raises(ValueError, match=r"^Expecting value"):
        json.loads(text)
    spec = {"name": "word", "schema": FORMAT_SCHEMA, "strict": True}
    schema_mode = chat_body("JSON", response_format={"type": "json_schema", "json_schema": spec})
    assert list(json.loads(_message(schema_mode)["content"])) == ["word"]
    off = json.loads(_message(schema_mode, _on("json-schema-off-schema"))["content"])
    assert list(off) == ["answer"]


def _logprobs(config=None, **fields):
    body = chat_body(logprobs=True, top_logprobs=2, max_tokens=4, **fields)
    return chat(body, config).json()["choices"][0]["logprobs"]


def test_logprob_defects_change_only_their_field():
    clean = _logprobs()["content"]
    assert _logprobs(_on("logprobs-missing")) is None
    positive = _logprobs(_on("logprobs-positive"))["content"]
    assert [e["logprob"] for e in positive] == [abs(e["logprob"]) + 0.25 for e in clean]
    assert [e["top_logprobs"] for e in positive] == [e["top_logprobs"] for e in clean]
    unsorted = _logprobs(_on("top-logprobs-unsorted"))["content"]
    assert [e["top_logprobs"] for e in unsorted] == [e["top_logprobs"][::-1] for e in clean]
    bad = _logprobs(_on("logprobs-bad-bytes"))["content"]
    assert [e["bytes"] for e in bad] == [e["bytes"][:-1] for e in clean]
    body = chat_body(logprobs=False, max_tokens=4)
    assert chat(body).json()["choices"][0]["logprobs"] is None
    off = chat(body, _on("logprobs-when-off")).json()["choices"][0]["logprobs"]
    assert [e["token"] for e in off["content"]] == [e["token"] for e in clean]


def test_a_streamed_logprobs_defect_applies_per_chunk():
    body = chat_body(logprobs=True, top_logprobs=2, max_tokens=4, stream=True)
    chunks = stream_chunks(chat(body, _on("logprobs-missing")))
    assert {json.dumps(c["choices"][0]["logprobs"]) for c in chunks} == {"null"}


@pytest.mark.parametrize(
    ("defect", "message", "expected"),
    [
        ("reject-system-role", {"role": "system", "content": "Be brief."},
         ("System messages are not supported by this model.", "messages[0].role")),
        ("reject-content-parts", {"role": "user", "content": [{"type": "text", "text": "hi"}]},
         ("Invalid type for 'messages[0].content': expected a string, but got an array "
          "instead.", "messages[0].content")),
        ("reject-message-name", {"role": "user", "content": "hi", "name": "ann"},
         ("Unrecognized argument 'name' in 'messages[0]'.", "messages[0].name")),
    ],
)  # fmt: skip
def test_message_defects_refuse_with_an_openai_style_400(defect, message, expected):
    body = {**chat_body(), "messages": [message, {"role": "user", "content": "hi"}]}
    assert chat(body).status_code == 200
    response = chat(body, _on(defect))
    assert response.status_code == 400
    text, param = expected
    assert response.json() == {
        "error": {"message": text, "type": "invalid_request_error", "param": param, "code": None}
    }
    assert chat(chat_body(), _on(defect)).status_code == 200


def test_unknown_fields_defects_and_the_clean_server_ignoring_them():
    body = chat_body(x_unknown=1)
    assert chat(body).status_code == 200
    refused = chat(body, _on("reject-unknown-fields"))
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Unrecognized request argument supplied: x_unknown"
    crashed = chat(body, _on("unknown-fields-500"))
    assert (crashed.status_code, crashed.text) == (500, "Internal Server Error")
    assert chat(chat_body(temperature=1), _on("unknown-fields-500")).status_code == 200


def test_unknown_model_served_answers_under_the_name_asked_for():
    body = {**chat_body(), "model": "no-such-model"}
    assert chat(body).status_code == 404
    response = chat(body, _on("unknown-model-served"))
    assert response.status_code == 200
    assert response.json()["model"] == "no-such-model"


def test_invalid_requests_in_a_row_poison_the_next_valid_request_once():
    import asyncio

    import httpx

    from conformance.server import create_app

    app = create_app(_on("invalid-request-poisons"))

    async def go(bodies):
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t/v1") as client:
            return [(await client.post("/chat/completions", json=b)).status_code for b in bodies]

    bad, good = chat_body(temperature=5), chat_body()
    assert asyncio.run(go([bad, bad, good, good])) == [422, 422, 200, 200]
    assert asyncio.run(go([bad, bad, bad, good, good])) == [422, 422, 422, 500, 200]


def test_reasoning_effort_streams_reasoning_content_before_the_answer():
    body = chat_body(reasoning_effort="low", max_tokens=6)
    message = _message(body)
    assert message["reasoning_content"].startswith("Thinking:")
    assert len(message["reasoning_content"].split()) == 3  # "Thinking:" and two words
    chunks = stream_chunks(chat({**body, "stream": True}))
    for c in chunks:
        assert_valid("ChatCompletionChunk", c)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    reasoning = [d["reasoning_content"] for d in deltas if "reasoning_content" in d]
    content = [d["content"] for d in deltas[1:] if d.get("content")]
    assert "".join(reasoning) == message["reasoning_content"]
    assert "".join(content) == message["content"]
    first_content = next(i for i, d in enumerate(deltas[1:]) if d.get("content"))
    assert first_content == len(reasoning)  # all reasoning comes first
    usage = chat(body).json()["usage"]
    assert usage["completion_tokens"] == 6  # reasoning and content share max_tokens
    assert "reasoning_content" not in _message(chat_body(max_tokens=6))


def test_reasoning_defects():
    body = chat_body(reasoning_effort="low", max_tokens=6)
    response = chat(body, _on("reasoning-effort-500"))
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    leaked = _message(body, _on("reasoning-in-content"))
    assert "reasoning_content" not in leaked
    assert leaked["content"].startswith("<think>Thinking:")
    assert "</think>" in leaked["content"]
    chunks = stream_chunks(chat({**body, "stream": True}, _on("reasoning-content-not-string")))
    parts = [
        c["choices"][0]["delta"]["reasoning_content"]
        for c in chunks
        if "reasoning_content" in c["choices"][0]["delta"]
    ]
    assert parts
    assert all(isinstance(p, list) and p[0]["type"] == "text" for p in parts)
