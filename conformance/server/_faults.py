"""Faults of a live endpoint, switched on by name: slow, rate-limited, flaky, broken networks.

Unlike the defects (a broken promise of the contract at one place), a fault is what a real
network or gateway does to an otherwise faithful server: latency, 429s, 5xx bursts, streams
cut or stalled or never ending, bytes that are not UTF-8, a body far too large, a server that
echoes the caller's key. :class:`FaultInjector` is an ASGI middleware around the reference
app, so the app itself stays faithful, and our tests drive each fault over a real socket.

Which attempt a fault hits is deterministic: requests are told apart by a fingerprint of
their body and credentials, and "the first attempt" means the first time a fingerprint
arrives (a retry is the second).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections import Counter
from email.utils import formatdate

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.server._config import ServerConfig
from conformance.server._errors import error_body

_Answer = tuple[int, list[tuple[str, str]], bytes, str]  # status, headers, body, media type

CHAT_PATH = "/v1/chat/completions"
_STREAM_FAULTS = frozenset(
    {"reset-mid-stream", "stall-mid-stream", "endless-stream", "error-event-mid-stream"}
)
STREAM_EVENTS_BEFORE_FAULT = 2  # events a cut, stalled or endless stream sends first
HUGE_BODY_BYTES = 12_000_000  # past the client's default 4 MiB cap
STALL_LIMIT_S = 600.0  # a stalled stream waits at most this long for the client to go away
ENDLESS_LIMIT_S = 600.0  # an endless stream gives up after this long, whatever the client does
OVERLOADED = "The server is overloaded. Please try again later."
SERVER_ERROR_ATTEMPTS = 2  # `server-errors`: attempts answered 503 before one is served

GATEWAY_PAGE = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class DeliberateReset(Exception):
    """Raised inside a stream to make the server drop the connection mid-body."""


class _QuietDeliberateReset(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DeliberateReset)


_FILTER = _QuietDeliberateReset()


class FaultInjector:
    """ASGI middleware: delays every request by ``latency_s`` and applies the config's faults."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config
        self.faults = config.faults
        self.seen: Counter[str] = Counter()  # attempts per request fingerprint
        if "reset-mid-stream" in self.faults:
            # uvicorn logs the exception that cuts the stream; it is deliberate, not news.
            logging.getLogger("uvicorn.error").addFilter(_FILTER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.config.latency_s > 0:
            await asyncio.sleep(self.config.latency_s)
        if not self.faults or scope.get("path") != CHAT_PATH:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replay(body, receive)
        auth = _headers_of(scope).get("authorization", "")
        fingerprint = hashlib.sha256(body + b"\0" + auth.encode("latin-1")).hexdigest()
        self.seen[fingerprint] += 1
        attempt = self.seen[fingerprint]
        streamed = _wants_stream(body)
        early = self._early_answer(attempt, streamed)
        if early is not None:
            await _send_whole(send, early, auth=auth, faults=self.faults)
            return
        await self.app(scope, replay, _Rewriter(send, receive, self.faults, auth).send)

    def _early_answer(self, attempt: int, streamed: bool) -> _Answer | None:
        """An answer given instead of the app's: (status, headers, body, media type)."""
        limited = self._rate_limited(attempt)
        if limited is not None:
            return limited
        if "server-errors" in self.faults and attempt <= SERVER_ERROR_ATTEMPTS:
            overloaded = _error(
                "The server is overloaded. Please retry.", "server_overloaded", "server_error"
            )
            return 503, [], overloaded, "application/json"
        if "gateway-html" in self.faults and streamed:
            return 502, [], GATEWAY_PAGE, "text/html"
        if "error-body-200" in self.faults and not streamed:
            return 200, [], _error(OVERLOADED, "overloaded", "server_error"), "application/json"
        return None

    def _rate_limited(self, attempt: int) -> _Answer | None:
        faults = self.faults
        body = _error(
            "Rate limit reached for requests. Please try again later.",
            "rate_limit_exceeded",
            "requests",
        )
        headers: list[tuple[str, str]] | None = None
        if "rate-limit-always" in faults:
            headers = [("retry-after", "0")]
        elif attempt > 1:
            return None
        elif "rate-limit" in faults:
            headers = [("retry-after", "1")]
        elif "rate-limit-date" in faults:
            # An HTTP date has one-second resolution: "the next whole second".
            headers = [("retry-after", formatdate(int(time.time()) + 1, usegmt=True))]
        elif "rate-limit-reset" in faults:
            headers = [
                ("x-ratelimit-limit-requests", "60"),
                ("x-ratelimit-remaining-requests", "0"),
                ("x-ratelimit-reset-requests", "50ms"),
                ("x-ratelimit-remaining-tokens", "10000"),
                ("x-ratelimit-reset-tokens", "6m0s"),
            ]
        return None if headers is None else (429, headers, body, "application/json")


class _Rewriter:
    """Wraps ``send``: applies the faults that change an answer the app produced."""

    def __init__(self, send: Send, receive: Receive, faults: frozenset[str], auth: str) -> None:
        self._send = send
        self._receive = receive
        self.faults = faults
        self.auth = auth
        self.start: Message | None = None
        self.streamed = False
        self.events = 0
        self.buffer = bytearray()  # a non-streamed body, rewritten whole at its end
        self.utf8_done = False
        self.took_over = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = dict(message)
            headers = _headers_of(message)
            self.streamed = headers.get("content-type", "").startswith("text/event-stream")
            if self.streamed:
                await self._send(self._with_echo(self.start, drop_length=False))
                if "echo-auth" in self.faults and self.auth:
                    comment = f": echo Authorization: {self.auth}\n\n".encode("latin-1")
                    await self._send_body(comment, more=True)
            return
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        chunk = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if self.streamed:
            await self._stream_piece(chunk, more)
            return
        self.buffer += chunk
        if not more:
            await self._finish_whole()

    async def _stream_piece(self, chunk: bytes, more: bool) -> None:
        faults = self.faults
        if self.took_over:
            return  # a fault has the stream now; the app's later events are dropped
        if chunk:
            self.events += chunk.count(b"\n\n")
            if "invalid-utf8" in faults and not self.utf8_done:
                chunk, self.utf8_done = _break_utf8(chunk)
            if "echo-auth" in faults and self.auth and b'"content":"' in chunk:
                chunk = chunk.replace(b'"content":"', _echo_prefix(self.auth), 1)
        taking = faults & _STREAM_FAULTS
        if not taking or self.events < STREAM_EVENTS_BEFORE_FAULT:
            await self._send_body(chunk, more=more)
            return
        self.took_over = True
        await self._send_body(chunk, more=True)
        if "reset-mid-stream" in taking:
            raise DeliberateReset("reset-mid-stream: the connection is cut on purpose")
        if "stall-mid-stream" in taking:
            await _until_disconnect(self._receive, STALL_LIMIT_S)
            return
        if "error-event-mid-stream" in taking:  # as vLLM and OpenRouter do when overloaded
            error = b"data: " + _error(OVERLOADED, "overloaded", "server_error") + b"\n\n"
            await self._send_body(error + b"data: [DONE]\n\n", more=False)
            return
        await self._endless(chunk)

    async def _endless(self, sample: bytes) -> None:
        """Repeat a content chunk until the client goes away (bounded by ENDLESS_LIMIT_S)."""
        piece = sample if sample.startswith(b"data: {") else b'data: {"choices":[]}\n\n'
        gone = asyncio.ensure_future(_until_disconnect(self._receive, ENDLESS_LIMIT_S))
        try:
            while not gone.done():
                await self._send_body(piece, more=True)
                await asyncio.sleep(0.002)
        except OSError:
            return  # the client went away while we wrote
        finally:
            gone.cancel()

    async def _finish_whole(self) -> None:
        assert self.start is not None  # noqa: S101 - ASGI sends the start first
        body = bytes(self.buffer)
        faults = self.faults
        if "invalid-utf8" in faults:
            body, _ = _break_utf8(body)
        if "huge-body" in faults and b'"content":"' in body:
            padding = b"x" * HUGE_BODY_BYTES
            body = body.replace(b'"content":"', b'"content":"' + padding, 1)
        if "echo-auth" in faults and self.auth:
            body = _echo_in_json(body, self.auth)
        start = self._with_echo(self.start, drop_length=True)
        start["headers"] = [*start["headers"], (b"content-length", str(len(body)).encode())]
        await self._send(start)
        await self._send_body(body, more=False)

    def _with_echo(self, start: Message, *, drop_length: bool) -> Message:
        dropped = b"content-length" if drop_length else None
        headers = [(k, v) for k, v in start.get("headers", []) if k != dropped]
        if "echo-auth" in self.faults and self.auth:
            headers.append((b"x-echo-authorization", self.auth.encode("latin-1")))
        return {**start, "headers": headers}

    async def _send_body(self, body: bytes, *, more: bool) -> None:
        await self._send({"type": "http.response.body", "body": body, "more_body": more})


async def _send_whole(send: Send, answer: _Answer, *, auth: str, faults: frozenset[str]) -> None:
    status, extra, content, media = answer
    if "echo-auth" in faults and auth:
        content = _echo_in_json(content, auth)
        extra = [*extra, ("x-echo-authorization", auth)]
    headers = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(content)).encode()),
        *((k.encode(), v.encode("latin-1")) for k, v in extra),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content, "more_body": False})


def _error(message: str, code: str, kind: str) -> bytes:
    return json.dumps(error_body(message, kind=kind, code=code)).encode()


def _echo_prefix(auth: str) -> bytes:
    return b'"content":"' + json.dumps(f"[you sent {auth}] ")[1:-1].encode()


def _echo_in_json(body: bytes, auth: str) -> bytes:
    """Put the Authorization header into an error's message or a reply's content."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return body
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error = data["error"]
        error["message"] = f"{error.get('message', '')} (Authorization was: {auth})"
    elif isinstance(data, dict) and isinstance(data.get("choices"), list):
        for choice in data["choices"]:
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                message["content"] = f"[you sent {auth}] {message['content']}"
    elif isinstance(data, dict) and isinstance(data.get("detail"), list):
        data["detail"].append({"loc": ["header"], "msg": f"you sent {auth}", "type": "echo"})
    return json.dumps(data).encode()


def _break_utf8(body: bytes) -> tuple[bytes, bool]:
    """Put a byte that is never UTF-8 (0xFF) at the start of the first non-empty content."""
    marker = b'"content":"'
    at = body.find(marker)
    while at != -1 and body[at + len(marker) : at + len(marker) + 1] == b'"':
        at = body.find(marker, at + 1)
    if at == -1:
        return body, False
    cut = at + len(marker)
    return body[:cut] + b"\xff" + body[cut:], True


def _wants_stream(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # a request nested too deep: not a stream request
        return False
    return isinstance(data, dict) and data.get("stream") is True


def _headers_of(message: Message | Scope) -> dict[str, str]:
    """A request's (scope) or response's (start message) headers, names in lower case."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}


async def _read_body(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body already read, then the real messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def _until_disconnect(receive: Receive, limit: float) -> None:
    """Wait until the client disconnects (or ``limit`` seconds pass)."""
    try:
        async with asyncio.timeout(limit):
            while (await receive())["type"] != "http.disconnect":
                pass
    except TimeoutError:
        return
