"""A 10,000-chunk stream read over a real socket and validated, end to end.

    python3 -m bench.bench_stream

Prints chunks/s for reading alone (httpx + our SSE decoder, one event per write, as real
servers send them) and for reading plus validating every chunk against the contract, and
the share of the time validation adds.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bench._common import stream_bytes
from conformance.contract._spec import default_contract
from conformance.wire._client import ChatClient, Endpoint, Timeouts

CHUNKS = 10_000
ROUNDS = 3


def app(payload: bytes) -> Starlette:
    events = [e + b"\n\n" for e in payload.split(b"\n\n") if e]

    async def chat(request: Request) -> StreamingResponse:
        await request.body()

        async def body() -> AsyncIterator[bytes]:
            for event in events:
                yield event

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


def serve(payload: bytes) -> tuple[uvicorn.Server, threading.Thread, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app(payload), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    return server, thread, sock.getsockname()[1]


async def read(endpoint: Endpoint) -> tuple[float, list[str]]:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with ChatClient(endpoint, max_body_bytes=64 * 1024 * 1024) as client:
        started = time.perf_counter()
        exchange = await client.chat("bench", body)
        elapsed = time.perf_counter() - started
    assert exchange.error is None, exchange.error
    return elapsed, [e.data for e in exchange.data_events()]


def main() -> None:
    validator = default_contract().validator("ChatCompletionChunk")
    server, thread, port = serve(stream_bytes(CHUNKS))
    timeouts = Timeouts(connect=5, read=30, idle=30, total=300)
    endpoint = Endpoint(base_url=f"http://127.0.0.1:{port}/v1", model="m", timeouts=timeouts)
    try:
        best_read, best_validate = float("inf"), float("inf")
        for _ in range(ROUNDS):
            elapsed, datas = asyncio.run(read(endpoint))
            assert len(datas) == CHUNKS, len(datas)
            started = time.perf_counter()
            problems = sum(len(validator.validate(json.loads(d))) for d in datas)
            validating = time.perf_counter() - started
            assert problems == 0
            best_read = min(best_read, elapsed)
            best_validate = min(best_validate, validating)
    finally:
        server.should_exit = True
        thread.join(10)
    total = best_read + best_validate
    print(f"{CHUNKS} chunks over a socket, best of {ROUNDS}:")
    print(f"  read + decode:           {CHUNKS / best_read:,.0f} chunks/s ({best_read:.3f}s)")
    print(f"  read + decode + validate: {CHUNKS / total:,.0f} chunks/s ({total:.3f}s)")
    print(
        f"  validation (json.loads + schema): {best_validate / CHUNKS * 1e6:.1f} us/chunk, "
        f"{best_validate / best_read:.1%} of the reading time"
    )


if __name__ == "__main__":
    main()
