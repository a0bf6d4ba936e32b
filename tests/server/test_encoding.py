"""The reference server's gzip switch (a compressing proxy, done right) and the
gzip-declared-plain defect (the label without the compression)."""

from __future__ import annotations

import asyncio
import gzip
import json

import httpx
import pytest

from conformance.server import ServerConfig, create_app
from conformance.server._encoding import accepts_gzip

BODY = {"model": "conformance/reference-1", "messages": [{"role": "user", "content": "hi"}]}


def raw_answer(config: ServerConfig, body: dict, accept: str | None) -> tuple[dict, bytes]:
    """The answer's headers and its bytes exactly as sent (not decoded)."""

    async def go() -> tuple[dict, bytes]:
        transport = httpx.ASGITransport(create_app(config))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            headers = {} if accept is None else {"accept-encoding": accept}
            request = client.build_request("POST", "/v1/chat/completions", json=body)
            request.headers.pop("accept-encoding", None)
            request.headers.update(headers)
            response = await client.send(request, stream=True)
            raw = b"".join([piece async for piece in response.aiter_raw()])
            return dict(response.headers), raw

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("gzip", True),
        ("gzip, deflate", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("deflate, br", False),
        ("identity", False),
    ],
)
def test_accept_encoding_is_read_with_its_q_values(value, accepted):
    scope = {"type": "http", "headers": [(b"accept-encoding", value.encode())]}
    assert accepts_gzip(scope) is accepted


def test_gzip_answers_are_gzip_data_without_a_stale_length():
    headers, raw = raw_answer(ServerConfig(gzip=True), BODY, "gzip, deflate")
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert "content-length" not in headers
    assert json.loads(gzip.decompress(raw))["object"] == "chat.completion"


def test_gzip_streams_decode_to_the_same_events():
    headers, raw = raw_answer(ServerConfig(gzip=True), {**BODY, "stream": True}, "gzip")
    assert headers["content-encoding"] == "gzip"
    text = gzip.decompress(raw).decode()
    assert text.endswith("data: [DONE]\n\n")
    assert text.count("chat.completion.chunk") >= 2


def test_a_client_that_does_not_accept_gzip_gets_plain_bytes():
    for accept in (None, "identity", "gzip;q=0"):
        headers, raw = raw_answer(ServerConfig(gzip=True), BODY, accept)
        assert "content-encoding" not in headers
        assert json.loads(raw)["object"] == "chat.completion"


def test_the_defect_declares_gzip_on_plain_bytes():
    config = ServerConfig(defects=frozenset({"gzip-declared-plain"}))
    headers, raw = raw_answer(config, BODY, "gzip")
    assert headers["content-encoding"] == "gzip"
    assert headers["content-length"] == str(len(raw))
    assert json.loads(raw)["object"] == "chat.completion"


def test_the_clean_server_does_not_compress():
    headers, raw = raw_answer(ServerConfig(), BODY, "gzip")
    assert "content-encoding" not in headers
    assert json.loads(raw)["object"] == "chat.completion"
