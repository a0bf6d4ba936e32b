"""Every fault of a live endpoint, from the reference server's switches over a real socket:
each becomes a fault in the results and an ERROR (never a FAIL) for the checks that judge
it, or a recovered retry; the rest of the run goes on."""

from __future__ import annotations

import json
import time

import pytest

from conformance.checks import get_check
from conformance.checks._model import Verdict
from conformance.server import FAULTS
from conformance.wire._client import Timeouts
from conformance.wire._latency import figures
from tests.live.helpers import FAST, KEY, runner

pytestmark = pytest.mark.e2e

STREAM_CHECKS = ("chunk_schema", "stream_done_terminator")
PLAIN_CHECKS = ("response_schema", "usage_arithmetic")


def faults_by_probe(run):
    return {f.exchange: f for f in run.faults()}


def test_every_fault_switch_is_covered_here():
    tested = {
        "rate-limit", "rate-limit-date", "rate-limit-reset", "rate-limit-always",
        "server-errors", "gateway-html", "reset-mid-stream", "stall-mid-stream",
        "endless-stream", "invalid-utf8", "huge-body", "echo-auth",
        "error-event-mid-stream", "error-body-200",
    }  # fmt: skip
    assert set(FAULTS) == tested


def test_retry_after_seconds_is_waited_as_told_then_the_check_concludes():
    with runner("rate-limit") as run:
        started = time.perf_counter()
        results = run.fetch(["chat"])
        elapsed = time.perf_counter() - started
        [exchange] = results
        assert exchange.status == 200
        assert exchange.attempts == 2
        [note] = exchange.retries
        assert note.startswith("attempt 1: 429 Too Many Requests; waited 1.")
        assert note.endswith("s as told (Retry-After: 1)")
        assert 1.0 <= elapsed < 2.5
        waited = float(note.split("waited ")[1].split("s")[0])
        assert exchange.retry_wait_s == pytest.approx(waited, abs=0.005)
        assert figures([exchange])["retry_wait_s"]["max"] == round(exchange.retry_wait_s, 3)
        [fault] = run.faults()
        assert (fault.exchange, fault.kind, fault.recovered, fault.attempts) == (
            "chat", "rate-limited", True, 2,
        )  # fmt: skip
        assert run.requests_sent == 2


def test_retry_after_as_an_http_date_is_waited_until_that_moment():
    with runner("rate-limit-date") as run:
        [exchange] = run.fetch(["chat"])
        assert exchange.status == 200
        assert exchange.attempts == 2
        assert "as told (Retry-After: " in exchange.retries[0]
        assert exchange.retries[0].endswith(" GMT)")
        waited = float(exchange.retries[0].split("waited ")[1].split("s")[0])
        assert 0.0 <= waited <= 1.2


def test_x_ratelimit_reset_of_the_exhausted_limit_sets_the_wait():
    with runner("rate-limit-reset") as run:
        exchanges = run.fetch(["chat", "chat_stream", "chat_stream_usage"])
        assert [e.status for e in exchanges] == [200, 200, 200]
        for exchange in exchanges:
            [note] = exchange.retries
            assert "as told (x-ratelimit-reset-requests: 50ms)" in note
            waited = float(note.split("waited ")[1].split("s")[0])
            assert 0.05 <= waited <= 0.1
        verdicts = {c: run.evaluate(get_check(c)).verdict for c in (*STREAM_CHECKS, *PLAIN_CHECKS)}
        assert set(verdicts.values()) == {Verdict.PASS}


def test_a_429_that_never_ends_is_error_with_bounded_attempts_never_fail():
    with runner("rate-limit-always") as run:
        result = run.evaluate(get_check("response_schema"))
        assert result.verdict is Verdict.ERROR
        assert result.reason.startswith(
            "chat: rate limited: 429 Too Many Requests after 4 attempts; nothing can be concluded"
        )
        attempts = {e.id: e.attempts for e in run.exchanges}
        assert set(attempts.values()) == {4}
        assert run.requests_sent == 4 * len(attempts)
        assert {f.exchange for f in run.faults()} == set(attempts)
        fault = faults_by_probe(run)["chat"]
        assert (fault.kind, fault.recovered, fault.attempts) == ("rate-limited", False, 4)
        assert fault.message.startswith("429 Too Many Requests after 4 attempt(s): attempt 1: 429")


def test_a_retry_after_longer_than_allowed_gives_up_at_once():
    from conformance.wire._retry import RetryPolicy

    with runner("rate-limit", retry=RetryPolicy(retries=3, max_wait=0.5)) as run:
        started = time.perf_counter()
        [exchange] = run.fetch(["chat"])
        assert time.perf_counter() - started < 0.9
        assert exchange.status == 429
        assert exchange.attempts == 1
        assert exchange.retries == [
            "not retried: the endpoint asked to wait 1s (Retry-After: 1), longer than "
            "--max-retry-wait 0.5s"
        ]
        result = run.evaluate(get_check("response_schema"))
        assert result.verdict is Verdict.ERROR
        assert result.reason.startswith(
            "chat: rate limited: 429 Too Many Requests (the endpoint asked to wait 1s "
            "(Retry-After: 1), longer than --max-retry-wait 0.5s); nothing can be concluded; "
        )


def test_a_5xx_burst_is_retried_with_backoff_and_recovers():
    with runner("server-errors") as run:
        [exchange] = run.fetch(["chat"])
        assert exchange.status == 200
        assert exchange.attempts == 3
        assert [n.split(";")[0] for n in exchange.retries] == [
            "attempt 1: 503 Service Unavailable",
            "attempt 2: 503 Service Unavailable",
        ]
        assert all(n.endswith("(backoff)") for n in exchange.retries)
        fault = faults_by_probe(run)["chat"]
        assert (fault.kind, fault.recovered, fault.attempts) == ("server-error", True, 3)


def test_a_gateway_html_page_on_streams_is_error_and_the_plain_checks_still_pass():
    with runner("gateway-html") as run:
        stream = run.evaluate(get_check("chunk_schema"))
        plain = run.evaluate(get_check("response_schema"))
        assert plain.verdict is Verdict.PASS
        assert stream.verdict is Verdict.ERROR
        assert stream.reason.startswith(
            "chat_stream: server unavailable: 502 Bad Gateway (an HTML error page) after 4 "
            "attempts; nothing can be concluded"
        )
        fault = faults_by_probe(run)["chat_stream"]
        assert (fault.kind, fault.recovered) == ("gateway-error-page", False)


@pytest.mark.parametrize(
    ("fault", "kind", "error_start"),
    [
        (
            "reset-mid-stream",
            "connection-reset",
            "the server broke the HTTP exchange while the body was being read",
        ),
        ("stall-mid-stream", "stalled", "stream stalled: no data for 0.3s after 2 events"),
        ("endless-stream", "total-timeout", "stream exceeded the total timeout of 0.8s"),
    ],
)
def test_a_stream_cut_stalled_or_endless_is_a_fault_and_an_error_and_the_run_goes_on(
    fault, kind, error_start
):
    with runner(fault) as run:
        # The plain answers first: an endless stream keeps the server's loop busy until it
        # sees the client go, which on a loaded machine pushed the plain requests past this
        # runner's 0.8 s total timeout (seen once in a full run beside two busy loops).
        plain = run.evaluate(get_check("response_schema"))
        started = time.perf_counter()
        stream = run.evaluate(get_check("chunk_schema"))
        assert time.perf_counter() - started < 4
        assert plain.verdict is Verdict.PASS
        assert stream.verdict is Verdict.ERROR
        exchange = run.exchange("chat_stream")
        assert exchange.error.startswith(error_start), exchange.error
        assert len(exchange.events) >= 2  # what arrived before the fault is kept as evidence
        found = faults_by_probe(run)["chat_stream"]
        assert (found.kind, found.recovered, found.attempts) == (kind, False, 1)


def test_an_endless_fast_stream_is_bounded_by_the_body_cap_too():
    slow = Timeouts(connect=2, read=2, idle=2, total=30)
    with runner("endless-stream", timeouts=slow) as run:
        from conformance.wire._client import ChatClient

        async def go():
            async with ChatClient(run.endpoint, max_body_bytes=50_000) as client:
                body = {"model": run.endpoint.model, "messages": [], "stream": True}
                body["messages"] = [{"role": "user", "content": "hi"}]
                return await client.chat("endless", body)

        import asyncio

        started = time.perf_counter()
        exchange = asyncio.run(go())
        assert time.perf_counter() - started < 10
        assert exchange.error == "body exceeded 50000 bytes; stopped reading"
        assert len(exchange.body) <= 50_000


def test_invalid_utf8_is_a_nonconformance_found_by_the_checks():
    with runner("invalid-utf8") as run:
        plain = run.evaluate(get_check("response_schema"))
        framing = run.evaluate(get_check("stream_framing"))
        assert plain.verdict is Verdict.FAIL
        assert {f.title for f in plain.findings} == {"the response body is not JSON"}
        assert "chat" in {f.exchange.id for f in plain.findings}
        assert framing.verdict is Verdict.FAIL
        assert "invalid UTF-8" in [f.title for f in framing.findings]
        assert run.faults() == []  # the endpoint's own fault: judged, not excused


def test_a_12_mb_body_stops_at_the_cap_and_is_a_fault_not_a_hang():
    with runner("huge-body", timeouts=Timeouts(connect=2, read=5, idle=5, total=10)) as run:
        result = run.evaluate(get_check("response_schema"))
        assert result.verdict is Verdict.ERROR
        exchange = run.exchange("chat")
        assert exchange.status == 200
        assert exchange.error == "body exceeded 4194304 bytes; stopped reading"
        assert len(exchange.body) <= 4 * 1024 * 1024
        assert faults_by_probe(run)["chat"].kind == "body-too-large"


def test_latency_and_chunk_delay_pace_the_answers():
    with runner(latency_s=0.05, chunk_delay_s=0.02, concurrency=1) as run:
        plain, stream = run.fetch(["chat", "chat_stream"])
        assert plain.elapsed_s >= 0.05
        gaps = len(stream.events) - 1
        assert stream.elapsed_s >= 0.05 + 0.02 * (gaps - 1)


def test_an_echoed_key_is_redacted_everywhere_it_is_recorded():
    with runner("echo-auth") as run:
        exchanges = run.fetch(["chat", "chat_stream", "invalid_temperature"])
        text = json.dumps([e.to_dict() for e in exchanges]) + repr(exchanges)
        assert KEY not in text
        assert exchanges[0].headers["x-echo-authorization"] == "Bearer [REDACTED]"


def test_faults_need_their_name_spelled_right():
    from conformance.server import ServerConfig

    with pytest.raises(ValueError, match="unknown fault 'rate-limits'; known faults: "):
        ServerConfig(faults=frozenset({"rate-limits"}))


def test_the_fast_timeouts_used_here_are_what_the_assertions_say():
    assert (FAST.idle, FAST.total) == (0.3, 0.8)


def test_retries_spend_from_the_request_budget_and_stop_with_it():
    from conformance.engine._budget import Budget

    with runner("rate-limit-always", concurrency=1) as run:
        run.budget = Budget(max_requests=2)
        chat, stream = run.fetch(["chat", "chat_stream"])
        assert run.requests_sent == 2
        assert chat.attempts == 2
        assert chat.retries[-1] == (
            "retry not sent: the request budget is spent (2 of --max-requests 2)"
        )
        assert stream.attempts == 0
        assert stream.error == "not sent: the request budget is spent (2 of --max-requests 2)"
        assert run.stopped_by == "the request budget is spent (2 of --max-requests 2)"


def test_rate_limit_spaces_requests_over_a_real_socket():
    from conformance.wire._ratelimit import RateLimiter

    limiter = RateLimiter.parse("20/s")
    with runner(limiter=limiter) as run:
        started = time.perf_counter()
        exchanges = run.fetch(["chat", "chat_stream", "chat_stream_usage", "chat_n", "seed"])
        elapsed = time.perf_counter() - started
        assert [e.status for e in exchanges] == [200] * 5
        assert elapsed >= 4 * 0.05  # the first at once, then one every 50 ms
        # How long each request waited depends on when it reached the limiter, which a
        # loaded machine shifts; the spacing itself is pinned by the pure-function tests.
        assert limiter.waited_s > 0


OVERLOADED = "'The server is overloaded. Please try again later.'; nothing can be concluded"


def test_an_error_event_after_the_200_is_a_fault_named_with_its_message():
    with runner("error-event-mid-stream") as run:
        schema = run.evaluate(get_check("chunk_schema"))
        assert schema.verdict is Verdict.ERROR  # not a chunk schema violation
        assert schema.reason.startswith(
            f"chat_stream: answered 200, then an error in event 2 of its stream: {OVERLOADED}"
        )
        # what follows the error is judged: [DONE] alone, as vLLM sends it
        assert run.evaluate(get_check("stream_done_terminator")).verdict is Verdict.PASS
        fault = faults_by_probe(run)["chat_stream"]
        assert (fault.kind, fault.recovered) == ("error-event", False)
        assert run.evaluate(get_check("response_schema")).verdict is Verdict.PASS


def test_a_200_whose_body_is_an_error_is_a_fault_named_with_its_message():
    with runner("error-body-200") as run:
        result = run.evaluate(get_check("response_schema"))
        assert result.verdict is Verdict.ERROR  # not a response schema violation
        assert result.reason.startswith(
            f"chat: answered 200, then an error as its body: {OVERLOADED};"
        )
        assert faults_by_probe(run)["chat"].kind == "error-body"
        assert run.evaluate(get_check("chunk_schema")).verdict is Verdict.PASS
