"""Usage arithmetic on any numbers, and the status and media type of a valid request."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.wire._exchange import MAX_PLAUSIBLE_TOKENS
from tests.checks._factory import SSE, exchange, judge, sse

BASE = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "service_tier": "default",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ok"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
}
COUNT = st.integers(-(2**70), 2**70)
TOTAL = "usage.total_tokens is not prompt_tokens + completion_tokens"


def usage_of(prompt, completion, total, **more):
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total, **more}


def arithmetic(usage):
    findings = judge("usage_arithmetic", exchange("chat", body={**BASE, "usage": usage}))
    return [(f.title, f.json_path, f.expected, f.actual) for f in findings]


def bad_count(name, value):
    return (
        f"usage.{name} is not a non-negative integer",
        f"$.usage.{name}",
        "a non-negative integer",
        value,
    )


@given(COUNT, COUNT, COUNT)
def test_usage_is_judged_by_its_arithmetic_alone(prompt, completion, total):
    found = arithmetic(usage_of(prompt, completion, total))
    negative = [
        bad_count(n, v)
        for n, v in (
            ("prompt_tokens", prompt),
            ("completion_tokens", completion),
            ("total_tokens", total),
        )
        if v < 0
    ]
    if negative:
        assert found == negative
        return
    counts = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}
    huge = [implausible(n, v) for n, v in counts.items() if v > MAX_PLAUSIBLE_TOKENS]
    if total == prompt + completion:
        assert found == huge
    else:
        assert found == [*huge, (TOTAL, "$.usage.total_tokens", prompt + completion, total)]


def implausible(name, value):
    digits = (
        str(value) if len(str(value)) <= 12 else f"{str(value)[:6]}... ({len(str(value))} digits)"
    )
    return (
        f"usage.{name} is more tokens than any model's context holds",
        f"$.usage.{name}",
        "at most 10000000 (the largest context window)",
        digits,
    )


def test_a_count_beyond_any_context_window_is_a_finding_and_never_billed():
    """10^30 prompt tokens (a hostile endpoint's count) is named by its size; the budget
    charges an estimate instead (Exchange.usage has no count to give)."""
    usage = usage_of(10**30, 5, 10**30 + 5)
    assert arithmetic(usage) == [
        (
            "usage.prompt_tokens is more tokens than any model's context holds",
            "$.usage.prompt_tokens",
            "at most 10000000 (the largest context window)",
            "100000... (31 digits)",
        ),
        (
            "usage.total_tokens is more tokens than any model's context holds",
            "$.usage.total_tokens",
            "at most 10000000 (the largest context window)",
            "100000... (31 digits)",
        ),
    ]
    assert exchange("chat", body={**BASE, "usage": usage}).usage() is None
    assert exchange("chat", body={**BASE, "usage": usage_of(10**7, 0, 10**7)}).usage() == (
        10**7,
        0,
    )


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(1, 10**6))
def test_a_total_that_is_off_by_anything_is_one_finding(prompt, completion, off):
    total = prompt + completion
    assert arithmetic(usage_of(prompt, completion, total)) == []
    assert arithmetic(usage_of(prompt, completion, total + off)) == [
        (TOTAL, "$.usage.total_tokens", total, total + off)
    ]
    assert arithmetic(usage_of(prompt, completion, total, prompt_tokens_details=None)) == []


@pytest.mark.parametrize("value", [True, 1.0, "3", None])
def test_a_count_that_is_not_an_integer_is_named_and_nothing_is_added_up(value):
    assert arithmetic(usage_of(1, value, 2)) == [bad_count("completion_tokens", value)]


def test_a_missing_count_is_named():
    assert arithmetic({"prompt_tokens": 1, "total_tokens": 1}) == [
        bad_count("completion_tokens", "(missing)")
    ]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({**BASE}, "the response body carries no usage object; see response_schema"),
        ({**BASE, "usage": None}, "the response body carries no usage object; see response_schema"),
        ("{", "the response body is not JSON; see response_schema"),
    ],
)
def test_a_body_without_usage_is_left_to_response_schema(body, why):
    assert str(judge("usage_arithmetic", exchange("chat", body=body))) == why


def test_a_stream_is_judged_on_the_last_chunk_that_carries_usage():
    chunk = {"id": "c", "choices": []}
    body = sse(
        {**chunk, "usage": usage_of(1, 1, 5)},
        {**chunk, "usage": usage_of(2, 3, 5)},
        {**chunk, "usage": None},
    )
    assert judge("usage_arithmetic", exchange("chat_stream_usage", body=body, headers=SSE)) == []
    body = sse({**chunk, "usage": usage_of(2, 3, 5)}, {**chunk, "usage": usage_of(2, 3, 6)})
    [finding] = judge("usage_arithmetic", exchange("chat_stream_usage", body=body, headers=SSE))
    assert (finding.title, finding.chunk_index, finding.expected, finding.actual) == (
        TOTAL,
        1,
        5,
        6,
    )


@pytest.mark.parametrize("status", [100, 201, 204, 301, 400, 404, 500, 503])
@pytest.mark.parametrize("probe_id", ["chat", "chat_stream", "chat_stream_usage"])
def test_a_valid_request_must_be_answered_with_200(probe_id, status):
    assert judge("success_status", exchange(probe_id, status=200)) == []
    [finding] = judge("success_status", exchange(probe_id, status=status))
    assert (finding.title, finding.expected, finding.actual) == (
        f"a valid request was answered with {status}, not 200",
        200,
        status,
    )


@pytest.mark.parametrize(
    ("content_type", "title"),
    [
        ("application/json", None),
        ("application/json; charset=utf-8", None),
        ("Application/JSON", None),
        ("text/event-stream", "a request without stream: true answered as an event stream"),
        ("text/plain", "Content-Type is not application/json"),
        ("application/x-ndjson", "Content-Type is not application/json"),
        (None, "the answer has no Content-Type"),
    ],
)
def test_a_plain_answer_must_be_application_json(content_type, title):
    headers = {} if content_type is None else {"content-type": content_type}
    findings = judge(
        "json_content_type", exchange("chat", body=BASE, headers=headers, streamed=False)
    )
    expected = [] if title is None else [(title, "application/json", content_type or "(none)")]
    assert [(f.title, f.expected, f.actual) for f in findings] == expected


def test_media_types_are_not_judged_on_an_error():
    assert str(
        judge(
            "json_content_type", exchange("chat", status=404, headers={"content-type": "text/html"})
        )
    ) == ("the request was answered with status 404; see success_status")
