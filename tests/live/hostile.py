"""Hostile endpoints on a real uvicorn socket: servers that try to leak the key back into our
outputs or to exhaust the machine running the suite.

Each behaviour is a path prefix: ``{url}/<behaviour>/v1`` is a base URL whose every request
gets that behaviour. ``HOSTILE`` lists them; ``EXHAUSTING`` are the ones the benchmark and the
memory-limited tests run against.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

# Upper-case letters: a server that lower-cases it (as header names are) must not leak it.
KEY = "sk-Hostile-Canary-7f3e9a1b2c4d"
MODEL = "conformance/reference-1"

Send = Callable[[dict[str, Any]], Any]


def escaped(text: str) -> str:
    """``text`` written entirely as JSON ``\\uXXXX`` escapes."""
    return "".join(f"\\u{ord(c):04x}" for c in text)


def completion(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 1_735_689_600,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        **extra,
    }


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-hostile",
        "object": "chat.completion.chunk",
        "created": 1_735_689_600,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


class Hostile:
    """The behaviours; each answers one request (``body``: the request as sent)."""

    def __init__(self) -> None:
        self._bomb: bytes | None = None
        self._big: bytes | None = None
        self._keys: bytes | None = None

    async def escaped_key(self, body: dict[str, Any], send: Send) -> None:
        """The key echoed with JSON escapes, in the content, an error and a header name."""
        text = json.dumps(completion("KEYHERE", error={"message": "KEYHERE"}))
        raw = text.replace("KEYHERE", escaped(KEY)).encode()
        await respond(send, 200, raw, [(b"x-" + KEY.lower().encode(), b"1")])

    async def split_key(self, body: dict[str, Any], send: Send) -> None:
        """Tool-call arguments that rebuild the key only once their deltas are joined."""
        if not body.get("stream"):
            await respond(send, 200, json.dumps(completion("no key here")).encode())
            return
        arguments = json.dumps({"q": KEY + " not valid"})[:-1]  # not JSON: a finding quotes it
        pieces = [arguments[i : i + 3] for i in range(0, len(arguments), 3)]
        call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "x"}}
        events = [chunk({"role": "assistant", "tool_calls": [{**call, "function": {
            "name": "get_weather", "arguments": ""}}]})]  # fmt: skip
        events += [
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}) for p in pieces
        ]
        events += [chunk({}, "tool_calls"), b"data: [DONE]\n\n"]
        await respond(send, 200, b"".join(events), [(b"content-type", b"text/event-stream")])

    async def deep_json(self, body: dict[str, Any], send: Send) -> None:
        """JSON nested 1,500 deep: the body, or one event of a stream."""
        if body.get("stream"):
            events = chunk({"role": "assistant", "content": "x"})
            events += b"data: " + deep(1500).encode() + b"\n\n" + b"data: [DONE]\n\n"
            await respond(send, 200, events, [(b"content-type", b"text/event-stream")])
        else:
            await respond(send, 200, deep(1500).encode())

    async def many_events(self, body: dict[str, Any], send: Send) -> None:
        """Millions of tiny events (8 bytes each), up to 10 MiB, as an event stream."""
        piece = b"data:x\n\n" * 8192
        await start(send, 200, [(b"content-type", b"text/event-stream")])
        for _ in range(10 * 1024 * 1024 // len(piece)):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def gzip_bomb(self, body: dict[str, Any], send: Send) -> None:
        """2 MiB of gzip that inflates to 2 GiB of zeros."""
        if self._bomb is None:
            packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            zeros = bytes(1024 * 1024)
            self._bomb = b"".join(packer.compress(zeros) for _ in range(2048)) + packer.flush()
        await respond(send, 200, self._bomb, [(b"content-encoding", b"gzip")])

    async def big_body(self, body: dict[str, Any], send: Send) -> None:
        """A valid 8.4 MB completion with 450,000 keys in one extra object."""
        if self._big is None:
            extra = {f"k{i:06d}": i for i in range(450_000)}
            self._big = json.dumps(completion("hello", x_extra=extra)).encode()
        await respond(send, 200, self._big)

    async def many_keys(self, body: dict[str, Any], send: Send) -> None:
        """A valid 3.5 MB completion with 220,000 extra keys at its top level, every answer
        (streamed or not): small enough to pass the 4 MiB cap, costly to parse and judge."""
        if self._keys is None:
            extra = {f"k{i:06d}": i for i in range(220_000)}
            self._keys = json.dumps(completion("hello", **extra), separators=(",", ":")).encode()
        await respond(send, 200, self._keys)

    async def utf16_key(self, body: dict[str, Any], send: Send) -> None:
        """Completions in UTF-16LE (no BOM) quoting the key: JSON over HTTP is UTF-8."""
        text = json.dumps(completion(f"the key is {KEY}", error={"message": KEY}))
        await respond(send, 200, text.encode("utf-16-le"), [(b"x-note", b"utf-16")])

    async def utf16_missing(self, body: dict[str, Any], send: Send) -> None:
        """A 404 in UTF-16 (with its BOM) whose error names the model and quotes the key."""
        await respond(send, 404, _missing().encode("utf-16"))

    async def utf32_missing(self, body: dict[str, Any], send: Send) -> None:
        """A 404 in UTF-32BE (no BOM) whose error names the model and quotes the key."""
        await respond(send, 404, _missing().encode("utf-32-be"))

    async def redirect_billed(self, body: dict[str, Any], send: Send) -> None:
        """A 307 that reports 10^6 + 10^6 tokens of usage, to every stream or tools request;
        a plain completion to the others (the preflight among them)."""
        if not (body.get("stream") or body.get("tools")):
            await respond(send, 200, json.dumps(completion("hello")).encode())
            return
        usage = {"prompt_tokens": 10**6, "completion_tokens": 10**6, "total_tokens": 2 * 10**6}
        headers = [(b"location", b"http://127.0.0.1:9/v1/chat/completions")]
        await respond(send, 307, json.dumps(completion("moved", usage=usage)).encode(), headers)

    async def huge_usage(self, body: dict[str, Any], send: Send) -> None:
        """Completions that report 10^30 prompt tokens."""
        usage = {"prompt_tokens": 10**30, "completion_tokens": 5, "total_tokens": 10**30 + 5}
        await respond(send, 200, json.dumps(completion("hello", usage=usage)).encode())

    async def redirect(self, body: dict[str, Any], send: Send) -> None:
        """A 302 to nowhere, with a JSON body that reports no usage."""
        headers = [(b"location", b"http://127.0.0.1:9/v1/chat/completions")]
        await respond(send, 302, b'{"moved": true}', headers)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw, more = b"", True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
        name = scope["path"].strip("/").split("/")[0].replace("-", "_")
        await getattr(self, name)(body if isinstance(body, dict) else {}, send)


HOSTILE = ("escaped-key", "split-key", "deep-json", "many-events", "gzip-bomb", "big-body",
           "redirect", "many-keys", "utf16-key", "utf16-missing", "utf32-missing",
           "redirect-billed", "huge-usage")  # fmt: skip
EXHAUSTING = ("deep-json", "many-events", "gzip-bomb", "big-body", "many-keys", "utf16-key")


def _missing() -> str:
    message = f"The model `{MODEL}` does not exist or key {KEY} has no access to it."
    return json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                 "param": "model", "code": "model_not_found"}})  # fmt: skip


async def start(send: Send, status: int, headers: list[tuple[bytes, bytes]]) -> None:
    if not any(name == b"content-type" for name, _ in headers):
        headers = [(b"content-type", b"application/json"), *headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [*(headers or []), (b"content-length", str(len(body)).encode())]
    await start(send, status, headers)
    await send({"type": "http.response.body", "body": body})


@contextmanager
def hostile_server() -> Iterator[str]:
    """The hostile app on a real uvicorn socket in a thread; yields ``http://127.0.0.1:PORT``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    config = uvicorn.Config(Hostile(), log_level="error", lifespan="off", ws="none", http="h11")
    config.timeout_graceful_shutdown = 1
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the hostile server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
