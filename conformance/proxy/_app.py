"""The proxy: a plain ASGI app that forwards every request unchanged to the upstream and
streams each answer back as it arrives, keeping a bounded copy for judging.

Nothing is added, removed or reordered between the application and the upstream but the
hop-by-hop headers HTTP requires a proxy to drop; the request is built without httpx's client
defaults (no ``Accept-Encoding`` or ``User-Agent`` of ours), and the answer is forwarded raw
(``aiter_raw``: still compressed when the upstream compressed it), so the application gets
the upstream's bytes. Each piece is forwarded the moment it arrives; judging happens after the
exchange ended, off the event loop (``Judging``). The application's key is forwarded, never
stored: what is recorded is redacted when the exchange is built (``_observe.build``).

An upstream that cannot be reached gets the application a 502 with an OpenAI-style error
body; an upstream or an application that breaks the connection midway ends the exchange,
which is recorded as cut short (inconclusive), and the proxy goes on serving.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.proxy._observe import Recorded, is_chat

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Sink = Callable[[Recorded, str], None]

# RFC 9110 7.6.1: connection-specific headers a proxy must not forward (and Host and
# Content-Length, which the outgoing request sets from its own URL and body).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
    }
)
NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}


def _error_body(message: str) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": "proxy_error", "param": None, "code": None}}
    ).encode("utf-8")


class Proxy:
    """The ASGI app. ``sink(recorded, exchange_id)`` gets each chat-completions exchange once
    it ended (called on the event loop: it must only hand the exchange on); ``other()`` is
    told of every other request forwarded."""

    def __init__(
        self,
        upstream: str,
        sink: Sink,
        *,
        other: Callable[[], None] = lambda: None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(upstream.rstrip("/"))
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path
        self.sink = sink
        self.other = other
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._ids = itertools.count(1)

    def target(self, path: str, query: bytes) -> str:
        """The upstream URL of a request path: the path kept when it already starts with the
        upstream's prefix (``/v1/...`` to ``.../v1``), else appended to it."""
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            url = self.origin + path
        else:
            url = self.origin + self.prefix + path
        return url + ("?" + query.decode("latin-1") if query else "")

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(None, connect=30.0),  # the application sets its own
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=512),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await self._forward(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        body, gone = await _read_body(receive)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope.get("headers", [])
            if k.decode("latin-1").lower() not in NOT_FORWARDED
        ]
        path = str(scope.get("path", "/"))
        url = self.target(path, scope.get("query_string", b""))
        method = str(scope.get("method", "POST"))
        chat = is_chat(method, path)
        recorded = Recorded(
            method=method,
            url=url,
            request_headers=dict(headers),
            request_body=body,
        )
        disconnected = asyncio.Event()
        if gone:
            disconnected.set()
        watcher = asyncio.create_task(_watch(receive, disconnected)) if not gone else None
        try:
            await self._exchange(recorded, headers, send, disconnected, started)
        finally:
            if watcher is not None:
                watcher.cancel()
            recorded.elapsed_s = time.perf_counter() - started
            if chat:
                self.sink(recorded, f"observed-{next(self._ids)}")
            else:
                self.other()

    async def _exchange(
        self,
        recorded: Recorded,
        headers: list[tuple[str, str]],
        send: Send,
        disconnected: asyncio.Event,
        started: float,
    ) -> None:
        request = httpx.Request(
            recorded.method, recorded.url, headers=headers, content=recorded.request_body
        )
        try:
            response = await self.client().send(request, stream=True)
        except httpx.HTTPError as exc:
            recorded.error = f"the upstream could not be reached: {type(exc).__name__}: {exc}"
            message = f"conformance proxy: {recorded.error}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 502,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _error_body(message)})
            return
        try:
            recorded.status = response.status_code
            recorded.headers = {k.lower(): v for k, v in response.headers.items()}
            recorded.headers_s = time.perf_counter() - started
            raw = [
                (k, v)
                for k, v in response.headers.raw
                if k.decode("latin-1").lower() not in HOP_BY_HOP
            ]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": raw}
            )
            # raw: as the upstream sent it (compressed stays compressed); a response built
            # whole (a test transport) has only its content to give
            pieces = response.aiter_bytes() if response.is_stream_consumed else response.aiter_raw()
            async for piece in pieces:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                recorded.take(piece, time.perf_counter() - started)
                if disconnected.is_set():
                    recorded.error = "the application closed the connection before the end"
                    return
            recorded.ended = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except httpx.HTTPError as exc:
            recorded.error = f"the upstream broke the answer midway: {type(exc).__name__}: {exc}"
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request body whole (a request is not a stream), and whether the client left."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(parts), True
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), False


async def _watch(receive: Receive, disconnected: asyncio.Event) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            return
