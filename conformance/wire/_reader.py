"""Reading one response into its exchange: status, headers, body or stream events, and where
and why the reading stopped (a timeout, a silence, the size cap, a broken connection)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING

import httpx

from conformance.wire._decoding import BodyDecoder
from conformance.wire._exchange import Exchange
from conformance.wire._redact import Redactor
from conformance.wire._sse import UNTERMINATED, SSEDecoder

if TYPE_CHECKING:
    from conformance.wire._timeouts import Timeouts

EVENT_STREAM = "text/event-stream"
# Events kept per stream: probes ask for at most 128 tokens (a few hundred events even with
# n and logprobs); a stream of millions of tiny events must not fill memory, and the byte
# cap alone does not bound them (8 bytes an event, ~1 KB each once parsed and judged).
MAX_EVENTS = 1_000
OVER_CAP_KEPT = 8 * 1024  # bytes of a body over the cap kept as evidence of what it was


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class Reader:
    """Fills one exchange from one response, and knows where it stopped."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        redact: Redactor,
        exchange: Exchange,
        *,
        timeouts: Timeouts,
        cap: int,
    ) -> None:
        """``redact`` cleans what is recorded; ``cap``: the bytes of body kept and decoded."""
        self.http = http
        self.redact = redact
        self.exchange = exchange
        self.timeouts = timeouts
        self.cap = cap
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
        try:
            response = await self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            self.fail(self._describe(exc, request, before_response=True))
            # A kept-alive connection the server had closed, or a proxy dropping us: worth
            # another try. Refused, unresolvable, TLS and timeouts are not (they repeat).
            self.retryable = isinstance(
                exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
            )
            return
        self.exchange.timing.mark_headers()
        try:
            self.exchange.status = response.status_code
            self.exchange.headers = self.redact.headers(response.headers)
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind == EVENT_STREAM:
                self.exchange.streamed = True
                self.decoder = SSEDecoder()
            decoder = BodyDecoder(response.headers.get("content-encoding", ""))
            if response.is_stream_consumed:  # built whole (a test transport): httpx decoded it
                decoder = BodyDecoder("")
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
                if len(self.exchange.events) > MAX_EVENTS:
                    del self.exchange.events[MAX_EVENTS:]
                    self.fail(f"stream exceeded {MAX_EVENTS} events; stopped reading")
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
            self.exchange.timing.mark_events(len(events))
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
        redact = self.redact
        body = b"".join(self.received)
        # Over the cap the exchange is an ERROR, never judged: keep only a glimpse as evidence.
        kept = self.cap if self.size <= self.cap else min(self.cap, OVER_CAP_KEPT)
        exchange.body = redact.cut_bytes(body, kept)
        exchange.body_truncated = len(body) > kept
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


# What OpenSSL says when the other end answers a ClientHello with plain text (an HTTP
# server's "400 Bad Request"): the record is no TLS record.
PLAIN_HTTP_REASONS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "RECORD_LAYER_FAILURE"}


def _connect_failure(exc: httpx.ConnectError, where: str) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {where}"
        if isinstance(cause, socket.gaierror):
            host = where.rsplit(":", 1)[0]
            return f"could not resolve the host {host!r} (check --base-url): {cause.strerror}"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate of {where} could not be verified: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            reason = getattr(cause, "reason", None) or cause
            if reason in PLAIN_HTTP_REASONS:
                return (
                    f"{where} answered the TLS handshake in plain HTTP: the server speaks "
                    f"http://, not https:// (TLS handshake failed: {reason})"
                )
            return f"TLS handshake with {where} failed: {reason}"
        cause = cause.__cause__ or cause.__context__
    return f"could not connect to {where}: {exc}"
