"""Issue 19's verdict rules, as tables: what weighs as a SHOULD, what is unsupported, what
the openai profile relaxes, and the evidence bound of a sampled check."""

from __future__ import annotations

import json

import pytest

from conformance.checks._registry import NotProvoked, Unsupported
from conformance.engine._evidence import rate_bound, samples_needed, statement, worst_case_tokens
from tests.checks._factory import SSE, exchange, judge, sse
from tests.checks.test_chunk_envelope import chunk

ENVELOPE_400 = {
    "error": {
        "message": "Unsupported parameter: 'stop' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "stop",
        "code": "unsupported_parameter",
    }
}


@pytest.mark.parametrize(
    ("probe_id", "status", "should"),
    [
        ("invalid_max_tokens_type", 200, True),  # "8" coerced: a lenient server
        ("invalid_role", 200, True),  # a custom role served
        ("invalid_max_tokens_type", 500, False),  # a 5xx stays a MUST
        ("invalid_temperature", 200, False),  # 5 is no coercible value
    ],
)
def test_a_coercible_value_served_weighs_as_a_should(probe_id, status, should):
    [finding] = judge("invalid_request_rejected", exchange(probe_id, status=status, body={}))
    assert finding.should is should


def test_a_400_naming_an_unsupported_parameter_is_unsupported_not_broken():
    refused = exchange("stop_list", status=400, body=ENVELOPE_400)
    assert isinstance(judge("stop_honoured", refused), Unsupported)
    plain = {"error": {"message": "stop is not allowed", "type": "invalid_request_error"}}
    assert not isinstance(
        judge("stop_honoured", exchange("stop_list", status=400, body=plain)), Unsupported
    )


def _naming(param):
    error = {**ENVELOPE_400["error"], "param": param}
    return {"error": {**error, "message": f"Unsupported parameter: '{param}'."}}


@pytest.mark.parametrize(
    ("check_id", "probe_id", "param", "excused"),
    [
        ("stop_honoured", "stop_list", "stop", True),
        ("sampling_bounds_accepted", "temperature_max", "temperature", True),
        # a 400 that names another parameter excuses nothing: the check's own is refused
        ("stop_honoured", "stop_list", "max_tokens", False),
        ("sampling_bounds_accepted", "temperature_max", "top_p", False),
        ("seed_accepted", "seed", "seed", False),  # seed is never the model's to refuse
    ],
)
def test_only_a_400_naming_the_judged_parameter_makes_it_unsupported(
    check_id, probe_id, param, excused
):
    result = judge(check_id, exchange(probe_id, status=400, body=_naming(param)))
    assert isinstance(result, Unsupported) is excused
    if not excused:
        [finding] = result
        assert "refused" in finding.kind


def _call_body(probe_id, arguments):
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    body = {"choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}]}
    return exchange(probe_id, body=body)


@pytest.mark.parametrize(
    ("probe_id", "should"), [("tools_named_weather", True), ("tools_strict", False)]
)
def test_arguments_off_the_parameters_are_a_must_only_under_strict(probe_id, should):
    findings = judge("tool_call_arguments", _call_body(probe_id, json.dumps({"town": "Paris"})))
    assert {(f.failure, f.should) for f in findings} == {
        ("tool-call arguments break the function's parameters", should)
    }
    # arguments that are not JSON break what every client needs, strict or not
    [broken] = judge("tool_call_arguments", _call_body(probe_id, "{town"))
    assert (broken.failure, broken.should) == ("tool-call arguments are not JSON", False)


@pytest.mark.parametrize(
    ("probe_id", "should"), [("format_json_schema", True), ("format_json_schema_strict", False)]
)
def test_json_schema_content_off_the_schema_is_a_must_only_under_strict(probe_id, should):
    message = {"role": "assistant", "content": json.dumps({"other": 1})}
    body = {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
    findings = judge("json_schema_content", exchange(probe_id, body=body))
    assert findings
    assert {f.should for f in findings} == {should}


def test_created_changing_is_a_should_under_openai_and_a_must_under_strict():
    chunks = [chunk(0, "a", created=1), chunk(0, "b", role=None, created=2, finish="stop")]
    recorded = exchange("chat_stream", body=sse(*chunks), headers=SSE)
    for profile, should in (("strict", False), ("openai", True)):
        [finding] = judge("chunk_created_stable", recorded, profile=profile)
        assert (finding.json_path, finding.should) == ("$.created", should)
    steady = exchange("chat_stream", body=sse(*[chunk(0, "a")]), headers=SSE)
    assert isinstance(judge("chunk_created_stable", steady), NotProvoked)


def test_unknown_sse_fields_are_ignored_under_openai_only():
    body = sse(chunk(0, "a", finish="stop")).replace(b"data: {", b"x-provider: 1\ndata: {", 1)
    recorded = exchange("chat_stream", body=body, headers=SSE)
    assert [f.title for f in judge("stream_framing", recorded)] == ["unknown field"]
    assert judge("stream_framing", recorded, profile="openai") == []


def test_the_bound_is_the_exact_binomial_one_and_is_stated_with_its_samples():
    assert samples_needed(0.10) == 29
    assert rate_bound(29) <= 0.10 < rate_bound(28)
    assert abs(rate_bound(100) - 3 / 100) < 0.002  # the rule of three
    assert statement(29) == "0 of 29 samples: rate below 9.8% at 95%"
    assert statement(12) == "0 of 12 samples: rate below 22% at 95%"
    # '{"messages": []}' is 16 characters: 5 tokens, 12 of template, 8 tokens for each of n: 2
    assert worst_case_tokens({"messages": [], "max_tokens": 8, "n": 2}) == 5 + 12 + 16
