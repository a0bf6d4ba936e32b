"""The HTTP layer: send one chat-completions request, record everything that comes back.

``ChatClient.chat`` never raises for anything the endpoint does. A refused connection, a
timeout, a stalled stream or an oversized body becomes ``Exchange.error`` (one line, no secret),
and whatever arrived before it (status, headers, events) is kept as evidence. Everything
recorded passes through a :class:`Redactor` built from the API key.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from conformance._errors import ConfigError
from conformance._exchange import Exchange, RecordedRequest
from conformance._ratelimit import RateLimiter
from conformance._redact import Redactor
from conformance._retry import RETRY_STATUSES, Attempt, RetryPolicy, status_reason, with_retries
from conformance._sse import UNTERMINATED, SSEDecoder
from conformance._version import __version__

AuthMode = Literal["default", "none", "invalid"]
# Sent for auth="invalid": plainly made up, so no real account can match it.
INVALID_KEY = "sk-conformance-invalid-key-000000000000000000000000"
USER_AGENT = f"conformance/{__version__}"
EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait. ``read`` bounds the response headers, each read of a non-stream body
    and the first piece of a stream; ``idle`` each later silence in a stream; ``total`` all."""

    connect: float = 10.0
    read: float = 60.0
    idle: float = 30.0
    total: float = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "read", "idle", "total"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(
                    f"the {name} timeout {value!r} must be a positive number of seconds; "
                    f"for example {getattr(Timeouts, name)}."
                )


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests. ``base_url`` ends before ``/chat/completions``."""

    base_url: str  # e.g. "https://host/v1", the ecosystem's convention
    api_key: str | None = field(default=None, repr=False)
    model: str = ""
    timeouts: Timeouts = Timeouts()
    verify_tls: bool = True

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--base-url {self.base_url!r} is not an http(s) URL with a host. Pass the "
                "endpoint's base URL, for example --base-url https://api.example.com/v1."
            )
        if self.api_key is not None and not _header_safe(self.api_key):
            # The key itself is never shown.
            raise ConfigError(
                "--api-key contains a character that cannot be sent in an HTTP header "
                "(a space, a line break, a quote or a non-ASCII character?); pass the key "
                "exactly as issued, without surrounding whitespace."
            )

    def chat_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"


ACCEPT_ENCODING = "gzip, deflate"  # what _BodyDecoder undoes


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value and '"' not in value


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class ChatClient:
    """An async client for one endpoint; use ``async with``. Safe for concurrent ``chat``."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_body_bytes: int = 10 * 1024 * 1024,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        admit: Callable[[], str | None] | None = None,
    ) -> None:
        """``retry``: when to send again (None: never); ``limiter``: waited on before each
        attempt; ``admit``: asked before each attempt, returns why it may not be sent."""
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes={max_body_bytes} must be at least 1")
        self.endpoint = endpoint
        self.max_body_bytes = max_body_bytes
        self.retry = retry
        self.limiter = limiter
        self.admit = admit
        self.requests_sent = 0
        self._redact = Redactor([endpoint.api_key])
        t = endpoint.timeouts
        self._timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.read, pool=None)
        # In a stream, ``idle`` (enforced here) governs; httpx's per-read limit only backs it up.
        self._stream_timeout = httpx.Timeout(
            connect=t.connect, read=max(t.read, t.idle), write=t.read, pool=None
        )
        self._http = httpx.AsyncClient(
            transport=transport,
            verify=endpoint.verify_tls,
            timeout=self._timeout,
            follow_redirects=False,
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def chat(
        self,
        exchange_id: str,
        body: object,
        *,
        auth: AuthMode = "default",
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Exchange:
        """POST ``body`` (or the raw ``content``) to the chat URL and record the exchange.

        With a retry policy, a 429, 502, 503 or 504 (or a connection dropped before any
        response) is sent again after the wait the endpoint asked for; the exchange is the
        last attempt's, with ``attempts`` and ``retries`` saying what came before.
        """
        previous: Exchange | None = None
        refused: str | None = None
        sent = 0

        async def attempt() -> Attempt[Exchange]:
            nonlocal previous, refused, sent
            reason = self.admit() if self.admit is not None else None
            if reason is not None:
                refused = reason
                if previous is not None:
                    return Attempt(previous)  # the retry is not sent: keep what we have
                return Attempt(
                    self._not_sent(
                        exchange_id, body, content, auth, headers, reason=reason, params=params
                    )
                )
            if self.limiter is not None:
                await self.limiter.acquire()
            sent += 1
            exchange, because = await self._once(
                exchange_id, body, auth, content, headers, params=params
            )
            previous = exchange
            return Attempt(exchange, because, exchange.headers if because else None)

        if self.retry is None or self.retry.retries == 0:
            return (await attempt()).result
        last, notes, gave_up = await with_retries(self.retry, attempt)
        exchange = last.result
        notes = notes[: max(0, sent - 1)]  # a wait was planned before the stop: not waited
        exchange.attempts = sent
        exchange.retries = [
            f"attempt {n.attempt}: {n.because}; waited {n.waited_s:.2f}s"
            + (f" as told ({n.told})" if n.told else " (backoff)")
            for n in notes
        ]
        if gave_up is not None:
            exchange.retries.append(f"not retried: {gave_up}")
        elif refused is not None and sent:
            exchange.retries.append(f"retry not sent: {refused}")
        return exchange

    def _not_sent(
        self,
        exchange_id: str,
        body: object,
        content: bytes | None,
        auth: AuthMode,
        headers: Mapping[str, str] | None,
        *,
        reason: str,
        params: Mapping[str, str] | None = None,
    ) -> Exchange:
        exchange, _ = self._record(exchange_id, body, content, auth, headers, params=params)
        exchange.error = f"not sent: {reason}"
        exchange.attempts = 0
        return exchange

    def _record(
        self,
        exchange_id: str,
        body: object,
        content: bytes | None,
        auth: AuthMode,
        headers: Mapping[str, str] | None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> tuple[Exchange, httpx.Request]:
        wants_stream = isinstance(body, dict) and bool(body.get("stream"))
        payload = content if content is not None else json.dumps(body).encode("utf-8")
        request = self._http.build_request(
            "POST",
            self.endpoint.chat_url(),
            params=params or None,
            content=payload,
            headers=self._headers(auth, wants_stream, headers),
            timeout=self._stream_timeout if wants_stream else self._timeout,
        )
        recorded_body: Any = (
            self._redact.json(body)
            if content is None
            else self._redact.text(content.decode("utf-8", errors="replace"))
        )
        exchange = Exchange(
            id=exchange_id,
            request=RecordedRequest(
                method=request.method,
                url=self._redact.text(str(request.url)),
                headers=self._redact.headers(request.headers),
                body=recorded_body,
            ),
        )
        return exchange, request

    async def _once(
        self,
        exchange_id: str,
        body: object,
        auth: AuthMode,
        content: bytes | None,
        headers: Mapping[str, str] | None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> tuple[Exchange, str | None]:
        """One attempt: the exchange, and why it is worth retrying (None: it is not)."""
        exchange, request = self._record(exchange_id, body, content, auth, headers, params=params)
        reader = _Reader(self, exchange)
        started = time.perf_counter()
        total = self.endpoint.timeouts.total
        try:
            async with asyncio.timeout(total) as deadline:
                await reader.run(request)
        except TimeoutError:
            if not deadline.expired():
                raise
            what = "stream" if exchange.streamed else "request"
            reader.fail(f"{what} exceeded the total timeout of {total:g}s")
        finally:
            exchange.elapsed_s = time.perf_counter() - started
        reader.finish()
        because: str | None = None
        if exchange.error is None and exchange.status in RETRY_STATUSES:
            because = status_reason(exchange.status)
            if "html" in exchange.content_type:
                because += " (an HTML error page)"
        elif reader.retryable:
            because = exchange.error
        return exchange, because

    def _headers(
        self, auth: AuthMode, wants_stream: bool, extra: Mapping[str, str] | None
    ) -> httpx.Headers:
        headers = httpx.Headers(
            {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "Accept": f"{EVENT_STREAM}, application/json"
                if wants_stream
                else "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            }
        )
        key = {"default": self.endpoint.api_key, "none": None, "invalid": INVALID_KEY}[auth]
        if key:
            headers["Authorization"] = f"Bearer {key}"
        for name, value in (extra or {}).items():
            headers[name] = value
        return headers


class _BodyDecoder:
    """Undoes the Content-Encoding we asked for (``ACCEPT_ENCODING``), piece by piece.

    A body that does not decode as declared is kept as received from that point, and
    ``problem`` says why: the checks judge what came (often plain bytes mislabelled gzip)
    and ``gzip_decoded`` reports the label, instead of the exchange being lost.
    """

    def __init__(self, declared: str) -> None:
        self.declared = declared.strip().lower()
        self.problem: str | None = None
        self._zlib: Any = None
        if self.declared in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        elif self.declared not in ("", "identity"):
            self.problem = (
                f"Content-Encoding {declared!r} was not asked for "
                f"(Accept-Encoding: {ACCEPT_ENCODING}); the body is kept as received"
            )

    async def decode(self, pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for piece in pieces:
            if self._zlib is None:
                yield piece
                continue
            try:
                yield self._zlib.decompress(piece)
            except zlib.error as exc:
                self.problem = (
                    f"the body declared Content-Encoding: {self.declared} but is not "
                    f"{self.declared} data ({exc}); the rest is kept as received"
                )
                self._zlib = None
                yield piece

    def close(self) -> None:
        """The body ended: a compressed stream must have ended too."""
        if self._zlib is not None and not self._zlib.eof:
            self.problem = (
                f"the body declared Content-Encoding: {self.declared} but its "
                f"{self.declared} data ended before the end of the compressed stream"
            )


class _Reader:
    """Fills one exchange from one response, and knows where it stopped."""

    def __init__(self, client: ChatClient, exchange: Exchange) -> None:
        self.client = client
        self.exchange = exchange
        self.timeouts = client.endpoint.timeouts
        self.cap = client.max_body_bytes
        self.received: list[bytes] = []
        self.size = 0  # bytes received (only up to just past the cap are kept)
        self.decoder: SSEDecoder | None = None
        self.ended = False  # the body was read to its end
        self.first = True  # no body data has arrived yet
        self.error: str | None = None
        self.retryable = False  # the connection dropped before any response: send again

    def fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    async def run(self, request: httpx.Request) -> None:
        self.client.requests_sent += 1
        try:
            response = await self.client._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            self.fail(self._describe(exc, request, before_response=True))
            # A kept-alive connection the server had closed, or a proxy dropping us: worth
            # another try. Refused, unresolvable, TLS and timeouts are not (they repeat).
            self.retryable = isinstance(
                exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
            )
            return
        try:
            self.exchange.status = response.status_code
            self.exchange.headers = self.client._redact.headers(response.headers)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind == EVENT_STREAM:
                self.exchange.streamed = True
                self.decoder = SSEDecoder()
            decoder = _BodyDecoder(response.headers.get("content-encoding", ""))
            if response.is_stream_consumed:  # built whole (a test transport): httpx decoded it
                decoder = _BodyDecoder("")
                await self._read(response.aiter_bytes())
            else:
                await self._read(decoder.decode(response.aiter_raw()))
            if self.ended:
                decoder.close()
            self.exchange.decoding = decoder.problem
        except httpx.HTTPError as exc:
            self.fail(self._describe(exc, request, before_response=False))
        finally:
            await response.aclose()

    async def _read(self, pieces: AsyncIterator[bytes]) -> None:
        try:
            while True:
                idle = self.decoder is not None and not self.first
                wait = self.timeouts.idle if idle else self.timeouts.read
                try:
                    async with asyncio.timeout(wait):
                        piece = await anext(pieces, None)
                except TimeoutError:
                    self.fail(self._silence(wait))
                    return
                if piece is None:
                    self.ended = True
                    return
                self.first = False
                if not self._take(piece):
                    self.fail(f"body exceeded {self.cap} bytes; stopped reading")
                    return
        finally:
            if isinstance(pieces, AsyncGenerator):
                await pieces.aclose()

    def _take(self, piece: bytes) -> bool:
        """Keep ``piece``; False once the body is over the cap (the excess is not decoded)."""
        room = self.cap - self.size
        self.size += len(piece)
        self.received.append(piece)
        if self.decoder is not None:
            events = self.decoder.feed(piece[: max(room, 0)])
            self.exchange.events.extend(events)
        return self.size <= self.cap

    def _silence(self, waited: float) -> str:
        if self.decoder is not None and not self.first:
            count = len(self.exchange.events)
            return f"stream stalled: no data for {waited:g}s after {_plural(count, 'event')}"
        if self.first:
            return f"read timeout: no body data within {waited:g}s after the response headers"
        return (
            f"read timeout: no data for {waited:g}s while reading the body "
            f"({_plural(self.size, 'byte')} received)"
        )

    def _describe(
        self, exc: httpx.HTTPError, request: httpx.Request, *, before_response: bool
    ) -> str:
        url = request.url
        where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
        if isinstance(exc, httpx.TimeoutException):
            return self._timed_out(exc, request, where, before_response=before_response)
        phase = "before a response" if before_response else "while the body was being read"
        if isinstance(exc, httpx.ConnectError):
            message = _connect_failure(exc, where)
        elif isinstance(exc, httpx.DecodingError):
            encoding = self.exchange.headers.get("content-encoding", "?")
            message = f"the body could not be decoded (Content-Encoding: {encoding}): {exc}"
        elif isinstance(exc, httpx.RemoteProtocolError):
            message = f"the server broke the HTTP exchange {phase}: {exc}"
        elif isinstance(exc, httpx.ReadError | httpx.WriteError):
            message = f"the connection failed {phase}: {exc or type(exc).__name__}"
        else:
            message = f"{type(exc).__name__} {phase}: {exc}"
        return message

    def _timed_out(
        self,
        exc: httpx.TimeoutException,
        request: httpx.Request,
        where: str,
        *,
        before_response: bool,
    ) -> str:
        t = self.timeouts
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timeout: no connection to {where} within {t.connect:g}s"
        if isinstance(exc, httpx.WriteTimeout):
            return f"write timeout: the request could not be sent within {t.read:g}s"
        # httpx's own per-read limit for this request (``idle`` governs streams, see above).
        limit = float(request.extensions.get("timeout", {}).get("read") or t.read)
        if before_response:
            return f"read timeout: no response within {limit:g}s"
        return self._silence(limit)

    def finish(self) -> None:
        """Move what was received into the exchange, redacted."""
        exchange = self.exchange
        redact = self.client._redact
        body = b"".join(self.received)
        exchange.body = redact.cut_bytes(body, self.cap)
        exchange.body_truncated = len(body) > self.cap
        if self.decoder is not None:
            self.decoder.close()
            problems = self.decoder.problems
            if not self.ended:  # we stopped reading: the last event was cut by us, not them
                problems = [p for p in problems if p.title != UNTERMINATED]
            exchange.framing = [
                replace(p, title=redact.text(p.title), detail=redact.text(p.detail))
                for p in problems
            ]
            if redact:
                exchange.events = [
                    replace(
                        e,
                        data=redact.text(e.data),
                        event=redact.text(e.event),
                        id=redact.text(e.id),
                        raw=redact.text(e.raw),
                    )
                    for e in exchange.events
                ]
        if self.error is not None:
            exchange.error = redact.text(self.error)


def _connect_failure(exc: httpx.ConnectError, where: str) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {where} (is the server running and is --base-url right?)"
        if isinstance(cause, socket.gaierror):
            host = where.rsplit(":", 1)[0]
            return f"could not resolve the host {host!r} (check --base-url): {cause.strerror}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate of {where} could not be verified: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {where} failed: {getattr(cause, 'reason', None) or cause}"
        cause = cause.__cause__ or cause.__context__
    return f"could not connect to {where}: {exc}"
