"""Latency figures: stamped by the client with an injectable clock, reduced to p50/p95.

The clock is a script of readings, so nothing here depends on how loaded the machine is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from conformance.wire._client import ChatClient, Endpoint
from conformance.wire._latency import figures, latency_line, percentile

DONE = b"data: [DONE]\n\n"


def chunk(content: str | None = None, *, usage: dict[str, int] | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    body = {"choices": [{"index": 0, "delta": delta}], "usage": usage}
    return f"data: {json.dumps(body)}\n\n".encode()


class Pieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def scripted(readings: list[float]) -> Iterator[float]:
    yield from readings


def exchange_with(pieces: list[bytes], readings: list[float], status: int = 200):
    """One streamed exchange whose clock reads ``readings`` in turn: sent, headers, then one
    reading per piece that holds an event."""
    clock = scripted(readings)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, headers={"content-type": "text/event-stream"}, stream=Pieces(pieces)
        )

    async def go():
        client = ChatClient(
            Endpoint(base_url="http://127.0.0.1:1/v1", model="m"),
            transport=httpx.MockTransport(handler),
            clock=lambda: next(clock),
        )
        async with client:
            return await client.chat("stream", {"model": "m", "stream": True})

    return asyncio.run(go())


def test_each_part_of_a_stream_is_stamped_by_the_clock_given():
    # sent at 10.0; headers at 10.3; a role chunk at 10.32, then content every 50 ms
    pieces = [chunk(), chunk("a"), chunk("b"), chunk("c", usage=_usage(3)), DONE]
    exchange = exchange_with(pieces, [10.0, 10.3, 10.32, 10.35, 10.40, 10.45, 10.46])
    timing = exchange.to_dict()["timing"]
    assert timing == {
        "headers_s": 0.3,
        "first_token_s": 0.35,
        "chunk_gaps": 3,
        "max_chunk_gap_s": 0.05,
        "output_tokens_per_s": None,  # 3 content chunks: too few for a rate
    }


def _usage(completion: int) -> dict[str, int]:
    return {"prompt_tokens": 5, "completion_tokens": completion, "total_tokens": 5 + completion}


def test_a_run_reduces_its_streamed_exchanges_to_percentiles():
    fast = exchange_with([chunk("a"), chunk("b"), DONE], [0.0, 0.1, 0.1, 0.2, 0.2])
    slow = exchange_with([chunk("a"), chunk("b"), DONE], [0.0, 0.5, 0.5, 0.6, 0.6])
    refused = exchange_with([chunk("a"), DONE], [0.0, 0.01, 0.01, 0.01], status=500)
    data = figures([fast, slow, refused])
    assert data["streamed_exchanges"] == 2  # the 500 is not a sample of answering speed
    assert data["headers_s"] == {
        "p50": 0.3, "p95": 0.48, "p99": 0.496, "min": 0.1, "max": 0.5, "n": 2,
    }  # fmt: skip
    assert data["chunk_gap_s"]["p50"] == pytest.approx(0.1)
    assert data["chunk_gap_s"]["histogram"] == [[100, 2]]
    assert data["output_tokens_per_s"] is None  # two chunks a stream: no rate
    line = latency_line({"latency": data})
    assert line == (
        "time to response headers: p50 300 ms, p95 480 ms, p99 496 ms; "
        "time to first content token: p50 300 ms, p95 480 ms, p99 496 ms; "
        "gap between stream chunks: p50 100 ms, p95 100 ms, p99 100 ms; "
        "output tokens per second: not measured (no stream had 8 content chunks over 50 ms "
        "or more) (over 2 streamed probes)"
    )


def test_a_rate_needs_enough_chunks_over_enough_time_and_reports_its_slow_tail():
    pieces = [chunk(c) for c in "abcdefghij"] + [DONE]
    steady = exchange_with(pieces, [0.0, 0.2, *(0.2 + 0.05 * i for i in range(10)), 0.7])
    burst = exchange_with(pieces, [0.0, 0.2, *(0.2 + 0.0001 * i for i in range(10)), 0.3])
    assert steady.to_dict()["timing"]["output_tokens_per_s"] == 20.0  # 9 tokens in 0.45 s
    assert burst.to_dict()["timing"]["output_tokens_per_s"] is None  # one burst: no rate
    data = figures([steady, burst])
    assert data["output_tokens_per_s"]["p5"] == 20.0
    assert "output tokens per second: p50 20 tok/s, slowest 5% below 20 tok/s" in latency_line(
        {"latency": data}
    )


def test_waits_before_retries_are_reported_apart_from_the_answer_times():
    from types import SimpleNamespace

    timing = SimpleNamespace(headers_s=None)
    waited = [
        SimpleNamespace(streamed=False, ok=True, timing=timing, figures=None, retry_wait_s=w)
        for w in (1.02, 0.98, 1.10, 0.0)  # the last one was not retried: not a wait
    ]  # fmt: skip
    data = figures(waited)
    assert data["retry_wait_s"] == {
        "p50": 1.02, "p95": 1.092, "p99": 1.098, "min": 0.98, "max": 1.1, "n": 3,
    }  # fmt: skip


def test_a_run_without_streams_has_no_figures_and_no_line():
    data = figures([])
    assert data == {
        "streamed_exchanges": 0,
        "headers_s": None,
        "first_token_s": None,
        "chunk_gap_s": None,
        "output_tokens_per_s": None,
        "retry_wait_s": None,
    }
    assert latency_line({"latency": data}) is None


def test_percentiles_interpolate_between_ranks():
    assert percentile([1.0], 95) == 1.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.5
    assert percentile(list(map(float, range(101))), 95) == 95.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_extra_headers_are_sent_with_every_request_and_bad_ones_refused():
    from conformance._errors import ConfigError
    from conformance.run._settings import resolve_settings

    settings = resolve_settings(
        base_url="http://127.0.0.1:1/v1", model="m", headers=("X-Team: platform",), env={}
    )
    assert settings.headers == (("X-Team", "platform"),)
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={})

    async def go():
        endpoint = Endpoint(base_url="http://127.0.0.1:1/v1", model="m", headers=settings.headers)
        async with ChatClient(endpoint, transport=httpx.MockTransport(handler)) as client:
            await client.chat("chat", {"model": "m"})

    asyncio.run(go())
    assert seen[0]["x-team"] == "platform"
    for given, message in [
        (
            "X-Team",
            "--header 'X-Team' is not NAME: VALUE; pass for example --header 'X-Org: acme'.",
        ),
        (
            "Authorization: Bearer x",
            "--header 'Authorization' is set by conformance itself; the key comes from --api-key.",
        ),
    ]:
        with pytest.raises(ConfigError) as caught:
            resolve_settings(headers=(given,), env={})
        assert str(caught.value) == message
