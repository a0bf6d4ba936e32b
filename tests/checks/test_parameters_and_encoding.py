"""optional_parameters_accepted and gzip_decoded on exchanges built as the client records them."""

from __future__ import annotations

import pytest

from conformance.checks import Unsupported, get_probe
from conformance.checks._model import Finding
from tests.checks._factory import JSON, MODEL, SSE, exchange, judge, sse

COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": MODEL,
    "choices": [],
}
NOT_GZIP = (
    "the body declared Content-Encoding: gzip but is not gzip data (Error -3 while "
    "decompressing data: incorrect header check); the rest is kept as received"
)


def test_the_probe_sends_every_optional_parameter_and_the_query():
    probe = get_probe("optional_parameters")
    body = probe.body(MODEL)
    optional = ("store", "user", "logit_bias", "extra_body", "service_tier")
    assert {k: body[k] for k in optional} == {
        "store": False,
        "user": "conformance-suite",
        "logit_bias": {"50256": 0},
        "extra_body": {},
        "service_tier": "auto",
    }
    assert dict(probe.query) == {"ai_project_id": "conformance"}


def test_served_optional_parameters_pass():
    assert (
        judge("optional_parameters_accepted", exchange("optional_parameters", body=COMPLETION))
        == []
    )


def test_a_proper_4xx_declares_them_unsupported():
    error = {"error": {"message": "Unrecognized request argument supplied: store"}}
    outcome = judge(
        "optional_parameters_accepted", exchange("optional_parameters", status=400, body=error)
    )
    assert isinstance(outcome, Unsupported)
    assert str(outcome) == (
        "the endpoint declined store, user, logit_bias, extra_body, service_tier and the query "
        "parameter ai_project_id (400: Unrecognized request argument supplied: store)"
    )


@pytest.mark.parametrize("status", [500, 502])
def test_a_server_error_is_a_finding(status):
    findings = judge(
        "optional_parameters_accepted",
        exchange("optional_parameters", status=status, body="Internal Server Error",
                 headers={"content-type": "text/plain"}),
    )  # fmt: skip
    assert findings == [
        Finding(
            title="a valid request with store, user, logit_bias, extra_body, service_tier and "
            f"the query parameter ai_project_id was answered with {status}",
            json_path="$",
            expected="a 2xx answer: the request is valid against ChatCompletionRequest",
            actual=f"{status}: Internal Server Error",
            schema_path="#/components/schemas/ChatCompletionRequest",
        )
    ]


@pytest.mark.parametrize(
    ("probe_id", "headers", "body"),
    [
        ("chat", JSON, COMPLETION),
        ("chat", {**JSON, "content-encoding": "gzip"}, COMPLETION),  # decoded by the client
        ("chat_stream", SSE, sse({"id": "c1"})),
    ],
)
def test_a_body_that_decoded_passes(probe_id, headers, body):
    assert judge("gzip_decoded", exchange(probe_id, headers=headers, body=body)) == []


@pytest.mark.parametrize("probe_id", ["chat", "chat_stream_usage"])
def test_a_body_that_did_not_decode_is_a_finding(probe_id):
    recorded = exchange(probe_id, headers={**JSON, "content-encoding": "gzip"}, body=COMPLETION)
    recorded.decoding = NOT_GZIP
    assert judge("gzip_decoded", recorded) == [
        Finding(
            title="the body does not decode as its Content-Encoding (gzip) declares",
            expected="a body encoded as Content-Encoding: gzip says (the request sent "
            "Accept-Encoding: gzip, deflate)",
            actual=NOT_GZIP,
        )
    ]


def test_an_error_answer_that_did_not_decode_is_a_finding_too():
    recorded = exchange("chat", status=503, headers={**JSON, "content-encoding": "br"}, body=b"?")
    recorded.decoding = "Content-Encoding 'br' was not asked for"
    [finding] = judge("gzip_decoded", recorded)
    assert finding.title == "the body does not decode as its Content-Encoding (br) declares"
