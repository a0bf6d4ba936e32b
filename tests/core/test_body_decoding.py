"""The client undoes the Content-Encoding it asked for, piece by piece, and a body that does
not decode as declared is recorded as received with the reason (``Exchange.decoding``), not
lost as a transport error. Also: query parameters reach the URL."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from conformance.wire._client import ACCEPT_ENCODING, ChatClient, Endpoint
from conformance.wire._exchange import Exchange

BODY: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
COMPLETION = {"id": "c1", "object": "chat.completion", "choices": []}
PLAIN = json.dumps(COMPLETION).encode()
EVENTS = [b'data: {"n": 1}\n\n', b'data: {"n": 2}\n\n', b"data: [DONE]\n\n"]


class Pieces(httpx.AsyncByteStream):
    """A body that arrives piece by piece (not read up front, as on a real socket)."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def sent(pieces: list[bytes], encoding: str | None, kind: str = "application/json", **kw: Any):
    seen: dict[str, Any] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        seen["request"] = request
        headers = {"content-type": kind}
        if encoding is not None:
            headers["content-encoding"] = encoding
        return httpx.Response(200, headers=headers, stream=Pieces(pieces))

    async def go() -> Exchange:
        endpoint = Endpoint(base_url="http://127.0.0.1:8000/v1", api_key=None, model="m")
        async with ChatClient(endpoint, transport=httpx.MockTransport(handler)) as client:
            return await client.chat("probe-1", BODY, **kw)

    return asyncio.run(go()), seen["request"]


def gzip_pieces(*plain: bytes) -> list[bytes]:
    """Each piece compressed and flushed on its own, as a compressing server streams."""
    compressor = zlib.compressobj(wbits=31)
    out = [compressor.compress(p) + compressor.flush(zlib.Z_SYNC_FLUSH) for p in plain]
    out.append(compressor.flush(zlib.Z_FINISH))
    return out


def test_every_request_says_which_encodings_it_can_read():
    _, request = sent([PLAIN], None)
    assert request.headers["accept-encoding"] == ACCEPT_ENCODING == "gzip, deflate"


def test_a_gzip_stream_is_decoded_event_by_event():
    exchange, _ = sent(gzip_pieces(*EVENTS), "gzip", "text/event-stream")
    assert exchange.error is None
    assert exchange.decoding is None
    assert exchange.body == b"".join(EVENTS)
    assert [e.data for e in exchange.events] == ['{"n": 1}', '{"n": 2}', "[DONE]"]


def test_gzip_and_deflate_bodies_are_decoded():
    for encoding, data in (("gzip", gzip.compress(PLAIN)), ("deflate", zlib.compress(PLAIN))):
        exchange, _ = sent([data[:7], data[7:]], encoding)
        assert (exchange.error, exchange.decoding) == (None, None)
        assert exchange.json() == COMPLETION


def test_plain_bytes_labelled_gzip_are_kept_with_the_reason():
    exchange, _ = sent([PLAIN], "gzip")
    assert exchange.error is None
    assert exchange.decoding == (
        "the body declared Content-Encoding: gzip but is not gzip data (Error -3 while "
        "decompressing data: incorrect header check); the rest is kept as received"
    )
    assert exchange.json() == COMPLETION  # the checks still judge what came


def test_a_gzip_body_cut_before_its_end_is_a_decoding_problem():
    whole = gzip.compress(PLAIN)
    exchange, _ = sent([whole[:-8]], "gzip")  # the trailer (CRC and size) is missing
    assert exchange.decoding == (
        "the body declared Content-Encoding: gzip but its gzip data ended before the end "
        "of the compressed stream"
    )


def test_an_encoding_that_was_not_asked_for_is_kept_as_received():
    exchange, _ = sent([b"\x1b\x00brotli"], "br")
    assert exchange.decoding == (
        "Content-Encoding 'br' was not asked for (Accept-Encoding: gzip, deflate); "
        "the body is kept as received"
    )
    assert exchange.body == b"\x1b\x00brotli"


def test_identity_is_no_encoding():
    exchange, _ = sent([PLAIN], "identity")
    assert (exchange.decoding, exchange.json()) == (None, COMPLETION)


def test_query_parameters_are_sent_and_recorded():
    exchange, request = sent([PLAIN], None, params={"ai_project_id": "p 1"})
    assert str(request.url) == "http://127.0.0.1:8000/v1/chat/completions?ai_project_id=p+1"
    assert exchange.request.url == str(request.url)


def test_a_gzip_bomb_is_inflated_a_step_at_a_time_so_the_cap_stops_it():
    from conformance.wire._decoding import INFLATE_STEP, BodyDecoder

    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(packer.compress(bytes(1024 * 1024)) for _ in range(64)) + packer.flush()
    assert len(bomb) < 128 * 1024  # one network read's worth, 64 MiB once inflated

    async def first_pieces() -> list[int]:
        async def one() -> AsyncIterator[bytes]:
            yield bomb

        sizes: list[int] = []
        decoded = BodyDecoder("gzip").decode(one())
        async for piece in decoded:
            sizes.append(len(piece))
            if len(sizes) == 3:  # a reader over its cap stops here
                break
        await decoded.aclose()  # type: ignore[attr-defined]
        return sizes

    assert asyncio.run(first_pieces()) == [INFLATE_STEP] * 3


def test_a_base_url_query_is_kept_beside_a_probe_query():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    endpoint = Endpoint("http://127.0.0.1:9/openai/v1?api-version=2024-10", model="m")

    async def go() -> Exchange:
        async with ChatClient(endpoint, transport=httpx.MockTransport(handler)) as client:
            return await client.chat("q", {"model": "m"}, params={"extra": "1"})

    recorded = asyncio.run(go())
    assert seen == ["http://127.0.0.1:9/openai/v1/chat/completions?api-version=2024-10&extra=1"]
    assert recorded.request.url == seen[0]
