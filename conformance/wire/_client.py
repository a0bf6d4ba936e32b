"""The HTTP layer: send one chat-completions request, record everything that comes back.

``ChatClient.chat`` never raises for anything the endpoint does. A refused connection, a
timeout, a stalled stream or an oversized body becomes ``Exchange.error`` (one line, no secret),
and whatever arrived before it (status, headers, events) is kept as evidence. Everything
recorded passes through a :class:`Redactor` built from the API key.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from conformance._errors import ConfigError
from conformance._version import __version__
from conformance.wire._decoding import ACCEPT_ENCODING
from conformance.wire._exchange import Exchange, RecordedRequest
from conformance.wire._ratelimit import RateLimiter
from conformance.wire._reader import EVENT_STREAM, Reader
from conformance.wire._redact import Redactor
from conformance.wire._retry import (
    NOT_RETRIED,
    RETRY_STATUSES,
    Attempt,
    RetryPolicy,
    status_reason,
    with_retries,
)
from conformance.wire._timeouts import Timeouts

__all__ = [
    "ACCEPT_ENCODING",
    "INVALID_KEY",
    "MAX_BODY_BYTES",
    "USER_AGENT",
    "AuthMode",
    "ChatClient",
    "Endpoint",
    "Timeouts",
]

AuthMode = Literal["default", "none", "invalid"]
# Sent for auth="invalid": plainly made up, so no real account can match it.
INVALID_KEY = "sk-conformance-invalid-key-000000000000000000000000"
USER_AGENT = f"conformance/{__version__}"
# The most of one answer read: an answer to these probes (at most 128 tokens, n <= 2, top
# logprobs included) is a few KB to a few hundred; past 4 MiB the endpoint is misbehaving,
# and keeping more would let it fill the memory of a run (51 bodies of 8 MB took 700 MB).
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Endpoint:
    """Where to send requests. ``base_url`` ends before ``/chat/completions``."""

    base_url: str  # e.g. "https://host/v1", the ecosystem's convention
    api_key: str | None = field(default=None, repr=False)
    model: str = ""
    timeouts: Timeouts = field(default_factory=Timeouts)
    verify_tls: bool = True
    headers: tuple[tuple[str, str], ...] = ()  # sent with every request (--header)

    def __post_init__(self) -> None:
        check_base_url(self.base_url)
        if self.api_key is not None and not _header_safe(self.api_key):
            # The key itself is never shown.
            raise ConfigError(
                "--api-key contains a character that cannot be sent in an HTTP header "
                "(a space, a line break, a quote or a non-ASCII character?); pass the key "
                "exactly as issued, without surrounding whitespace."
            )

    def chat_url(self) -> str:
        """The base URL's path plus ``/chat/completions``; its query (``?api-version=...``,
        as Azure OpenAI needs) is kept on every request, its fragment is never sent."""
        parts = urlsplit(self.base_url)
        path = parts.path.rstrip("/") + "/chat/completions"
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


EXAMPLE_URL = "for example --base-url https://api.example.com/v1"


def check_base_url(url: str) -> None:
    """``ConfigError`` naming the option, the value and the fix for a URL nothing can use
    (the one check of a base URL: settings, the plugin and ``Endpoint`` all come here)."""
    bad = next((i for i, c in enumerate(url) if not c.isprintable()), None)
    if bad is not None:
        raise ConfigError(
            f"--base-url {url!r} contains {url[bad]!r} at position {bad}: a URL holds no "
            f"control characters. Pass the endpoint's base URL, {EXAMPLE_URL}."
        )
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(
            f"--base-url {url!r} is not a valid URL ({exc}). Pass the endpoint's base URL, "
            f"{EXAMPLE_URL}; an IPv6 host goes in brackets: http://[::1]:8000/v1."
        ) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--base-url {url!r} is not an http(s) URL with a host. Pass the "
            f"endpoint's base URL, {EXAMPLE_URL}."
        )
    if port == 0:
        raise ConfigError(
            f"--base-url {url!r} has port 0; pass the port the endpoint listens on "
            "(1-65535), or none for the scheme's default."
        )


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value and '"' not in value


class ChatClient:
    """An async client for one endpoint; use ``async with``. Safe for concurrent ``chat``."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        admit: Callable[[], str | None] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``retry``: when to send again (None: never); ``limiter``: waited on before each
        attempt; ``admit``: asked before each attempt, returns why it may not be sent;
        ``clock``: stamps each exchange's ``timing`` (latency figures)."""
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes={max_body_bytes} must be at least 1")
        self.endpoint = endpoint
        self.max_body_bytes = max_body_bytes
        self.retry = retry
        self.limiter = limiter
        self.admit = admit
        self.clock = clock
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
                exchange, _ = self._record(exchange_id, body, content, auth, headers, params=params)
                exchange.error = f"not sent: {reason}"
                exchange.attempts = 0
                return Attempt(exchange)
            if self.limiter is not None:
                await self.limiter.acquire()
            sent += 1
            exchange, because = await self._once(
                *self._record(exchange_id, body, content, auth, headers, params=params)
            )
            previous = exchange
            return Attempt(exchange, because, exchange.headers if because else None)

        if self.retry is None or self.retry.retries == 0:
            return (await attempt()).result
        last, notes, gave_up = await with_retries(self.retry, attempt)
        exchange = last.result
        notes = notes[: max(0, sent - 1)]  # a wait was planned before the stop: not waited
        exchange.attempts = sent
        exchange.retry_wait_s = sum(n.waited_s for n in notes)
        exchange.retries = [
            f"attempt {n.attempt}: {n.because}; waited {n.waited_s:.2f}s"
            + (f" as told ({n.told})" if n.told else " (backoff)")
            for n in notes
        ]
        if gave_up is not None:
            exchange.retries.append(NOT_RETRIED + gave_up)
        elif refused is not None and sent:
            exchange.retries.append(f"retry not sent: {refused}")
        return exchange

    def _record(
        self,
        exchange_id: str,
        body: object,
        content: bytes | None,
        auth: AuthMode,
        headers: Mapping[str, str] | None,
        *,
        params: Mapping[str, str] | None,
    ) -> tuple[Exchange, httpx.Request]:
        """The request to send, and the exchange that records it (redacted)."""
        wants_stream = isinstance(body, dict) and bool(body.get("stream"))
        payload = content if content is not None else json.dumps(body).encode("utf-8")
        url = httpx.URL(self.endpoint.chat_url())
        if params:  # added to the base URL's own query, which httpx would replace
            url = url.copy_merge_params(params)
        request = self._http.build_request(
            "POST",
            url,
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
        self, exchange: Exchange, request: httpx.Request
    ) -> tuple[Exchange, str | None]:
        """One attempt: the exchange, and why it is worth retrying (None: it is not)."""
        reader = Reader(
            self._http,
            self._redact,
            exchange,
            timeouts=self.endpoint.timeouts,
            cap=self.max_body_bytes,
        )
        self.requests_sent += 1
        started = time.perf_counter()
        exchange.timing.begin(self.clock)
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
        for name, value in (*self.endpoint.headers, *(extra or {}).items()):
            headers[name] = value
        return headers
