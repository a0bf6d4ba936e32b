"""Error answers: whole bodies, in the shapes the document and OpenAI use."""

from __future__ import annotations

import json

import pytest

from conformance.server import ServerConfig
from tests.server.helpers import MODEL, chat, chat_body, request, violations

KEY = "sk-canary-5f1e0c9d"
KEYED = ServerConfig(api_key=KEY)
MISSING_KEY = {"error": {
    "message": "You didn't provide an API key. Send it in the Authorization header: "
    "`Authorization: Bearer <key>`.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}  # fmt: skip
WRONG_KEY = {"error": {
    "message": "Incorrect API key provided. Send the key this server was started with as "
    "`Authorization: Bearer <key>`.",
    "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}  # fmt: skip


def _bearer(key):
    return {"authorization": f"Bearer {key}"}


@pytest.mark.parametrize(("path", "method"), [("/chat/completions", "POST"), ("/models", "GET")])
def test_missing_key_is_a_401_with_a_bearer_challenge(path, method):
    body = chat_body() if method == "POST" else None
    response = request(KEYED, body, method=method, path=path)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == MISSING_KEY


@pytest.mark.parametrize(
    "header",
    [f"Bearer {KEY}x", f"Bearer {KEY[:-1]}", f"Basic {KEY}", KEY, "Bearer", f"Bearer  {KEY} extra"],
)
def test_wrong_key_is_a_401_that_never_echoes_the_key(header):
    response = chat(chat_body(), KEYED, headers={"authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == WRONG_KEY
    assert KEY[:8] not in response.text


def test_right_key_is_served_and_the_scheme_is_case_insensitive():
    assert chat(chat_body(), KEYED, headers=_bearer(KEY)).status_code == 200
    assert chat(chat_body(), KEYED, headers={"authorization": f"bearer {KEY}"}).status_code == 200


def test_auth_is_checked_before_the_body():
    response = chat({"messages": "not even a list"}, KEYED)
    assert response.status_code == 401
    assert response.json() == MISSING_KEY


def test_without_a_configured_key_any_or_no_key_is_served():
    assert chat(chat_body()).status_code == 200
    assert chat(chat_body(), headers=_bearer("anything")).status_code == 200


def test_the_key_stays_out_of_the_config_repr():
    assert KEY not in repr(KEYED)


def test_unknown_model_is_a_404():
    response = chat({**chat_body(), "model": "gpt-imaginary"})
    assert response.status_code == 404
    assert response.json() == {"error": {
        "message": f"The model 'gpt-imaginary' does not exist. This server serves: {MODEL}.",
        "type": "invalid_request_error", "param": "model", "code": "model_not_found"}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (chat_body(temperature=5), [{"loc": ["body", "temperature"],
            "msg": "5 is greater than the maximum of 2", "type": "less_than_equal"}]),
        (chat_body(n=0), [{"loc": ["body", "n"],
            "msg": "0 is less than the minimum of 1", "type": "greater_than_equal"}]),
        ({"model": MODEL, "messages": []}, [{"loc": ["body", "messages"],
            "msg": "[] should be non-empty", "type": "too_short"}]),
        ({"model": MODEL, "messages": [{"role": "wizard", "content": "hi"}]},
            [{"loc": ["body", "messages", 0, "role"],
              "msg": "'wizard' is not one of ['system', 'user', 'assistant', 'tool']",
              "type": "enum"}]),
        ({"messages": [{"role": "user", "content": "hi"}]}, [{"loc": ["body", "model"],
            "msg": "'model' is a required property", "type": "missing"}]),
        ({"model": MODEL, "messages": "hi"}, [{"loc": ["body", "messages"],
            "msg": "'hi' is not of type 'array'", "type": "array_type"}]),
        ({"model": 7, "messages": [], "stream": "yes"}, [
            {"loc": ["body", "messages"], "msg": "[] should be non-empty", "type": "too_short"},
            {"loc": ["body", "model"], "msg": "7 is not of type 'string'", "type": "string_type"},
            {"loc": ["body", "stream"],
             "msg": "'yes' is not valid under any of the given schemas", "type": "union_type"}]),
        ([1, 2], [{"loc": ["body"], "msg": "[1, 2] is not of type 'object'",
            "type": "object_type"}]),
    ],
)  # fmt: skip
def test_schema_invalid_body_is_a_422_with_one_entry_per_violation(body, detail):
    response = chat(body)
    assert response.status_code == 422
    assert response.json() == {"detail": detail}
    assert violations("HTTPValidationError", response.json()) == []


@pytest.mark.parametrize(
    ("content", "msg"),
    [
        (b"{nope", "JSON decode error: Expecting property name enclosed in double quotes "
         "at line 1, column 2."),
        (b"", "JSON decode error: Expecting value at line 1, column 1."),
        (b'{"n": NaN}', "JSON decode error: NaN is not a JSON value."),
        (b'{"a": "\xff"}', "JSON decode error: the body is not UTF-8 (invalid start byte "
         "at byte 7)."),
        (b"\xff\xfe{\x00}\x00", "JSON decode error: the body is not UTF-8 (invalid start "
         "byte at byte 0)."),
        (b'\xef\xbb\xbf{"a": 1}', "JSON decode error: Unexpected UTF-8 BOM (decode using "
         "utf-8-sig) at line 1, column 1."),
    ],
)  # fmt: skip
def test_body_that_is_not_json_is_a_422(content, msg):
    response = chat(None, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json() == {"detail": [{"loc": ["body"], "msg": msg, "type": "json_invalid"}]}


def test_wrong_content_type_is_a_422():
    response = chat(None, content=b'{"model": "m"}', headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert response.json() == {"detail": [{
        "loc": ["body"], "msg": "Content-Type must be application/json, not 'text/plain'.",
        "type": "content_type"}]}  # fmt: skip


def test_json_without_a_content_type_is_read_as_json():
    response = chat(None, content=json.dumps(chat_body()).encode(), headers={"content-type": ""})
    assert response.status_code == 422  # an empty Content-Type is a wrong one
    response = request(None, None, content=json.dumps(chat_body()).encode())
    assert response.status_code == 200


def test_unknown_path_is_a_404_and_wrong_method_a_405():
    response = request(None, None, method="GET", path="/completions")
    assert response.status_code == 404
    assert response.json() == {"error": {
        "message": "No route for '/v1/completions'. This server answers "
        "POST /v1/chat/completions and GET /v1/models.",
        "type": "invalid_request_error", "param": None, "code": "not_found"}}  # fmt: skip
    response = request(None, None, method="GET", path="/chat/completions")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"error": {
        "message": "Method GET is not allowed on '/v1/chat/completions'; use POST.",
        "type": "invalid_request_error", "param": None, "code": "method_not_allowed"}}  # fmt: skip


def test_a_body_over_32_mib_is_a_413():
    content = b'{"model": "m", "pad": "' + b"x" * (32 * 1024 * 1024) + b'"}'
    response = chat(None, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": {
        "message": "The request body is larger than 33554432 bytes; send a smaller one.",
        "type": "invalid_request_error", "param": None, "code": "request_too_large"}}  # fmt: skip
