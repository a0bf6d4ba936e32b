"""Requests that must be refused: without a key, with a wrong key, or breaking the schema."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.checks import get_probe
from conformance.checks._probes import INVALID
from tests.checks._factory import exchange, judge, outcomes

NOT_JSON = get_probe("chat_after_not_json").after  # the probes whose body is not JSON

ENVELOPE = {"error": {"message": "temperature must be at most 2", "type": "invalid_request_error"}}
VALIDATION = {"detail": [{"loc": ["body", "temperature"], "msg": "too big", "type": "le"}]}
STATUSES = st.integers(100, 599).filter(lambda s: s != 429)
# probe -> the title suffix, JSON path and schema path of the rule it breaks (from the contract)
RULES = {
    "invalid_temperature": (
        "breaks `maximum`: 2",
        "$.temperature",
        "#/components/schemas/ChatCompletionRequest/properties/temperature/anyOf/0/maximum",
    ),
    "invalid_n_zero": (
        "breaks `minimum`: 1",
        "$.n",
        "#/components/schemas/ChatCompletionRequest/properties/n/anyOf/0/minimum",
    ),
    "invalid_empty_messages": (
        "breaks `minItems`: 1",
        "$.messages",
        "#/components/schemas/ChatCompletionRequest/properties/messages/minItems",
    ),
    "invalid_role": (
        "value not allowed: expected ['system', 'user', 'assistant', 'tool']",
        "$.messages[0].role",
        "#/components/schemas/ChatMessageRole/enum",
    ),
    "invalid_missing_model": (
        "required property 'model' is missing",
        "$",
        "#/components/schemas/ChatCompletionRequest/required",
    ),
    "invalid_messages_type": (
        "wrong type: expected array",
        "$.messages",
        "#/components/schemas/ChatCompletionRequest/properties/messages/type",
    ),
}


@given(st.sampled_from(["no_key", "wrong_key"]), STATUSES)
def test_a_request_without_a_valid_key_must_be_refused_with_401_or_403(probe_id, status):
    check = {"no_key": "auth_missing_key_rejected", "wrong_key": "auth_invalid_key_rejected"}
    request = {"no_key": "request without a key", "wrong_key": "request with an invalid key"}
    recorded = exchange(probe_id, status=status, body=ENVELOPE)
    findings = judge(check[probe_id], recorded, expect_auth=True)
    if 200 <= status < 300:  # served: an open endpoint, unless auth is expected (issue 19)
        assert str(judge(check[probe_id], recorded)) == (
            f"endpoint is open: {request[probe_id]} was served, so no key is required; "
            "pass --expect-auth if this endpoint must require one"
        )
    if status in (401, 403):
        assert findings == []
        return
    what = "was accepted" if 200 <= status < 300 else f"was answered with {status} instead of 401"
    assert [(f.title, f.expected, f.actual) for f in findings] == [
        (f"{request[probe_id]} {what}", "401 (403 accepted)", status)
    ]


def test_each_auth_probe_is_judged_by_its_own_check_and_the_error_shape():
    recorded = exchange("no_key", status=200, body={})
    assert outcomes(recorded) == {
        "auth_missing_key_rejected": "n/a",  # served: the endpoint is open
        "error_body_shape": "n/a",
    }
    recorded = exchange("wrong_key", status=403, body={"detail": "Not authenticated"})
    assert outcomes(recorded) == {
        "auth_invalid_key_rejected": [],
        "error_body_shape": [
            (
                "the 403 error body is neither an OpenAI error envelope nor HTTPValidationError",
                "$",
                None,
            )
        ],
    }


@given(st.sampled_from(INVALID), STATUSES)
def test_a_schema_invalid_request_must_be_refused_with_a_4xx(probe_id, status):
    findings = judge("invalid_request_rejected", exchange(probe_id, status=status, body=ENVELOPE))
    if 400 <= status < 500:
        assert findings == []
        return
    if 200 <= status < 300:
        what = "schema-invalid request accepted"
    elif status >= 500:
        what = "schema-invalid request caused a server error"
    else:
        what = f"schema-invalid request answered with {status}"
    rule, json_path, schema_path = RULES[probe_id]
    [finding] = findings
    assert (finding.title, finding.json_path, finding.schema_path, finding.actual) == (
        f"{what} ({rule})",
        json_path,
        schema_path,
        status,
    )
    assert finding.expected == f"a 4xx status: the request breaks {json_path}: {rule}"


def test_the_rule_is_read_from_the_request_as_sent():
    recorded = exchange("invalid_temperature", status=200)
    recorded.request.body = {**recorded.request.body, "temperature": 1.5}
    assert str(judge("invalid_request_rejected", recorded)) == (
        "probe 'invalid_temperature' is valid against ChatCompletionRequest in this contract, "
        "so the endpoint may accept it"
    )


def test_accepted_invalid_requests_stay_apart_when_grouped():
    titles = set()
    for probe_id in INVALID:
        [finding] = judge("invalid_request_rejected", exchange(probe_id, status=200))
        titles.add((finding.title, finding.json_path))
    assert len(titles) == len(INVALID)


@pytest.mark.parametrize("probe_id", [*INVALID, "no_key", "wrong_key"])
@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, ENVELOPE),
        (401, ENVELOPE),
        (404, ENVELOPE),
        (400, VALIDATION),
        (403, VALIDATION),
        (422, VALIDATION),
        (422, ENVELOPE),
        (422, {"detail": []}),
    ],
)
def test_a_known_error_shape_passes(probe_id, status, body):
    assert judge("error_body_shape", exchange(probe_id, status=status, body=body)) == []


@pytest.mark.parametrize(
    ("status", "body", "shape"),
    [
        (
            403,
            {"detail": "Not authenticated"},
            '{"detail": <string>}, which is not HTTPValidationError '
            "($.detail: wrong type: expected array)",
        ),
        (400, {"error": "bad request"}, '{"error": <string>}'),
        (400, {"error": {"code": 400}}, '{"error": {...}} without a string "message"'),
        (400, {"message": "bad", "code": 400}, "an object with keys ['code', 'message']"),
        (400, {}, "an empty object"),
        (401, ["unauthorized"], "a JSON array"),
        (404, b'"not found"', "a JSON string"),
    ],
)
def test_an_unknown_error_shape_is_named(status, body, shape):
    [finding] = judge("error_body_shape", exchange("invalid_role", status=status, body=body))
    assert (finding.title, finding.actual, finding.schema_path) == (
        f"the {status} error body is neither an OpenAI error envelope nor HTTPValidationError",
        shape,
        "#/components/schemas/HTTPValidationError",
    )
    assert finding.expected == (
        'an OpenAI error envelope {"error": {"message": "...", ...}} '
        'or HTTPValidationError {"detail": [...]}'
    )


def test_a_422_is_judged_against_http_validation_error():
    body = {"detail": [{"loc": ["body"], "msg": "bad"}]}
    findings = judge("error_body_shape", exchange("invalid_role", status=422, body=body))
    assert [(f.title, f.json_path, f.schema_path) for f in findings] == [
        (
            "required property 'type' is missing",
            "$.detail[0]",
            "#/components/schemas/ValidationError/required",
        )
    ]


@pytest.mark.parametrize(
    ("body", "actual"),
    [
        (b"", "the body is empty"),
        (
            b"<h1>Bad Request</h1>",
            "Expecting value: line 1 column 1 (char 0): <h1>Bad Request</h1>",
        ),
    ],
)
def test_an_error_body_that_is_not_json_is_named(body, actual):
    recorded = exchange(
        "invalid_n_zero", status=400, body=body, headers={"content-type": "text/html"}
    )
    [finding] = judge("error_body_shape", recorded)
    assert (finding.title, finding.actual) == ("the 400 error body is not JSON", actual)


@pytest.mark.parametrize("status", [200, 302, 500])
def test_only_a_4xx_body_is_judged_for_its_shape(status):
    recorded = exchange("invalid_n_zero", status=status, body="oops")
    assert str(judge("error_body_shape", recorded)) == (
        f"the request was answered with status {status}, not a 4xx error"
    )


ERROR = {"error": {"message": "We could not parse the JSON body of your request."}}


@pytest.mark.parametrize("probe_id", NOT_JSON)
@pytest.mark.parametrize("status", [400, 415, 422])
def test_a_body_that_is_not_json_refused_with_a_4xx_and_a_json_body_passes(probe_id, status):
    recorded = exchange(probe_id, status=status, body=ERROR)
    assert outcomes(recorded) == {"non_json_body_rejected": []}


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (500, "a request body that is not JSON caused a server error"),
        (200, "a request body that is not JSON was served"),
        (302, "a request body that is not JSON was answered with 302"),
    ],
)
def test_a_body_that_is_not_json_must_be_refused_with_a_4xx(status, title):
    recorded = exchange("body_truncated", status=status, body="Internal Server Error", headers={})
    [finding] = judge("non_json_body_rejected", recorded)
    assert (finding.title, finding.actual) == (title, f"{status}: Internal Server Error")
    assert finding.kind == "a request body that is not JSON was not refused with a 4xx"
    assert finding.expected == (
        "a 4xx status with a JSON error body for a JSON body cut short "
        """('{"model": "conformance-model", "messages')"""
    )


def test_the_refusal_of_a_body_that_is_not_json_must_say_why_in_json():
    recorded = exchange(
        "body_empty", status=400, body="Bad Request", headers={"content-type": "text/plain"}
    )
    [finding] = judge("non_json_body_rejected", recorded)
    assert (finding.title, finding.actual) == (
        "the 400 refusal of a body that is not JSON has no JSON error body",
        "Expecting value: line 1 column 1 (char 0): Bad Request",
    )


def test_the_plain_chat_after_bodies_that_are_not_json_must_be_served():
    assert judge("non_json_body_rejected", exchange("chat_after_not_json", body={"ok": 1})) == []
    [finding] = judge(
        "non_json_body_rejected", exchange("chat_after_not_json", status=500, body=ERROR)
    )
    assert (finding.title, finding.actual) == (
        "a valid request sent after 4 non-JSON bodies caused a server error",
        "500: We could not parse the JSON body of your request.",
    )
