"""The extension's reading of a schemathesis response: our Exchange, and our findings as
schemathesis failures. Plain data: a schemathesis ``Response`` built as its transports build it."""

from __future__ import annotations

import json

import pytest
import requests
from schemathesis import Response
from schemathesis.core.failures import Severity

from conformance.contrib.schemathesis import (
    ConformanceFailure,
    exchange_from_response,
    failures_for,
)

KEY = "sk-unit-schemathesis-77aa"
URL = "http://127.0.0.1:9/v1/chat/completions"


def _chunk(index: int, delta: dict, finish: str | None = None) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "system_fingerprint": "fp",
        "usage": None,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def _stream(*chunks: dict, done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return out + (b"data: [DONE]\n\n" if done else b"")


def _response(
    content: bytes,
    *,
    body: dict | None = None,
    content_type: str = "application/json",
    status: int = 200,
    cut_short: bool = False,
) -> Response:
    sent = (
        body
        if body is not None
        else {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )
    request = requests.Request(
        "POST",
        URL,
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        data=json.dumps(sent),
    ).prepare()
    return Response(
        status_code=status,
        headers={"Content-Type": [content_type]},
        content=content,
        request=request,
        elapsed=0.01,
        verify=True,
        stream_cut_short=cut_short,
    )


STREAM_BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
GOOD = (
    _chunk(0, {"role": "assistant", "content": ""}),
    _chunk(1, {"role": "assistant", "content": "a"}),  # the strict profile: role in every delta
    _chunk(2, {"role": "assistant", "content": "b"}),
    _chunk(3, {"role": "assistant"}, "stop"),
)


def _completion(usage: dict) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "system_fingerprint": "fp",
            "service_tier": "default",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hello"},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": usage,
        }
    ).encode()


def test_a_stream_is_decoded_whole_by_our_decoder():
    response = _response(_stream(*GOOD), body=STREAM_BODY, content_type="text/event-stream")
    exchange = exchange_from_response(response)
    assert exchange.streamed
    assert [e.data for e in exchange.events][-1] == "[DONE]"
    assert len(exchange.data_events()) == 4
    assert exchange.framing == []
    assert exchange.request.body == STREAM_BODY
    assert exchange.status == 200


def test_the_key_is_redacted_in_the_exchange():
    exchange = exchange_from_response(_response(_completion({})))
    assert KEY not in json.dumps(exchange.to_dict())
    assert exchange.request.headers["authorization"] == "Bearer [REDACTED]"


def test_a_conforming_stream_and_body_yield_no_failure():
    stream = _response(_stream(*GOOD), body=STREAM_BODY, content_type="text/event-stream")
    assert failures_for(exchange_from_response(stream)) == []
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    assert failures_for(exchange_from_response(_response(_completion(usage)))) == []


def test_a_bad_chunk_late_in_the_stream_is_found_with_its_event():
    late = {**GOOD[3], "object": "chat.completion"}
    response = _response(
        _stream(*GOOD[:3], late), body=STREAM_BODY, content_type="text/event-stream"
    )
    failures = failures_for(exchange_from_response(response), operation="POST /x")
    by_check = {f.finding.check_id: f for f in failures}
    assert "chunk_schema" in by_check
    failure = by_check["chunk_schema"]
    assert isinstance(failure, ConformanceFailure)
    assert failure.finding.chunk_index == 3
    assert failure.operation == "POST /x"
    assert "Stream event: #3" in failure.message


def test_a_missing_terminator_is_a_framing_failure():
    response = _response(
        _stream(*GOOD, done=False), body=STREAM_BODY, content_type="text/event-stream"
    )
    ids = {f.finding.check_id for f in failures_for(exchange_from_response(response))}
    assert ids == {"stream_done_terminator"}


def test_a_stream_cut_short_by_schemathesis_is_not_blamed_for_its_last_event():
    raw = _stream(*GOOD) + b'data: {"unfinished'
    cut = exchange_from_response(
        _response(raw, body=STREAM_BODY, content_type="text/event-stream", cut_short=True)
    )
    whole = exchange_from_response(
        _response(raw, body=STREAM_BODY, content_type="text/event-stream")
    )
    assert cut.framing == []
    assert [p.title for p in whole.framing] == [
        "stream ended inside an event (no blank line after the last event)"
    ]


def test_usage_arithmetic_reads_like_a_schemathesis_failure():
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 5}
    (failure,) = failures_for(exchange_from_response(_response(_completion(usage))))
    assert failure.code == "ST901"
    assert failure.severity is Severity.HIGH
    assert failure.title == (
        "usage_arithmetic: usage.total_tokens is not prompt_tokens + completion_tokens"
    )
    assert failure.message == (
        "Check: usage_arithmetic (MUST, usage): Usage adds up: total_tokens = prompt_tokens"
        " + completion_tokens\n"
        "JSON path: $.usage.total_tokens\n"
        "Spec: #/components/schemas/Usage/properties/total_tokens\n"
        "Expected: 4\n"
        "Actual: 5"
    )


@pytest.mark.parametrize("status", [200, 500])
def test_an_invalid_request_is_judged_by_the_error_checks(status):
    invalid = {"model": "m", "messages": [], "temperature": 9}
    failures = failures_for(
        exchange_from_response(_response(_completion({}), body=invalid, status=status))
    )
    if status == 500:  # schemathesis's own not_a_server_error reports it
        assert failures == []
    else:
        assert {f.finding.check_id for f in failures} == {"invalid_request_rejected"}


def test_a_valid_request_refused_is_judged_by_its_error_body_only():
    response = _response(b"<html>no</html>", content_type="text/html", status=401)
    failures = failures_for(exchange_from_response(response))
    assert {f.finding.check_id for f in failures} == {"error_body_shape"}
