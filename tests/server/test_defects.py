"""Each deliberate defect breaks its one promise, and only when switched on."""

from __future__ import annotations

import json

import pytest

from conformance.server import DEFECTS, ServerConfig
from tests.server.helpers import (
    assert_valid,
    chat,
    chat_body,
    events,
    request,
    stream_chunks,
    violations,
)
from tests.server.test_feature_defects import TESTED_HERE as FEATURE_DEFECTS_TESTED
from tests.server.test_sometimes_defects import TESTED_HERE as SOMETIMES_DEFECTS_TESTED
from tests.server.test_stream_defects import TESTED_HERE as STREAM_DEFECTS_TESTED
from tests.server.test_text_defects import TESTED_HERE as TEXT_DEFECTS_TESTED
from tests.server.test_tool_defects import TESTED_HERE as TOOL_DEFECTS_TESTED

KEY = "sk-canary-0a1b2c3d"
INVALID_BODIES = [
    chat_body(temperature=5),
    {"messages": [{"role": "user", "content": "hi"}]},  # no model
    {"model": "conformance/reference-1", "messages": "hi"},
    {"model": "conformance/reference-1", "messages": [], "n": 0},
]


def _on(*defects, **kwargs):
    return ServerConfig(defects=frozenset(defects), **kwargs)


def test_no_done_ends_the_stream_without_the_terminator():
    data = events(chat(chat_body(stream=True), _on("no-done")))
    assert "[DONE]" not in data
    for item in data:
        assert_valid("ChatCompletionChunk", json.loads(item))
    assert json.loads(data[-1])["choices"][0]["finish_reason"] == "stop"


def test_data_after_done_sends_a_chunk_after_the_terminator():
    data = events(chat(chat_body(stream=True), _on("data-after-done")))
    assert data[-2] == "[DONE]"
    assert data.count("[DONE]") == 1
    extra = json.loads(data[-1])
    assert extra["object"] == "chat.completion.chunk"
    assert extra["choices"] == []


def test_bad_usage_total_is_one_more_than_the_sum_streamed_and_not():
    config = _on("bad-usage-total")
    usage = chat(chat_body(), config).json()["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] + 1
    body = chat_body(stream=True, stream_options={"include_usage": True})
    streamed = stream_chunks(chat(body, config))[-1]["usage"]
    assert streamed == usage


def test_missing_chunk_id_leaves_id_out_of_every_chunk():
    chunks = stream_chunks(chat(chat_body(stream=True), _on("missing-chunk-id")))
    assert all("id" not in c for c in chunks)
    assert violations("ChatCompletionChunk", chunks[0]) == ["$: 'id' is a required property"]
    assert chat(chat_body(), _on("missing-chunk-id")).json()["id"].startswith("chatcmpl-")


def test_missing_service_tier_breaks_strict_only():
    body = chat(chat_body(), _on("missing-service-tier")).json()
    assert "service_tier" not in body
    assert violations("ChatCompletionResponse", body) == [
        "$: 'service_tier' is a required property"
    ]
    assert violations("ChatCompletionResponse", body, "openai") == []


def test_wrong_object_names_the_response_a_chunk():
    body = chat(chat_body(), _on("wrong-object")).json()
    assert body["object"] == "chat.completion.chunk"
    assert violations("ChatCompletionResponse", body) == [
        "$.object: 'chat.completion' was expected"
    ]
    chunks = stream_chunks(chat(chat_body(stream=True), _on("wrong-object")))
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_stream_json_content_type_labels_the_event_stream_as_json():
    response = chat(chat_body(stream=True), _on("stream-json-content-type"))
    assert response.headers["content-type"] == "application/json"
    assert stream_chunks(response)  # the body is still an event stream
    plain = chat(chat_body(), _on("stream-json-content-type"))
    assert plain.headers["content-type"] == "application/json"


def test_accept_any_key_serves_requests_without_or_with_a_wrong_key():
    config = _on("accept-any-key", api_key=KEY)
    assert chat(chat_body(), config).status_code == 200
    assert chat(chat_body(), config, headers={"authorization": "Bearer nope"}).status_code == 200


@pytest.mark.parametrize("body", INVALID_BODIES)
def test_invalid_request_500_answers_a_plain_text_server_error(body):
    response = chat(body, _on("invalid-request-500"))
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == "Internal Server Error"
    not_json = chat(None, _on("invalid-request-500"), content=b"{",
                    headers={"content-type": "application/json"})  # fmt: skip
    assert (not_json.status_code, not_json.text) == (500, "Internal Server Error")
    assert chat(chat_body(), _on("invalid-request-500")).status_code == 200


@pytest.mark.parametrize("body", INVALID_BODIES)
def test_invalid_request_200_serves_schema_invalid_requests(body):
    response = chat(body, _on("invalid-request-200"))
    assert response.status_code == 200
    answer = response.json()
    assert_valid("ChatCompletionResponse", answer)
    assert answer["model"] == "conformance/reference-1"
    assert len(answer["choices"]) == 1


def test_invalid_request_200_still_refuses_an_unknown_model_and_bad_json():
    config = _on("invalid-request-200")
    assert chat({**chat_body(temperature=5), "model": "other"}, config).status_code == 404
    bad = chat(None, config, content=b"{", headers={"content-type": "application/json"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("config", "body", "kwargs"),
    [
        (_on("html-error-page", api_key=KEY), chat_body(), {}),  # 401
        (_on("html-error-page"), {**chat_body(), "model": "other"}, {}),  # 404
        (_on("html-error-page"), chat_body(temperature=5), {}),  # 422
        (_on("html-error-page"), chat_body(logprobs=True, top_logprobs=50), {}),  # 400
        (_on("html-error-page"), None, {"method": "GET"}),  # 405
        (_on("html-error-page"), None, {"method": "GET", "path": "/nowhere"}),  # 404 route
    ],
)
def test_html_error_page_answers_every_error_as_a_500_html_page(config, body, kwargs):
    response = request(config, body, **kwargs)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!DOCTYPE html>")
    assert "Internal Server Error" in response.text


def test_html_error_page_leaves_successes_alone():
    assert chat(chat_body(), _on("html-error-page")).status_code == 200


@pytest.mark.parametrize(
    ("content", "kind"),
    [(b'{"model": "m", "mess', "application/json"), (b"", "application/json"),
     (b'{"model": "m"}', "text/plain")],
)  # fmt: skip
def test_not_json_500_answers_bodies_that_are_not_json_with_500_and_only_those(content, kind):
    config = _on("not-json-500")
    refused = chat(None, config, content=content, headers={"content-type": kind})
    assert (refused.status_code, refused.text) == (500, "Internal Server Error")
    assert chat({"messages": []}, config).status_code == 422  # JSON, but invalid: as before
    assert chat(chat_body(), config).status_code == 200
    clean = chat(None, content=content, headers={"content-type": kind})
    assert clean.status_code == 422
    assert clean.json()["detail"][0]["type"] in ("json_invalid", "content_type")


def test_role_user_answer_answers_in_the_user_role_but_streams_as_the_assistant():
    config = _on("role-user-answer")
    answer = chat(chat_body(n=2), config).json()
    assert [c["message"]["role"] for c in answer["choices"]] == ["user", "user"]
    assert violations("ChatCompletionResponse", answer) == []  # the enum allows it
    first = stream_chunks(chat(chat_body(stream=True), config))[0]
    assert first["choices"][0]["delta"]["role"] == "assistant"


def test_every_defect_is_tested_and_described():
    tested = {
        "no-done", "data-after-done", "bad-usage-total", "missing-chunk-id",
        "missing-service-tier", "wrong-object", "stream-json-content-type", "accept-any-key",
        "invalid-request-500", "invalid-request-200", "html-error-page",
        "not-json-500", "role-user-answer", "n-stream-500", "negative-presence-penalty-rejected",
        # tests/server/test_encoding.py and tests/e2e/test_parameters_encoding_found.py
        "ai-project-id-500", "gzip-declared-plain",
        # tests/server/test_lenient.py (issue 19)
        "lenient-coercion", "tool-arguments-loose", "reasoning-model",
        "tool-finish-sometimes-stop",
    }  # fmt: skip
    assert set(DEFECTS) == (
        tested
        | FEATURE_DEFECTS_TESTED
        | STREAM_DEFECTS_TESTED
        | SOMETIMES_DEFECTS_TESTED
        | TEXT_DEFECTS_TESTED
        | TOOL_DEFECTS_TESTED
    )
    assert all(d and "\n" not in d for d in DEFECTS.values())


def test_without_defects_the_same_requests_keep_the_contract():
    chunks = stream_chunks(chat(chat_body(stream=True)))
    assert all("id" in c for c in chunks)
    body = chat(chat_body()).json()
    assert violations("ChatCompletionResponse", body) == []
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_unknown_defect_is_a_value_error_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"^unknown defect") as caught:
        ServerConfig(defects=frozenset({"no-done", "slow-stream", "bogus"}))
    known = ", ".join(sorted(DEFECTS))  # every defect, whoever added it
    assert known.startswith("accept-any-key, ai-project-id-500, bad-")
    assert str(caught.value) == (f"unknown defect 'bogus', 'slow-stream'; known defects: {known}.")


def test_n_stream_500_answers_500_only_when_n_above_1_meets_stream():
    config = _on("n-stream-500")
    assert chat(chat_body(n=2, stream=True), config).status_code == 500
    assert chat(chat_body(n=2), config).status_code == 200
    assert chat(chat_body(stream=True), config).status_code == 200


def test_negative_presence_penalty_rejected_refuses_only_values_below_0():
    config = _on("negative-presence-penalty-rejected")
    refused = chat(chat_body(presence_penalty=-0.5), config)
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "message": "Invalid 'presence_penalty': this model supports values from 0 to 2, "
        "but got -0.5.",
        "type": "invalid_request_error",
        "param": "presence_penalty",
        "code": None,
    }
    assert chat(chat_body(presence_penalty=0.5), config).status_code == 200
