"""The rules of waiting and retrying, as pure functions: what each header means, how long
each wait is, when to stop; the rate limiter's spacing on a fake clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from conformance._errors import ConfigError
from conformance.wire._ratelimit import RateLimiter
from conformance.wire._retry import Attempt, RetryPolicy, told_wait, with_retries
from conformance.wire._units import parse_duration, parse_go_duration, parse_rate

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, (7.0, "Retry-After: 7")),
        ({"retry-after": "0"}, (0.0, "Retry-After: 0")),
        (
            {"Retry-After": "Fri, 02 Jan 2026 03:04:35 GMT"},
            (30.0, "Retry-After: Fri, 02 Jan 2026 03:04:35 GMT"),
        ),
        (
            {"Retry-After": "Fri, 02 Jan 2026 03:00:00 GMT"},
            (0.0, "Retry-After: Fri, 02 Jan 2026 03:00:00 GMT"),
        ),
        ({"retry-after-ms": "250", "retry-after": "9"}, (0.25, "retry-after-ms: 250")),
        (
            {
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1m30s",
                "x-ratelimit-remaining-tokens": "500",
                "x-ratelimit-reset-tokens": "20ms",
            },
            (90.0, "x-ratelimit-reset-requests: 1m30s"),
        ),
        (
            {"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "150ms"},
            (0.15, "x-ratelimit-reset-tokens: 150ms"),
        ),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_what_the_endpoint_told_us_to_wait(headers, expected):
    assert told_wait(headers, NOW) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("1h2m3.5s", 3723.5), ("20ms", 0.02), ("3", 3.0), ("x", None)],
)
def test_go_durations(text, seconds):
    assert parse_go_duration(text) == seconds


def test_durations_and_rates_as_users_write_them():
    assert parse_duration("300ms", "--latency") == pytest.approx(0.3)
    assert parse_duration("1.5s", "--latency") == 1.5
    assert parse_duration("2", "--latency") == 2.0
    assert parse_rate("60/m") == (60, 60.0)
    assert parse_rate("100/10s") == (100, 10.0)
    with pytest.raises(ConfigError) as caught:
        parse_duration("fast", "--latency")
    assert str(caught.value) == (
        "--latency 'fast' is not a duration; write a number with a unit, for example 300ms, "
        "1.5s or 2m (a bare number is seconds)."
    )
    with pytest.raises(ConfigError) as caught:
        parse_rate("60 per minute")
    assert str(caught.value) == (
        "--rate-limit '60 per minute' is not a rate; write requests per unit, for example "
        "60/m (60 a minute), 5/s or 100/10s."
    )


def run_retries(policy, answers, jitter=lambda a, b: b):
    """Feed ``answers`` (retry reason, headers) to with_retries; record the sleeps."""
    slept: list[float] = []
    sent: list[int] = []

    async def sleep(seconds):
        slept.append(seconds)

    async def send():
        sent.append(1)
        because, headers = answers[min(len(sent), len(answers)) - 1]
        return Attempt(len(sent), because, headers)

    last, notes, gave_up = asyncio.run(with_retries(policy, send, sleep=sleep, jitter=jitter))
    return last.result, slept, notes, gave_up


def test_told_waits_are_kept_with_jitter_added_never_taken_away():
    policy = RetryPolicy(retries=3)
    answers = [("429", {"retry-after": "2"}), ("429", {"retry-after": "1"}), (None, None)]
    result, slept, notes, gave_up = run_retries(policy, answers)
    assert result == 3
    assert slept == [pytest.approx(2 + 0.21), pytest.approx(1 + 0.11)]
    assert [(n.attempt, n.told) for n in notes] == [(1, "Retry-After: 2"), (2, "Retry-After: 1")]
    assert gave_up is None
    _, slept, _, _ = run_retries(policy, answers, jitter=lambda a, b: a)
    assert slept == [2.0, 1.0]


def test_backoff_without_a_hint_is_jittered_exponential_and_bounded():
    policy = RetryPolicy(retries=5, backoff=0.5, backoff_cap=2.0)
    result, slept, notes, _ = run_retries(policy, [("503", None)])
    assert result == 6  # every attempt refused: the last one is returned
    assert len(slept) == 5
    assert all(0 <= s <= 2.0 for s in slept)
    assert all(n.told == "" for n in notes)


def test_a_wait_longer_than_allowed_stops_at_once():
    policy = RetryPolicy(retries=3, max_wait=10)
    result, slept, _, gave_up = run_retries(policy, [("429", {"retry-after": "3600"})])
    assert result == 1
    assert slept == []
    assert gave_up == (
        "the endpoint asked to wait 3600s (Retry-After: 3600), longer than --max-retry-wait 10s"
    )


def test_no_retries_means_one_attempt():
    result, slept, _, _ = run_retries(RetryPolicy(retries=0), [("429", {"retry-after": "1"})])
    assert (result, slept) == (1, [])


def test_retry_settings_out_of_range_name_the_option():
    with pytest.raises(ConfigError, match=r"^--retries 21 must be between 0 and 20\.$"):
        RetryPolicy(retries=21)


def test_the_rate_limiter_spaces_requests_evenly_with_no_burst():
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds):
        slept.append(seconds)

    limiter = RateLimiter(60, 60.0, clock=lambda: now[0], sleep=sleep)

    async def five():
        await asyncio.gather(*(limiter.acquire() for _ in range(5)))

    asyncio.run(five())
    assert sorted(slept) == [1.0, 2.0, 3.0, 4.0]  # the first goes at once
    assert limiter.waited_s == 10.0
    assert limiter.describe() == "60 per 60s (one every 1s)"
    now[0] = 200.0  # long after: the next slot is free again
    slept.clear()
    asyncio.run(five())
    assert sorted(slept) == [1.0, 2.0, 3.0, 4.0]
