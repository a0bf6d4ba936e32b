"""When to send a request again, and how long to wait first.

A 429 or a 502/503/504 (or a connection dropped before any response) is retried a bounded
number of times. The wait is what the endpoint said (``retry-after-ms``, ``Retry-After`` in
seconds or as an HTTP date, or the ``x-ratelimit-reset-*`` of an exhausted limit) plus a
little jitter, else exponential backoff with full jitter. A wait longer than
``RetryPolicy.max_wait`` is not honoured: the request gives up at once (ERROR, inconclusive).

The loop itself is tenacity's (stop, wait and retry conditions composed), with our own wait
that reads the endpoint's headers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Generic, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_random_exponential

from conformance._errors import ConfigError
from conformance.wire._units import parse_go_duration

RETRY_STATUSES = frozenset({429, 502, 503, 504})
NOT_RETRIED = "not retried: "  # the retry note of an attempt given up on at once
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more attempts after the first; single waits above ``max_wait`` give up."""

    retries: int = 3
    max_wait: float = 60.0  # seconds: the longest wait the endpoint may ask for
    backoff: float = 0.5  # seconds: the first backoff when the endpoint says nothing
    backoff_cap: float = 8.0

    def __post_init__(self) -> None:
        if not 0 <= self.retries <= 20:
            raise ConfigError(f"--retries {self.retries} must be between 0 and 20.")
        if not self.max_wait >= 0:
            raise ConfigError(f"--max-retry-wait {self.max_wait!r} must be 0 or more seconds.")

    @property
    def attempts(self) -> int:
        return self.retries + 1


def told_wait(headers: Mapping[str, str], now: datetime | None = None) -> tuple[float, str] | None:
    """How long the endpoint asked us to wait, in seconds, and the header that said so.

    ``retry-after-ms`` first (OpenAI's), then ``Retry-After`` (delay-seconds or HTTP-date,
    RFC 9110 section 10.2.3), then ``x-ratelimit-reset-*`` of a limit whose ``remaining`` is
    0 (the longest of those), else the shortest reset given.
    """
    lower = {k.lower(): v.strip() for k, v in headers.items()}
    millis = lower.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000), f"retry-after-ms: {millis}"
        except ValueError:
            pass
    after = lower.get("retry-after")
    if after is not None:
        seconds = _retry_after(after, now or datetime.now(UTC))
        if seconds is not None:
            return seconds, f"Retry-After: {after}"
    resets: list[tuple[float, str, bool]] = []
    for name, value in lower.items():
        if not name.startswith("x-ratelimit-reset-"):
            continue
        seconds = parse_go_duration(value)
        if seconds is None:
            continue
        limit = name.removeprefix("x-ratelimit-reset-")
        spent = lower.get(f"x-ratelimit-remaining-{limit}", "").strip() == "0"
        resets.append((seconds, f"{name}: {value}", spent))
    exhausted = [r for r in resets if r[2]]
    if exhausted:
        seconds, said, _ = max(exhausted)
        return seconds, said
    if resets:
        seconds, said, _ = min(resets)
        return seconds, said
    return None


def _retry_after(value: str, now: datetime) -> float | None:
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class Attempt(Generic[T]):
    """One attempt's result, and why it should be retried (``None``: it should not)."""

    result: T
    retry_because: str | None = None
    headers: Mapping[str, str] | None = None  # the response headers, for a told wait


@dataclass(frozen=True)
class RetryNote:
    """What happened to an attempt that was retried, for the evidence."""

    attempt: int
    because: str
    waited_s: float
    told: str  # the header that set the wait, or "" for backoff


class _TooLong(stop_base):
    """Stop when the endpoint asks for a wait longer than the policy allows."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> bool:
        told = _told_of(retry_state)
        return told is not None and told[0] > self.policy.max_wait


def _told_of(retry_state: RetryCallState) -> tuple[float, str] | None:
    outcome = retry_state.outcome
    if outcome is None or outcome.failed:
        return None
    attempt = outcome.result()
    headers = attempt.headers if isinstance(attempt, Attempt) else None
    return told_wait(headers) if headers else None


async def with_retries(
    policy: RetryPolicy,
    send: Callable[[], Awaitable[Attempt[T]]],
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    jitter: Callable[[float, float], float] = random.uniform,
) -> tuple[Attempt[T], list[RetryNote], str | None]:
    """Call ``send`` until an attempt needs no retry or the policy says stop.

    Returns the last attempt, a note per retried attempt, and why retrying stopped early
    (a wait longer than ``max_wait``), if it did.
    """
    notes: list[RetryNote] = []
    backoff = wait_random_exponential(multiplier=policy.backoff, max=policy.backoff_cap)

    def wait(retry_state: RetryCallState) -> float:
        told = _told_of(retry_state)
        if told is not None:
            seconds, said = told
            # As told, never sooner; up to 10% (at most 1 s) later, so that the requests
            # that were refused together do not all come back at the same instant.
            seconds += jitter(0.0, min(1.0, 0.1 * seconds + 0.01))
        else:
            seconds, said = backoff(retry_state), ""
        attempt = retry_state.outcome.result() if retry_state.outcome else None
        because = attempt.retry_because if isinstance(attempt, Attempt) else None
        notes.append(RetryNote(retry_state.attempt_number, because or "?", seconds, said))
        return seconds

    retrying: AsyncRetrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts) | _TooLong(policy),
        wait=wait,
        retry=retry_if_result(lambda a: isinstance(a, Attempt) and a.retry_because is not None),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        sleep=sleep,
        reraise=True,
    )
    last: Attempt[T] = await retrying(send)
    gave_up = None
    if last.retry_because is not None and last.headers:
        told = told_wait(last.headers)
        if told is not None and told[0] > policy.max_wait:
            gave_up = (
                f"the endpoint asked to wait {told[0]:g}s ({told[1]}), longer than "
                f"--max-retry-wait {policy.max_wait:g}s"
            )
    return last, notes, gave_up


def not_retried(notes: Sequence[str]) -> str | None:
    """Why the last attempt was not retried (a wait longer than allowed), from an exchange's
    retry notes; None when retrying did not stop early."""
    if notes and notes[-1].startswith(NOT_RETRIED):
        return notes[-1].removeprefix(NOT_RETRIED)
    return None


def status_reason(status: int) -> str:
    """``503 Service Unavailable``: the status with its standard reason phrase, if any."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
