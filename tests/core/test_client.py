"""The HTTP client layer: what it sends, what it records, and how it fails without raising."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from conformance._errors import ConfigError
from conformance._version import __version__
from conformance.wire._client import INVALID_KEY, ChatClient, Endpoint, Timeouts
from conformance.wire._exchange import Exchange
from conformance.wire._sse import FramingProblem, ServerSentEvent

KEY = "sk-test-CANARY-0123456789abcdef"
BASE = "http://127.0.0.1:8000/v1"
URL = "http://127.0.0.1:8000/v1/chat/completions"
BODY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STREAM_BODY: dict[str, Any] = {**BODY, "stream": True}
SSE = {"content-type": "text/event-stream"}
COMPLETION = {"id": "c1", "object": "chat.completion", "choices": []}

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def endpoint(base_url: str = BASE, key: str | None = KEY, **timeouts: float) -> Endpoint:
    return Endpoint(base_url=base_url, api_key=key, model="m", timeouts=Timeouts(**timeouts))


def exchange_with(
    handler: Handler | httpx.AsyncBaseTransport | None,
    body: Any = BODY,
    *,
    ep: Endpoint | None = None,
    max_body_bytes: int = 10 * 1024 * 1024,
    **kwargs: Any,
) -> Exchange:
    transport = (
        httpx.MockTransport(handler)
        if callable(handler) and not isinstance(handler, httpx.AsyncBaseTransport)
        else handler
    )

    async def go() -> Exchange:
        async with ChatClient(
            ep or endpoint(), transport=transport, max_body_bytes=max_body_bytes
        ) as client:
            return await client.chat("probe-1", body, **kwargs)

    return asyncio.run(go())


def streamed(*pieces: bytes | float, forever: bool = False) -> httpx.Response:
    """An event-stream response whose pieces arrive one by one; a float is a pause."""

    async def produce() -> AsyncIterator[bytes]:
        for piece in pieces:
            if isinstance(piece, float):
                await asyncio.sleep(piece)
            else:
                yield piece
        if forever:
            await asyncio.sleep(3600)

    return httpx.Response(200, headers=SSE, content=produce())


# -- an in-process Starlette app behind ASGITransport ------------------------------------------


async def chat_endpoint(request: Request) -> Response:
    body = await request.json()
    seen = {k: v for k, v in request.headers.items() if k != "content-length"}
    if body.get("stream"):

        async def events() -> AsyncIterator[bytes]:
            for word in ("Hel", "lo"):
                chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": word}}]}
                yield f"data: {json.dumps(chunk)}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")
    return JSONResponse({**COMPLETION, "seen_headers": seen, "seen_body": body})


async def stalling_endpoint(request: Request) -> Response:
    async def events() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"
        await asyncio.sleep(30)  # cancelled when the client hangs up
        yield b"data: late\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


APP = Starlette(
    routes=[
        Route("/v1/chat/completions", chat_endpoint, methods=["POST"]),
        Route("/stall/v1/chat/completions", stalling_endpoint, methods=["POST"]),
    ]
)


def test_a_json_response_is_recorded_with_the_request_as_sent():
    exchange = exchange_with(httpx.ASGITransport(app=APP))

    assert exchange.error is None
    assert exchange.status == 200
    assert exchange.content_type == "application/json"
    assert exchange.streamed is False
    assert exchange.events == []
    answer = exchange.json()
    assert answer["seen_body"] == BODY
    assert answer["seen_headers"] == {
        "host": "127.0.0.1:8000",
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "connection": "keep-alive",
        "user-agent": f"conformance/{__version__}",
        "content-type": "application/json",
        "authorization": "Bearer [REDACTED]",  # echoed by the server; never recorded
    }
    assert exchange.request.method == "POST"
    assert exchange.request.url == URL
    assert exchange.request.body == BODY
    assert exchange.request.headers["authorization"] == "Bearer [REDACTED]"
    assert exchange.elapsed_s > 0


def test_a_streamed_response_is_decoded_into_events():
    exchange = exchange_with(httpx.ASGITransport(app=APP), STREAM_BODY)

    assert exchange.error is None
    assert exchange.streamed is True
    assert exchange.request.headers["accept"] == "text/event-stream, application/json"
    assert [json.loads(e.data)["choices"][0]["delta"]["content"] for e in exchange.events[:2]] == [
        "Hel",
        "lo",
    ]
    assert exchange.events[2] == ServerSentEvent(index=2, data="[DONE]", raw="data: [DONE]\n")
    assert exchange.framing == []
    assert exchange.body.endswith(b"data: [DONE]\n\n")


# -- what is sent ------------------------------------------------------------------------------


def record_request(seen: list[httpx.Request]) -> Handler:
    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=COMPLETION)

    return handler


@pytest.mark.parametrize(
    ("auth", "key", "expected"),
    [
        ("default", KEY, f"Bearer {KEY}"),
        ("default", None, None),
        ("none", KEY, None),
        ("invalid", KEY, f"Bearer {INVALID_KEY}"),
        ("invalid", None, f"Bearer {INVALID_KEY}"),
    ],
)
def test_the_authorization_header_follows_the_auth_mode(auth, key, expected):
    seen: list[httpx.Request] = []
    exchange_with(record_request(seen), ep=endpoint(key=key), auth=auth)

    assert seen[0].headers.get("authorization") == expected


def test_raw_content_and_extra_headers_replace_the_defaults():
    seen: list[httpx.Request] = []
    exchange = exchange_with(
        record_request(seen),
        None,
        content=b'{"model": ',
        headers={"content-type": "text/plain", "X-Extra": "1"},
    )

    assert seen[0].content == b'{"model": '
    assert seen[0].headers["content-type"] == "text/plain"
    assert seen[0].headers["x-extra"] == "1"
    assert exchange.request.body == '{"model": '
    assert exchange.request.headers["content-type"] == "text/plain"


def test_the_chat_url_is_the_base_url_plus_chat_completions():
    assert Endpoint("https://host/v1/").chat_url() == "https://host/v1/chat/completions"
    assert Endpoint("https://host/openai/v1").chat_url() == (
        "https://host/openai/v1/chat/completions"
    )


def test_requests_sent_counts_every_attempt():
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("nope", request=request)

    async def go() -> int:
        async with ChatClient(endpoint(), transport=httpx.MockTransport(refuse)) as client:
            await asyncio.gather(*(client.chat(f"p{i}", BODY) for i in range(3)))
            return client.requests_sent

    assert asyncio.run(go()) == 3


@pytest.mark.parametrize("url", ["127.0.0.1:8000/v1", "ftp://host/v1", "http:///v1", ""])
def test_a_base_url_without_scheme_or_host_is_a_config_error(url):
    with pytest.raises(ConfigError) as caught:
        Endpoint(base_url=url)

    assert str(caught.value) == (
        f"--base-url {url!r} is not an http(s) URL with a host. Pass the endpoint's base URL, "
        "for example --base-url https://api.example.com/v1."
    )


def test_a_key_that_cannot_be_a_header_is_a_config_error_that_does_not_show_it():
    with pytest.raises(ConfigError) as caught:
        Endpoint(base_url=BASE, api_key=KEY + "\n")

    assert str(caught.value) == (
        "--api-key contains a character that cannot be sent in an HTTP header (a space, a line "
        "break, a quote or a non-ASCII character?); pass the key exactly as issued, without "
        "surrounding whitespace."
    )


def test_a_timeout_that_is_not_positive_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        Timeouts(idle=0)

    assert str(caught.value) == (
        "the idle timeout 0 must be a positive number of seconds; for example 30.0."
    )


# -- incremental reading and its limits --------------------------------------------------------


def test_a_stall_between_chunks_is_an_idle_timeout_with_the_events_so_far_kept():
    async def handler(request: httpx.Request) -> httpx.Response:
        # The first event, then silence: it can only be recorded if decoded as it arrived.
        return streamed(b"data: one\n\n", b"data: tw", forever=True)

    started = time.perf_counter()
    exchange = exchange_with(handler, STREAM_BODY, ep=endpoint(idle=0.2))

    assert exchange.error == "stream stalled: no data for 0.2s after 1 event"
    assert exchange.status == 200
    assert exchange.events == [ServerSentEvent(index=0, data="one", raw="data: one\n")]
    assert exchange.body == b"data: one\n\ndata: tw"
    # We stopped reading, so the cut event is not the server's framing problem.
    assert exchange.framing == []
    assert 0.2 <= exchange.elapsed_s < 2
    assert time.perf_counter() - started < 3


def test_the_first_stream_chunk_is_bounded_by_the_read_timeout():
    async def handler(request: httpx.Request) -> httpx.Response:
        return streamed(forever=True)

    exchange = exchange_with(handler, STREAM_BODY, ep=endpoint(read=0.2, idle=5))

    assert exchange.error == "read timeout: no body data within 0.2s after the response headers"
    assert exchange.status == 200
    assert exchange.events == []


def test_a_stream_that_keeps_trickling_is_stopped_by_the_total_timeout():
    async def handler(request: httpx.Request) -> httpx.Response:
        return streamed(*[b": tick\n\ndata: x\n\n", 0.02] * 1000)

    exchange = exchange_with(handler, STREAM_BODY, ep=endpoint(idle=1, total=0.3))

    assert exchange.error == "stream exceeded the total timeout of 0.3s"
    assert len(exchange.events) > 3
    assert 0.3 <= exchange.elapsed_s < 2


def test_a_server_that_never_answers_is_stopped_by_the_total_timeout():
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    exchange = exchange_with(handler, ep=endpoint(total=0.2))

    assert exchange.error == "request exceeded the total timeout of 0.2s"
    assert exchange.status is None


def test_a_stream_that_ends_without_a_blank_line_records_the_problem():
    async def handler(request: httpx.Request) -> httpx.Response:
        return streamed(b"data: one\n\n", b"data: [DONE]\n")

    exchange = exchange_with(handler, STREAM_BODY)

    assert exchange.error is None
    assert [e.data for e in exchange.events] == ["one"]
    assert exchange.framing == [
        FramingProblem(
            title="stream ended inside an event (no blank line after the last event)",
            detail="never dispatched: 'data: [DONE]\\n'",
            offset=24,
        )
    ]


def test_a_body_over_the_cap_is_cut_and_reading_stops():
    produced: list[int] = []

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(100):
            produced.append(i)
            yield b"x" * 10

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=pieces())

    exchange = exchange_with(handler, max_body_bytes=45)

    assert exchange.error == "body exceeded 45 bytes; stopped reading"
    assert exchange.body == b"x" * 45
    assert exchange.body_truncated is True
    assert len(produced) == 5


def test_a_stream_over_the_cap_keeps_the_events_before_the_cap():
    async def handler(request: httpx.Request) -> httpx.Response:
        return streamed(b"data: 1\n\n", b"data: 2\n\ndata: 3\n\n", b"data: 4\n\n")

    exchange = exchange_with(handler, STREAM_BODY, max_body_bytes=20)

    assert exchange.error == "body exceeded 20 bytes; stopped reading"
    assert [e.data for e in exchange.events] == ["1", "2"]
    assert exchange.body == b"data: 1\n\ndata: 2\n\nda"
    assert exchange.framing == []


def test_a_compressed_body_is_recorded_decompressed():
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"content-encoding": "gzip", "content-type": "application/json"},
            content=gzip.compress(json.dumps(COMPLETION).encode()),
        )

    exchange = exchange_with(handler)

    assert exchange.error is None
    assert exchange.json() == COMPLETION


# -- transport failures become errors, never exceptions ----------------------------------------


@pytest.mark.parametrize(
    ("raised", "message"),
    [
        (
            httpx.ConnectTimeout("timed out"),
            "connect timeout: no connection to 127.0.0.1:8000 within 10s",
        ),
        (httpx.ReadTimeout("timed out"), "read timeout: no response within 60s"),
        (httpx.ConnectError("boom"), "could not connect to 127.0.0.1:8000: boom"),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "the server broke the HTTP exchange before a response: "
            "Server disconnected without sending a response.",
        ),
        (
            httpx.ReadError("reset by peer"),
            "the connection failed before a response: reset by peer",
        ),
    ],
)
def test_transport_failures_before_a_response_become_one_line_errors(raised, message):
    async def handler(request: httpx.Request) -> httpx.Response:
        raise raised

    exchange = exchange_with(handler)

    assert exchange.error == message
    assert exchange.status is None
    assert exchange.to_dict()["response"] is None


def test_a_connection_dropped_mid_stream_keeps_status_headers_and_events():
    async def pieces() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={**SSE, "x-request-id": "r1"}, content=pieces())

    exchange = exchange_with(handler, STREAM_BODY)

    assert exchange.error == (
        "the server broke the HTTP exchange while the body was being read: "
        "peer closed connection without sending complete body"
    )
    assert exchange.status == 200
    assert exchange.headers["x-request-id"] == "r1"
    assert [e.data for e in exchange.events] == ["one"]


# -- the key never reaches the record ----------------------------------------------------------


def test_a_server_echoing_the_key_everywhere_leaves_no_trace_of_it():
    async def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        pieces = [
            f"data: {json.dumps({'echo': auth})}\n\n".encode(),
            f": {auth}\nid: {KEY}\nevent: {KEY}\ndata: {KEY}\n\n".encode(),
            f"{KEY}: unknown field\n\n".encode(),
            f"data: {KEY}".encode(),  # never terminated: recorded as a framing problem
        ]
        return httpx.Response(
            200,
            headers={**SSE, "x-echo": auth, "Authorization": auth, "set-cookie": f"k={KEY}"},
            content=b"".join(pieces),
        )

    exchange = exchange_with(echo, {**STREAM_BODY, "user": KEY})

    assert len(exchange.events) == 2
    assert len(exchange.framing) == 2
    recorded = json.dumps(exchange.to_dict())
    raw = " ".join(e.raw for e in exchange.events)
    assert KEY not in recorded
    assert KEY not in raw
    assert "[REDACTED]" in raw
    assert exchange.headers["authorization"] == "Bearer [REDACTED]"
    assert exchange.headers["x-echo"] == "Bearer [REDACTED]"
    assert exchange.request.body["user"] == "[REDACTED]"


def test_a_key_in_an_error_message_is_redacted():
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError(f"illegal header value {request.headers['authorization']}")

    exchange = exchange_with(handler)

    assert exchange.error == (
        "the server broke the HTTP exchange before a response: "
        "illegal header value Bearer [REDACTED]"
    )


def test_a_body_cap_falling_inside_an_echoed_key_leaves_no_piece_of_it():
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=f"echo: {KEY} and more".encode())

    exchange = exchange_with(handler, max_body_bytes=len("echo: ") + 12)

    assert exchange.body == b"echo: "
    assert exchange.body_truncated is True


# -- real sockets ------------------------------------------------------------------------------


@contextlib.contextmanager
def uvicorn_on_a_free_port(app: Starlette) -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none", http="h11")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 10s"
            time.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.e2e
def test_streamed_and_json_answers_over_a_real_socket():
    with uvicorn_on_a_free_port(APP) as port:
        base = f"http://127.0.0.1:{port}/v1"
        streamed_exchange = exchange_with(None, STREAM_BODY, ep=endpoint(base))
        plain_exchange = exchange_with(None, BODY, ep=endpoint(base))
        stalled = exchange_with(
            None, STREAM_BODY, ep=endpoint(f"http://127.0.0.1:{port}/stall/v1", idle=0.3)
        )

    assert streamed_exchange.error is None
    assert streamed_exchange.streamed is True
    assert [e.data for e in streamed_exchange.events][-1] == "[DONE]"
    assert len(streamed_exchange.events) == 3
    assert plain_exchange.error is None
    assert plain_exchange.json()["seen_headers"]["authorization"] == "Bearer [REDACTED]"
    # The first event was decoded as it arrived, while the server was still sending.
    assert stalled.error == "stream stalled: no data for 0.3s after 1 event"
    assert stalled.events == [ServerSentEvent(index=0, data="one", raw="data: one\n")]


@pytest.mark.e2e
def test_a_closed_port_is_connection_refused_with_a_hint():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more.

    exchange = exchange_with(None, ep=endpoint(f"http://127.0.0.1:{port}/v1"))

    assert exchange.error == (f"connection refused by 127.0.0.1:{port}")
    assert exchange.status is None
